"""consumer offsets instead of an inbox row per event.

reporting's consumer applies whole batches and now keeps its offsets in ``consumer_offsets``;
its inbox rows (but the dead-letter marks) are no longer read.

Revision ID: 0003
Revises: 0002
"""
from alembic import op

from aid_chassis.migrations import create_consumer_offsets

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_consumer_offsets("reporting")


def downgrade() -> None:
    op.drop_table("consumer_offsets")
