"""school names (机构) from identity-matching's institution-changed events.

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schools",
        sa.Column("code", sa.String(20, collation="C"), primary_key=True),
        sa.Column("stage", sa.String(20), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False), sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("schools")
