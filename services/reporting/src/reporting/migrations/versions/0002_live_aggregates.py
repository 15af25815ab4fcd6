"""live aggregates: per-student state (no personal data) and counters per bucket, kept in the
same transaction as the events that change them. The old per-student progress table goes;
the state is rebuilt from the topics.

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _code(name: str, length: int, primary_key: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(length, collation="C"), nullable=False, primary_key=primary_key)


def _counts(name: str, *keys: sa.Column) -> None:
    op.create_table(name, sa.Column("dimension", sa.String(10), primary_key=True), _code("region", 6, True), *keys,
                    sa.Column("value", sa.BigInteger(), nullable=False))


def upgrade() -> None:
    op.drop_table("student_progress")
    op.execute("DELETE FROM inbox WHERE consumer = 'reporting'")
    op.create_table(
        "students",
        sa.Column("student_key", sa.String(64), primary_key=True),
        _code("school_code", 20), sa.Column("stage", sa.String(20), nullable=False),
        _code("enrolment_region", 6), _code("household_region", 6),
        sa.Column("categories", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("departments", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("poverty_status", sa.String(20)), sa.Column("name_mismatch", sa.Boolean(), nullable=False),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("match_revision", sa.Integer(), nullable=False),
        sa.Column("verified_revision", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Boolean(), nullable=False), sa.Column("status", sa.String(30), nullable=False),
        sa.Column("verified_by", sa.String(100)), sa.Column("approved_by", sa.String(100)),
        sa.Column("verified_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "aid_records",
        sa.Column("list_id", sa.String(40), primary_key=True), sa.Column("student_key", sa.String(64), primary_key=True),
        sa.Column("programme_code", sa.String(60), nullable=False),
        sa.Column("programme_name", sa.String(100), nullable=False),
        sa.Column("period", sa.String(20), nullable=False), sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False), sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("paid_on", sa.Date()), sa.Column("failure_code", sa.String(20)),
    )
    op.create_index("ix_aid_records_student_key", "aid_records", ["student_key"])
    op.create_table(
        "unfunded_reasons",
        sa.Column("student_key", sa.String(64), primary_key=True), sa.Column("period", sa.String(20), primary_key=True),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table("programmes", sa.Column("programme_code", sa.String(60), primary_key=True),
                    sa.Column("programme_name", sa.String(100), nullable=False))
    school = lambda: _code("school_code", 20, True)  # noqa: E731
    _counts("progress_counts", school(), sa.Column("category", sa.String(30), primary_key=True),
            sa.Column("stage", sa.String(20), primary_key=True), sa.Column("metric", sa.String(30), primary_key=True))
    _counts("funding_counts", school(), sa.Column("programme_code", sa.String(60), primary_key=True),
            sa.Column("period", sa.String(20), primary_key=True), sa.Column("metric", sa.String(30), primary_key=True))
    _counts("unfunded_counts", school(), sa.Column("period", sa.String(20), primary_key=True),
            sa.Column("reason", sa.String(40), primary_key=True))
    _counts("daily_counts", sa.Column("day", sa.Date(), primary_key=True),
            sa.Column("metric", sa.String(30), primary_key=True))


def downgrade() -> None:
    raise NotImplementedError("the state is rebuilt from the topics, not converted back")
