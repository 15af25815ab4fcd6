"""a bank file's lines keep the student's name and ID number sealed, as the events brought them
(aid_chassis.fields tokens; opened only while the file is written).

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa

from aid_chassis.migrations import personal_columns_as_plain, personal_columns_as_text

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None
PLAIN = {"name": sa.String(100), "id_number": sa.String(18)}


def upgrade() -> None:
    personal_columns_as_text("payment_batch_lines", PLAIN)


def downgrade() -> None:
    personal_columns_as_plain("payment_batch_lines", PLAIN)
