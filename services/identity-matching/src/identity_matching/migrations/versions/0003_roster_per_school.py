"""The roster keeps a student once per school (repeated students are flagged, not rejected).

Revision ID: 0003
Revises: 0002
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_roster_students_school_code", table_name="roster_students")
    op.drop_constraint("roster_students_pkey", "roster_students", type_="primary")
    op.create_primary_key("roster_students_pkey", "roster_students", ["student_key", "school_code"])


def downgrade() -> None:
    op.drop_constraint("roster_students_pkey", "roster_students", type_="primary")
    op.create_primary_key("roster_students_pkey", "roster_students", ["student_key"])
    op.create_index("ix_roster_students_school_code", "roster_students", ["school_code"])
