"""Department lists pushed on Kafka: records staged per batch until the batch is closed.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_batches",
        sa.Column("batch_id", sa.String(length=80), nullable=False),
        sa.Column("department", sa.String(length=40), nullable=False),
        sa.Column("expected", sa.Integer(), nullable=True),
        sa.Column("completed_as", sa.String(length=40), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("batch_id"),
    )
    op.create_table(
        "feed_records",
        sa.Column("batch_id", sa.String(length=80), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("fields", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("batch_id", "row"),
    )


def downgrade() -> None:
    op.drop_table("feed_records")
    op.drop_table("feed_batches")
