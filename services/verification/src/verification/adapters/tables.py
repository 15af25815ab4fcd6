"""verification's own tables: tasks and their history, proofs, repeated-student checks,
deadlines, payments seen, unfunded-reason reports and abnormal-record checks."""

from sqlalchemy import (BigInteger, Boolean, Column, Date, Identity, Integer, LargeBinary, MetaData, String, Table,
                        UniqueConstraint)
from sqlalchemy.dialects.postgresql import JSONB

from aid_chassis.audit import audit_log_table, timestamp
from aid_chassis.tables import ChassisTables

metadata = MetaData()
chassis = ChassisTables(metadata, offsets=True)  # the worker applies whole batches (intake.py)




tasks = Table(
    "verification_tasks", metadata,
    Column("task_id", String(40), primary_key=True),
    Column("student_key", String(64), nullable=False, index=True),
    Column("school_code", String(20), nullable=False, index=True),
    Column("origin", String(20), nullable=False, server_default="matched"),  # matched | supplementary
    Column("match_id", String(40), nullable=False),
    Column("match_revision", Integer, nullable=False),
    Column("batch_id", String(64)),
    Column("stage", String(20), nullable=False, server_default=""),
    Column("enrolment_region", String(6), nullable=False, index=True),
    Column("household_region", String(6), nullable=False, index=True),
    Column("student", JSONB, nullable=False),
    Column("categories", JSONB, nullable=False),
    Column("review", JSONB, nullable=False, server_default="[]"),
    Column("changes", JSONB, nullable=False, server_default="{}"),
    Column("status", String(30), nullable=False),
    Column("invalid_reason", String(200)),
    Column("invalid_text", String(200)),
    Column("corrections", JSONB, nullable=False, server_default="{}"),
    Column("open", Boolean, nullable=False),
    Column("closed_reason", String(200)),
    Column("verified_by", String(100)),
    timestamp("verified_at"),
    Column("audit_state", String(20), nullable=False, server_default="unsubmitted"),
    Column("audit_reason", String(200)),
    Column("audited_by", String(100)),
    timestamp("audited_at"),
    timestamp("submitted_at"),
    Column("supplement", JSONB),
    timestamp("updated_at", nullable=False),
    UniqueConstraint("student_key", "school_code", name="uq_verification_tasks_student_school"),
)

task_history = Table(
    "verification_task_history", metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("task_id", String(40), nullable=False, index=True),
    Column("action", String(40), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("detail", JSONB, nullable=False),
    timestamp("at", nullable=False),
)

audit_log = audit_log_table(metadata, "verification_audit_log")

proofs = Table(
    "verification_proofs", metadata,
    Column("proof_id", String(40), primary_key=True),
    Column("task_id", String(40), nullable=False, index=True),
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("uploaded_by", String(100), nullable=False),
    timestamp("uploaded_at", nullable=False),
)

repeated_checks = Table(  # 重复学生核查: one per student handed to more than one school
    "verification_repeated_checks", metadata,
    Column("student_key", String(64), primary_key=True),
    Column("state", String(20), nullable=False),  # open | resolved
    Column("resolver_prefix", String(6), nullable=False),
    Column("kept_task_id", String(40)),
    Column("resolved_by", String(100)),
    timestamp("resolved_at"),
    timestamp("opened_at", nullable=False),
)

deadlines = Table(  # 截止日期 per task batch: verification of a match batch, unfunded reasons of a period, a check
    "verification_deadlines", metadata,
    Column("kind", String(20), primary_key=True),
    Column("batch", String(64), primary_key=True),
    Column("due", Date, nullable=False),
    Column("set_by", String(100), nullable=False),
)

payments = Table(  # students paid in a period (from ``paid``), for 未资助原因上报
    "verification_payments", metadata,
    Column("student_key", String(64), primary_key=True),
    Column("period", String(20), primary_key=True),
    timestamp("paid_at", nullable=False),
)

unfunded_reports = Table(  # 建档立卡学生未资助原因上报
    "verification_unfunded_reports", metadata,
    Column("task_id", String(40), primary_key=True),
    Column("period", String(20), primary_key=True),
    Column("reason", String(40), nullable=False),
    Column("text", String(200)),
    Column("reported_by", String(100), nullable=False),
    timestamp("reported_at", nullable=False),
)

abnormal_checks = Table(  # 数据核查: a list of abnormal aid records from the national centre
    "verification_abnormal_checks", metadata,
    Column("check_id", String(40), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("region_prefix", String(6), nullable=False),
    Column("items", Integer, nullable=False),
    Column("uploaded_by", String(100), nullable=False),
    timestamp("uploaded_at", nullable=False),
)

abnormal_items = Table(
    "verification_abnormal_items", metadata,
    Column("check_id", String(40), primary_key=True),
    Column("row", Integer, primary_key=True),
    Column("school_code", String(20), nullable=False, index=True),
    Column("county", String(6), nullable=False, index=True),
    Column("record", JSONB, nullable=False),
    Column("answer", String(40)),
    Column("answer_text", String(200)),
    Column("answered_by", String(100)),
    timestamp("answered_at"),
)
