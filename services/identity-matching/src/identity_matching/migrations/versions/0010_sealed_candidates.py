"""review candidates' ID numbers and accepted corrections are stored sealed (aid_chassis.fields
tokens, longer than the numbers they hold); rejected rows' raw values too (inside their JSON).

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa

from aid_chassis.migrations import personal_columns_as_plain, personal_columns_as_text

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None
PLAIN = {"review_candidates": {"raw_id_number": sa.String(60), "candidate_id_number": sa.String(18)},
         "id_corrections": {"raw_id_number": sa.String(60), "id_number": sa.String(18)}}


def upgrade() -> None:
    for table, columns in PLAIN.items():
        personal_columns_as_text(table, columns)


def downgrade() -> None:
    for table, columns in PLAIN.items():
        personal_columns_as_plain(table, columns)
