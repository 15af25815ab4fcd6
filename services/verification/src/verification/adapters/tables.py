"""verification's own tables: one task per matched student, and its full history."""

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Identity, Integer, MetaData, String, Table, func
from sqlalchemy.dialects.postgresql import JSONB

from aid_chassis.tables import ChassisTables

metadata = MetaData()
chassis = ChassisTables(metadata)

tasks = Table(
    "verification_tasks", metadata,
    Column("task_id", String(40), primary_key=True),
    Column("student_key", String(64), nullable=False, unique=True),
    Column("match_id", String(40), nullable=False),
    Column("match_revision", Integer, nullable=False),
    Column("school_code", String(20), nullable=False, index=True),
    Column("enrolment_region", String(6), nullable=False, index=True),
    Column("household_region", String(6), nullable=False, index=True),
    Column("student", JSONB, nullable=False),
    Column("categories", JSONB, nullable=False),
    Column("status", String(30), nullable=False),
    Column("invalid_reason", String(200)),
    Column("open", Boolean, nullable=False),
    Column("closed_reason", String(200)),
    Column("verified_by", String(100)),
    Column("verified_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

task_history = Table(
    "verification_task_history", metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("task_id", String(40), nullable=False, index=True),
    Column("action", String(40), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("detail", JSONB, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
