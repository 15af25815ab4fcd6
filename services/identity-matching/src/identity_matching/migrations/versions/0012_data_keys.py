"""students' data keys (aid_chassis.datakeys): 4,096 buckets, each sealed under the field-key ring;
the authority the topic aid.student-keys.v1 is published from.

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_keys",
        sa.Column("bucket", sa.SmallInteger, primary_key=True),
        sa.Column("students", sa.Integer, nullable=False),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("data_keys")
