"""consumer offsets instead of an inbox row per event: the worker applies whole batches (intake.py).

Revision ID: 0004
Revises: 0003
"""
from alembic import op

from aid_chassis.migrations import create_consumer_offsets

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_consumer_offsets("publicity")


def downgrade() -> None:
    op.drop_table("consumer_offsets")
