"""a school's pages are read through the jurisdiction indexes: the students' index by school goes.

Both jurisdiction indexes hold (region, school, key); PostgreSQL 18 reads one school's entries
from them with a skip scan over the few regions (about a millisecond for a school of 500 among
150,000 students), while every new student paid for a third secondary index (~0.7 s of the
server's CPU per 150,000 matches, ``bench/projections.py``). A server older than 18 reads the
whole index for it instead (tens of milliseconds at 150,000 students).

Revision ID: 0006
Revises: 0005
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_students_school", table_name="students")


def downgrade() -> None:
    op.create_index("ix_students_school", "students", ["school_code", "student_key"])
