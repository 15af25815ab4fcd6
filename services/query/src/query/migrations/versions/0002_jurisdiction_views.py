"""read models for the jurisdiction views: students with categories, origin and verification;
aid records with programme codes and failed payments; unfunded reasons; query's audit log.

The read models are rebuilt from the topics (``aidctl rebuild query``), so the old tables are
replaced rather than converted.

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from aid_chassis.audit import create_audit_log

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _code(name: str, length: int) -> sa.Column:
    return sa.Column(name, sa.String(length, collation="C"), nullable=False)


def upgrade() -> None:
    for table in ("aid_records", "students", "timeline"):
        op.drop_table(table)
    op.execute("DELETE FROM inbox WHERE consumer = 'query'")
    op.create_table(
        "students",
        sa.Column("student_key", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("id_number", sa.String(18), nullable=False),
        _code("school_code", 20), sa.Column("stage", sa.String(20), nullable=False),
        _code("enrolment_region", 6), _code("household_region", 6),
        sa.Column("categories", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("departments", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("poverty_status", sa.String(20)),
        sa.Column("name_mismatch", sa.Boolean(), nullable=False),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("match_revision", sa.Integer(), nullable=False),
        sa.Column("verified_revision", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("verified_by", sa.String(100)), sa.Column("approved_by", sa.String(100)),
        sa.Column("verified_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_students_enrolment", "students", ["enrolment_region", "school_code", "student_key"])
    op.create_index("ix_students_household", "students", ["household_region", "school_code", "student_key"])
    op.create_index("ix_students_school", "students", ["school_code", "student_key"])
    op.create_table(
        "aid_records",
        sa.Column("list_id", sa.String(40), primary_key=True),
        sa.Column("student_key", sa.String(64), primary_key=True),
        sa.Column("programme_code", sa.String(60), nullable=False),
        sa.Column("programme_name", sa.String(100), nullable=False),
        sa.Column("period", sa.String(20), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("paid_on", sa.Date()),
        sa.Column("failure_code", sa.String(20)),
    )
    op.create_index("ix_aid_records_student_key", "aid_records", ["student_key"])
    op.create_table(
        "timeline",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("student_key", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(40), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("summary", postgresql.JSONB(), nullable=False),
    )
    op.create_index("ix_timeline_student_key", "timeline", ["student_key"])
    op.create_table(
        "unfunded_reasons",
        sa.Column("student_key", sa.String(64), primary_key=True),
        sa.Column("period", sa.String(20), primary_key=True),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
    )
    create_audit_log("query_audit_log")


def downgrade() -> None:
    raise NotImplementedError("the read models are rebuilt from the topics, not converted back")
