"""a bank file's lines keep the student's name and ID number sealed, as the events brought them
(aid_chassis.fields tokens; opened only while the file is written).

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("payment_batch_lines", "name", type_=sa.Text(), existing_nullable=False)
    op.alter_column("payment_batch_lines", "id_number", type_=sa.Text(), existing_nullable=False)


def downgrade() -> None:  # only while every stored value is still plain
    op.alter_column("payment_batch_lines", "id_number", type_=sa.String(18), existing_nullable=False)
    op.alter_column("payment_batch_lines", "name", type_=sa.String(100), existing_nullable=False)
