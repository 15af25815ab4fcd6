"""a reconciled return file's packed paid events are stored as they are (lz4 already).

Revision ID: 0007
Revises: 0006
"""
from alembic import op

from aid_chassis.migrations import OUTBOX_VALUES_AS_IS, OUTBOX_VALUES_COMPRESSED

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(OUTBOX_VALUES_AS_IS)


def downgrade() -> None:
    op.execute(OUTBOX_VALUES_COMPRESSED)
