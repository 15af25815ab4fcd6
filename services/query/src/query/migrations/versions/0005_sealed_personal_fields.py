"""students' names and ID numbers arrive sealed (aid_chassis.fields tokens): stored as they come, as text.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("students", "name", type_=sa.Text(), existing_nullable=False)
    op.alter_column("students", "id_number", type_=sa.Text(), existing_nullable=False)


def downgrade() -> None:  # only while every stored value is still plain
    op.alter_column("students", "id_number", type_=sa.String(18), existing_nullable=False)
    op.alter_column("students", "name", type_=sa.String(50), existing_nullable=False)
