"""whose student: the school and county that may register a student's bank card, kept from
approvals (``verified``) and lists (``published``); filled from the payments already here.

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "student_schools",
        sa.Column("student_key", sa.String(64), primary_key=True),
        sa.Column("school_code", sa.String(20), nullable=False),
        sa.Column("enrolment_region", sa.String(6), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
    )
    op.execute("INSERT INTO student_schools (student_key, school_code, enrolment_region) "
               "SELECT DISTINCT ON (student_key) student_key, student->>'school_code', region FROM payments "
               "ORDER BY student_key, created_at DESC")


def downgrade() -> None:
    op.drop_table("student_schools")
