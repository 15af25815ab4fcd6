"""a comparison round's packed student-matched events are stored as they are (lz4 already).

Revision ID: 0008
Revises: 0007
"""
from alembic import op

from aid_chassis.migrations import OUTBOX_VALUES_AS_IS, OUTBOX_VALUES_COMPRESSED

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(OUTBOX_VALUES_AS_IS)


def downgrade() -> None:
    op.execute(OUTBOX_VALUES_COMPRESSED)
