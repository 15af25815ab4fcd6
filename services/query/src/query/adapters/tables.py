"""query's read models: students, their timelines, and their aid records."""

from sqlalchemy import Column, Date, DateTime, Integer, MetaData, String, Table
from sqlalchemy.dialects.postgresql import JSONB

from aid_chassis.tables import ChassisTables

metadata = MetaData()
chassis = ChassisTables(metadata)

students = Table(
    "students", metadata,
    Column("student_key", String(64), primary_key=True),
    Column("name", String(50), nullable=False),
    Column("id_number", String(18), nullable=False),
    Column("school_code", String(20), nullable=False, index=True),
    Column("stage", String(20), nullable=False),
    Column("enrolment_region", String(6), nullable=False, index=True),
    Column("household_region", String(6), nullable=False, index=True),
    Column("match_revision", Integer, nullable=False),
    Column("status", String(30), nullable=False),
)

timeline = Table(
    "timeline", metadata,
    Column("event_id", String(64), primary_key=True),
    Column("student_key", String(64), nullable=False, index=True),
    Column("event_type", String(40), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("summary", JSONB, nullable=False),
)

aid_records = Table(
    "aid_records", metadata,
    Column("list_id", String(40), primary_key=True),
    Column("student_key", String(64), primary_key=True),
    Column("programme_name", String(100), nullable=False),
    Column("period", String(20), nullable=False),
    Column("amount_fen", Integer, nullable=False),
    Column("status", String(20), nullable=False),  # published, final, paid
    Column("published_at", DateTime(timezone=True), nullable=False),
    Column("paid_on", Date),
)
