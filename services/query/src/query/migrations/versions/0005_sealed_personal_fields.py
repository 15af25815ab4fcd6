"""students' names and ID numbers arrive sealed (aid_chassis.fields tokens): stored as they come, as text.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa

from aid_chassis.migrations import personal_columns_as_plain, personal_columns_as_text

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None
PLAIN = {"name": sa.String(50), "id_number": sa.String(18)}


def upgrade() -> None:
    personal_columns_as_text("students", PLAIN)


def downgrade() -> None:
    personal_columns_as_plain("students", PLAIN)
