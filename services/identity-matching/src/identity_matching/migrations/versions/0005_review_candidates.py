"""Typo'd ID numbers offered for review, and the corrections accepted.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_candidates",
        sa.Column("candidate_id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("batch_id", sa.String(length=40), nullable=False),
        sa.Column("department", sa.String(length=40), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("raw_id_number", sa.String(length=60), nullable=False),
        sa.Column("candidate_id_number", sa.String(length=18), nullable=False),
        sa.Column("record", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("candidate_id"),
    )
    op.create_index("ix_review_candidates_batch_id", "review_candidates", ["batch_id"])
    op.create_table(
        "id_corrections",
        sa.Column("department", sa.String(length=40), nullable=False),
        sa.Column("raw_id_number", sa.String(length=60), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=False),
        sa.PrimaryKeyConstraint("department", "raw_id_number"),
    )


def downgrade() -> None:
    op.drop_table("id_corrections")
    op.drop_index("ix_review_candidates_batch_id", table_name="review_candidates")
    op.drop_table("review_candidates")
