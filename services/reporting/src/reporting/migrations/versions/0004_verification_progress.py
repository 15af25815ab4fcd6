"""verification's progress: each task's state, task batches' deadlines, each school's part of the
abnormal-record checks, and counters of tasks per batch (for answers before audit and overdue).

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _code(name: str, length: int, primary_key: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(length, collation="C"), nullable=False, primary_key=primary_key)


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("task_id", sa.String(40), primary_key=True), sa.Column("student_key", sa.String(64), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        _code("school_code", 20), sa.Column("stage", sa.String(20), nullable=False),
        _code("enrolment_region", 6), _code("household_region", 6),
        sa.Column("categories", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("batch_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(30), nullable=False), sa.Column("audit_state", sa.String(20), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "deadlines",
        sa.Column("kind", sa.String(20), primary_key=True), sa.Column("batch", sa.String(64), primary_key=True),
        sa.Column("due", sa.Date(), nullable=False), sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "check_schools",
        sa.Column("check_id", sa.String(40), primary_key=True), _code("school_code", 20, True),
        sa.Column("title", sa.String(200), nullable=False), _code("county", 6),
        sa.Column("items", sa.Integer(), nullable=False), sa.Column("answers", postgresql.JSONB(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_check_schools_county", "check_schools", ["county"])
    op.create_table(
        "task_counts",
        sa.Column("dimension", sa.String(10), primary_key=True), _code("region", 6, True),
        _code("school_code", 20, True), sa.Column("category", sa.String(30), primary_key=True),
        sa.Column("stage", sa.String(20), primary_key=True), sa.Column("batch_id", sa.String(64), primary_key=True),
        sa.Column("metric", sa.String(30), primary_key=True), sa.Column("value", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    for name in ("task_counts", "check_schools", "deadlines", "tasks"):
        op.drop_table(name)
