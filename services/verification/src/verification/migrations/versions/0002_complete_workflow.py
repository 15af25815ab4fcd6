"""the complete verification workflow: tasks per student and school, answers with corrections,
submission and audit, supplementary records with proofs, repeated-student checks, deadlines,
unfunded reasons, abnormal-record checks, an audit log

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from aid_chassis.audit import create_audit_log, timestamp

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

def _new_task_columns() -> tuple[sa.Column, ...]:
    return (
        sa.Column("origin", sa.String(20), nullable=False, server_default="matched"),
        sa.Column("batch_id", sa.String(64)),
        sa.Column("stage", sa.String(20), nullable=False, server_default=""),
        sa.Column("review", JSONB, nullable=False, server_default="[]"),
        sa.Column("changes", JSONB, nullable=False, server_default="{}"),
        sa.Column("invalid_text", sa.String(200)),
        sa.Column("corrections", JSONB, nullable=False, server_default="{}"),
        sa.Column("audit_state", sa.String(20), nullable=False, server_default="unsubmitted"),
        sa.Column("audit_reason", sa.String(200)),
        sa.Column("audited_by", sa.String(100)),
        sa.Column("audited_at", sa.DateTime(timezone=True)),
        sa.Column("submitted_at", sa.DateTime(timezone=True)),
        sa.Column("supplement", JSONB),
    )



def upgrade() -> None:
    for column in _new_task_columns():
        op.add_column("verification_tasks", column)
    op.execute("UPDATE verification_tasks SET stage = student->>'stage'")
    op.drop_constraint("verification_tasks_student_key_key", "verification_tasks", type_="unique")
    op.create_index("ix_verification_tasks_student_key", "verification_tasks", ["student_key"])
    op.create_unique_constraint("uq_verification_tasks_student_school", "verification_tasks",
                                ["student_key", "school_code"])
    _create_tables()




def _create_tables() -> None:
    create_audit_log("verification_audit_log")
    op.create_table("verification_proofs",
                    sa.Column("proof_id", sa.String(40), primary_key=True),
                    sa.Column("task_id", sa.String(40), nullable=False, index=True),
                    sa.Column("sha256", sa.String(64), nullable=False),
                    sa.Column("size", sa.Integer(), nullable=False),
                    sa.Column("content", sa.LargeBinary(), nullable=False),
                    sa.Column("uploaded_by", sa.String(100), nullable=False), timestamp("uploaded_at", nullable=False))
    op.create_table("verification_repeated_checks",
                    sa.Column("student_key", sa.String(64), primary_key=True),
                    sa.Column("state", sa.String(20), nullable=False),
                    sa.Column("resolver_prefix", sa.String(6), nullable=False),
                    sa.Column("kept_task_id", sa.String(40)),
                    sa.Column("resolved_by", sa.String(100)), timestamp("resolved_at"), timestamp("opened_at", nullable=False))
    op.create_table("verification_deadlines",
                    sa.Column("kind", sa.String(20), primary_key=True),
                    sa.Column("batch", sa.String(64), primary_key=True),
                    sa.Column("due", sa.Date(), nullable=False),
                    sa.Column("set_by", sa.String(100), nullable=False))
    op.create_table("verification_payments",
                    sa.Column("student_key", sa.String(64), primary_key=True),
                    sa.Column("period", sa.String(20), primary_key=True), timestamp("paid_at", nullable=False))
    op.create_table("verification_unfunded_reports",
                    sa.Column("task_id", sa.String(40), primary_key=True),
                    sa.Column("period", sa.String(20), primary_key=True),
                    sa.Column("reason", sa.String(40), nullable=False),
                    sa.Column("text", sa.String(200)),
                    sa.Column("reported_by", sa.String(100), nullable=False), timestamp("reported_at", nullable=False))
    op.create_table("verification_abnormal_checks",
                    sa.Column("check_id", sa.String(40), primary_key=True),
                    sa.Column("title", sa.String(200), nullable=False),
                    sa.Column("region_prefix", sa.String(6), nullable=False),
                    sa.Column("items", sa.Integer(), nullable=False),
                    sa.Column("uploaded_by", sa.String(100), nullable=False), timestamp("uploaded_at", nullable=False))
    op.create_table("verification_abnormal_items",
                    sa.Column("check_id", sa.String(40), primary_key=True),
                    sa.Column("row", sa.Integer(), primary_key=True),
                    sa.Column("school_code", sa.String(20), nullable=False, index=True),
                    sa.Column("county", sa.String(6), nullable=False, index=True),
                    sa.Column("record", JSONB, nullable=False),
                    sa.Column("answer", sa.String(40)),
                    sa.Column("answer_text", sa.String(200)),
                    sa.Column("answered_by", sa.String(100)), timestamp("answered_at"))


_TABLES = ("verification_abnormal_items", "verification_abnormal_checks", "verification_unfunded_reports",
           "verification_payments", "verification_deadlines", "verification_repeated_checks",
           "verification_proofs", "verification_audit_log")


def downgrade() -> None:
    """Back to one task per student: of a student's tasks only the earliest stays."""
    for table in _TABLES:
        op.drop_table(table)
    op.execute("DELETE FROM verification_tasks t USING verification_tasks u "
               "WHERE t.student_key = u.student_key AND t.task_id > u.task_id")
    op.drop_constraint("uq_verification_tasks_student_school", "verification_tasks", type_="unique")
    op.drop_index("ix_verification_tasks_student_key", table_name="verification_tasks")
    op.create_unique_constraint("verification_tasks_student_key_key", "verification_tasks", ["student_key"])
    for column in reversed(_new_task_columns()):
        op.drop_column("verification_tasks", column.name)
