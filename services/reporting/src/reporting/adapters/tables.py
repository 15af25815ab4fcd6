"""reporting's state: each student's progress (no names, no ID numbers), their aid records and
unfunded reasons, each verification task's state, the task batches' deadlines and each school's
part of the abnormal-record checks, and the live aggregates kept from them in the same transactions.

The aggregates are counters (``value``) per bucket; a batch of events adds its deltas with one
upsert per table, so a report reads a few thousand rows, never the students.
"""

from sqlalchemy import BigInteger, Boolean, Column, Date, DateTime, Integer, MetaData, String, Table, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from aid_chassis.tables import ChassisTables

metadata = MetaData()
chassis = ChassisTables(metadata, offsets=True)


def _code(name: str, length: int, **kw) -> Column:
    return Column(name, String(length, collation="C"), nullable=False, **kw)


students = Table(
    "students", metadata,
    Column("student_key", String(64), primary_key=True),
    _code("school_code", 20), Column("stage", String(20), nullable=False),
    _code("enrolment_region", 6), _code("household_region", 6),
    Column("categories", ARRAY(Text), nullable=False), Column("departments", ARRAY(Text), nullable=False),
    Column("poverty_status", String(20)), Column("name_mismatch", Boolean, nullable=False),
    Column("origin", String(20), nullable=False),
    Column("match_revision", Integer, nullable=False), Column("verified_revision", Integer, nullable=False),
    Column("matched", Boolean, nullable=False), Column("status", String(30), nullable=False),
    Column("verified_by", String(100)), Column("approved_by", String(100)),
    Column("verified_at", DateTime(timezone=True)), Column("updated_at", DateTime(timezone=True), nullable=False),
)

aid_records = Table(
    "aid_records", metadata,
    Column("list_id", String(40), primary_key=True),
    Column("student_key", String(64), primary_key=True, index=True),
    Column("programme_code", String(60), nullable=False), Column("programme_name", String(100), nullable=False),
    Column("period", String(20), nullable=False), Column("amount_fen", Integer, nullable=False),
    Column("status", String(20), nullable=False), Column("published_at", DateTime(timezone=True)),
    Column("paid_on", Date), Column("failure_code", String(20)),
)

unfunded_reasons = Table(
    "unfunded_reasons", metadata,
    Column("student_key", String(64), primary_key=True), Column("period", String(20), primary_key=True),
    Column("reason", String(40), nullable=False), Column("reported_at", DateTime(timezone=True), nullable=False),
)

programmes = Table(  # programme code → the name it was last published under
    "programmes", metadata,
    Column("programme_code", String(60), primary_key=True), Column("programme_name", String(100), nullable=False),
)


tasks = Table(  # verification's tasks as ``task-progressed`` last described them
    "tasks", metadata,
    Column("task_id", String(40), primary_key=True), Column("student_key", String(64), nullable=False),
    Column("sequence", BigInteger, nullable=False),
    _code("school_code", 20), Column("stage", String(20), nullable=False),
    _code("enrolment_region", 6), _code("household_region", 6),
    Column("categories", ARRAY(Text), nullable=False), Column("batch_id", String(64), nullable=False),
    Column("status", String(30), nullable=False), Column("audit_state", String(20), nullable=False),
    Column("open", Boolean, nullable=False),
)

deadlines = Table(  # 截止日期 per task batch
    "deadlines", metadata,
    Column("kind", String(20), primary_key=True), Column("batch", String(64), primary_key=True),
    Column("due", Date, nullable=False), Column("set_at", DateTime(timezone=True), nullable=False),
)

check_schools = Table(  # 数据核查: each school's records of a check and its answers so far
    "check_schools", metadata,
    Column("check_id", String(40), primary_key=True), Column("school_code", String(20, collation="C"), primary_key=True),
    Column("title", String(200), nullable=False), _code("county", 6, index=True),
    Column("items", Integer, nullable=False), Column("answers", JSONB, nullable=False),
    Column("sequence", BigInteger, nullable=False),
)


schools = Table(  # 机构: school names as identity-matching publishes them (one row per code and stage)
    "schools", metadata,
    Column("code", String(20, collation="C"), primary_key=True), Column("stage", String(20), primary_key=True),
    Column("name", String(100), nullable=False), Column("active", Boolean, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)

audit_trail = Table(  # every service's audit entries (审计日志), for bureaus' search
    "audit_trail", metadata,
    Column("service", String(30), primary_key=True), Column("entry_id", BigInteger, primary_key=True),
    Column("entity", String(40), nullable=False), Column("entity_id", String(100), nullable=False, index=True),
    Column("action", String(40), nullable=False), Column("actor", String(100), nullable=False, index=True),
    Column("role", String(30)), Column("institution", String(40)),
    Column("region", String(12, collation="C"), nullable=False, index=True),  # whose jurisdiction sees it
    Column("at", DateTime(timezone=True), nullable=False, index=True), Column("trace_id", String(32)),
    Column("detail", JSONB, nullable=False), Column("hash", String(64), nullable=False),
)


def _counts(name: str, *keys: Column) -> Table:
    """A counter table; its pages keep room for the next versions of their rows (fillfactor 30, set by
    migration 0007: heap-only updates, where full pages made every update a new index entry)."""
    return Table(name, metadata, Column("dimension", String(10), primary_key=True),
                 Column("region", String(6, collation="C"), primary_key=True), *keys,
                 Column("value", BigInteger, nullable=False))


progress_counts = _counts("progress_counts", Column("school_code", String(20, collation="C"), primary_key=True),
                          Column("category", String(30), primary_key=True), Column("stage", String(20), primary_key=True),
                          Column("metric", String(30), primary_key=True))
funding_counts = _counts("funding_counts", Column("school_code", String(20, collation="C"), primary_key=True),
                         Column("programme_code", String(60), primary_key=True),
                         Column("period", String(20), primary_key=True), Column("metric", String(30), primary_key=True))
unfunded_counts = _counts("unfunded_counts", Column("school_code", String(20, collation="C"), primary_key=True),
                          Column("period", String(20), primary_key=True), Column("reason", String(40), primary_key=True))
daily_counts = _counts("daily_counts", Column("day", Date, primary_key=True),
                       Column("metric", String(30), primary_key=True))

task_counts = _counts("task_counts", Column("school_code", String(20, collation="C"), primary_key=True),
                      Column("category", String(30), primary_key=True), Column("stage", String(20), primary_key=True),
                      Column("batch_id", String(64), primary_key=True), Column("metric", String(30), primary_key=True))

COUNTS = {"progress": progress_counts, "funding": funding_counts, "unfunded": unfunded_counts, "daily": daily_counts,
          "tasks": task_counts}
STATE = (students, aid_records, unfunded_reasons, programmes, tasks, deadlines, check_schools, audit_trail, schools)
