"""query's read models: students on both jurisdiction dimensions, their aid records and timelines,
the unfunded reasons schools report, and query's audit log (exports and reveals).

Region and school codes use the "C" collation so that a jurisdiction's prefix
(``LIKE '5201%'``) is an index range scan.
"""

from sqlalchemy import Boolean, Column, Date, DateTime, Index, Integer, MetaData, String, Table, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSON

from aid_chassis.audit import audit_log_table
from aid_chassis.tables import ChassisTables

metadata = MetaData()
chassis = ChassisTables(metadata, offsets=True)
audit_log = audit_log_table(metadata, "query_audit_log")


def _code(name: str, length: int, **kw) -> Column:
    return Column(name, String(length, collation="C"), nullable=False, **kw)


students = Table(
    "students", metadata,
    Column("student_key", String(64), primary_key=True),
    Column("name", Text, nullable=False),  # sealed (aid_chassis.fields): opened only where shown
    Column("id_number", Text, nullable=False),
    _code("school_code", 20),
    Column("stage", String(20), nullable=False),
    _code("enrolment_region", 6),
    _code("household_region", 6),
    Column("categories", ARRAY(Text), nullable=False),  # 困难类别
    Column("departments", ARRAY(Text), nullable=False),
    Column("poverty_status", String(20)),  # 脱贫状态 of a registered-poor family
    Column("name_mismatch", Boolean, nullable=False),
    Column("origin", String(20), nullable=False),  # matched 比对下发 | supplementary 学校补录
    Column("match_revision", Integer, nullable=False),
    Column("verified_revision", Integer, nullable=False),  # the match revision the verification answered
    Column("matched", Boolean, nullable=False),
    Column("status", String(30), nullable=False),  # matched, withdrawn, verified_unchanged, verified_updated, invalid
    Column("verified_by", String(100)),
    Column("approved_by", String(100)),
    Column("verified_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("first_line", JSON),  # the timeline line of the event that made this row (migration 0008); others: timeline
    Index("ix_students_enrolment", "enrolment_region", "school_code", "student_key"),
    Index("ix_students_household", "household_region", "school_code", "student_key"),
    # a school's pages: a skip scan of either (migration 0006)
)

aid_records = Table(
    "aid_records", metadata,
    Column("list_id", String(40), primary_key=True),
    Column("student_key", String(64), primary_key=True, index=True),
    Column("programme_code", String(60), nullable=False),
    Column("programme_name", String(100), nullable=False),
    Column("period", String(20), nullable=False),
    Column("amount_fen", Integer, nullable=False),
    Column("status", String(20), nullable=False),  # published, final, removed, payment_failed, paid
    Column("published_at", DateTime(timezone=True)),
    Column("paid_on", Date),
    Column("failure_code", String(20)),
)

timeline = Table(  # every line but that of the event that made the student's row (``students.first_line``, 0008)
    "timeline", metadata,
    Column("student_key", String(64), primary_key=True),  # a student's lines are one index range
    Column("event_id", String(64), primary_key=True),
    Column("event_type", String(40), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("summary", JSON, nullable=False),  # read back whole: kept as its text (migration 0007)
)

unfunded_reasons = Table(
    "unfunded_reasons", metadata,
    Column("student_key", String(64), primary_key=True),
    Column("period", String(20), primary_key=True),
    Column("reason", String(40), nullable=False),
    Column("reported_at", DateTime(timezone=True), nullable=False),
)

READ_MODELS = (students, aid_records, timeline, unfunded_reasons)
