"""identity-matching's own tables."""

from sqlalchemy import (BigInteger, Boolean, CheckConstraint, Column, DateTime, Float, Identity, Integer, LargeBinary,
                        MetaData, SmallInteger, String, Table, Text, func)
from sqlalchemy.dialects.postgresql import JSONB

from aid_chassis.audit import audit_log_table
from aid_chassis.tables import ChassisTables

metadata = MetaData()
chassis = ChassisTables(metadata)

sealed_snapshots = Table(  # the roster ("roster", "") and each department's list ("department", its name), the
    # matches' texts ("matches", "") and states ("match_states", ""), sealed
    "sealed_snapshots", metadata,
    Column("kind", String(20), primary_key=True),
    Column("scope", String(40), primary_key=True),
    Column("part", String(12), primary_key=True),  # its students' keys' first character, or ~<n> (amended)
    Column("batch_id", String(40), nullable=False),  # the import that stored the part
    Column("rows", Integer, nullable=False),
    Column("sealed", LargeBinary, nullable=False),  # aid_chassis.vault.seal_frame
    Column("stored_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

data_keys = Table(  # 学生数据密钥: students' data keys by bucket, sealed (aid_chassis.datakeys); published as they change
    "data_keys", metadata,
    Column("bucket", SmallInteger, primary_key=True),
    Column("students", Integer, nullable=False),
    Column("sealed", LargeBinary, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

roster_schools = Table(  # the roster's students per school (机构的在籍学生数), counted at each roster import
    "roster_schools", metadata,
    Column("school_code", String(20), primary_key=True),
    Column("stage", String(20), primary_key=True),
    Column("enrolment_region", String(6), primary_key=True),
    Column("students", Integer, nullable=False),
)

list_statistics = Table(  # each department's list in force: people by category and by county (部门名单统计)
    "list_statistics", metadata,
    Column("department", String(40), primary_key=True),
    Column("statistics", JSONB, nullable=False),
)

# Rows stored before migration 0011: read until the next import of their snapshot moves them.
roster_students = Table(
    "roster_students", metadata,
    Column("student_key", String(64), primary_key=True),
    Column("id_number", String(18), nullable=False),
    Column("name", String(50), nullable=False),
    Column("school_code", String(20), primary_key=True),  # one student may be enrolled at two schools
    Column("stage", String(20), nullable=False),
    Column("enrolment_region", String(6), nullable=False),
    Column("household_region", String(6), nullable=False),
    Column("batch_id", String(40), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

department_records = Table(
    "department_records", metadata,
    Column("department", String(40), primary_key=True),
    Column("student_key", String(64), primary_key=True),
    Column("category", String(40), primary_key=True),
    Column("id_number", String(18), nullable=False),
    Column("name", String(50), nullable=False),
    Column("household_region", String(6), nullable=False),
    Column("poverty_status", String(20)),
    Column("exit_year", SmallInteger),
    Column("batch_id", String(40), nullable=False),
)

import_batches = Table(
    "import_batches", metadata,
    Column("batch_id", String(40), primary_key=True),
    Column("list_kind", String(20), nullable=False),
    Column("department", String(40)),
    Column("file_name", String(200), nullable=False),
    Column("read", Integer, nullable=False),
    Column("accepted", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    Column("rejections", JSONB, nullable=False),
    Column("outcome", JSONB, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

matches = Table(  # before migration 0014 only: the states now sealed (service_layer/amended.STATES), rows moved
    "matches", metadata,
    Column("student_key", String(64), primary_key=True),
    Column("match_id", String(40), nullable=False),  # unique by construction (bulk_match.match_ids)
    Column("revision", Integer, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("school_code", String(20), nullable=False),
    Column("canonical", Text),  # before migration 0011 only: now sealed apart (service_layer/snapshots.MATCHES)
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

feed_batches = Table(
    "feed_batches", metadata,
    Column("batch_id", String(80), primary_key=True),
    Column("department", String(40), nullable=False),
    Column("expected", Integer),  # records announced by the closing list-imported; None while open
    Column("completed_as", String(40)),  # the import batch it became
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

feed_records = Table(
    "feed_records", metadata,
    Column("batch_id", String(80), primary_key=True),
    Column("row", Integer, primary_key=True),
    Column("fields", JSONB, nullable=False),
)

review_candidates = Table(
    "review_candidates", metadata,
    Column("candidate_id", Integer, Identity(), primary_key=True),
    Column("batch_id", String(40), nullable=False, index=True),
    Column("department", String(40), nullable=False),
    Column("row", Integer, nullable=False),
    Column("raw_id_number", Text, nullable=False),  # sealed, as the next two (service_layer/personal.py)
    Column("candidate_id_number", Text, nullable=False),
    Column("record", JSONB, nullable=False),  # the department row, with the candidate number
    Column("score", Float, nullable=False),
    Column("reason", String(40), nullable=False),
    Column("status", String(20), nullable=False),  # pending, accepted, rejected
    Column("decided_by", String(100)),
    Column("decided_at", DateTime(timezone=True)),
)

id_corrections = Table(
    "id_corrections", metadata,
    Column("department", String(40), primary_key=True),
    Column("raw_id_number", Text, primary_key=True),  # sealed to the department (deterministic: one per raw)
    Column("id_number", Text, nullable=False),
)

institutions = Table(  # 机构: schools by stage, from the roster or added by their county bureau (FAQ Q5, Q16, Q21)
    "institutions", metadata,
    Column("code", String(20), primary_key=True),
    Column("stage", String(20), primary_key=True),
    Column("name", String(100), nullable=False, server_default=""),
    Column("county", String(6), nullable=False, index=True),
    Column("source", String(10), nullable=False),  # roster | added
    Column("active", Boolean, nullable=False, server_default="true"),
    Column("changed_by", String(100), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

comparisons = Table(  # one row: how many comparisons have run (each compare() counts one)
    "comparisons", metadata,
    Column("id", SmallInteger, primary_key=True, server_default="1"),
    Column("last", BigInteger, nullable=False),
    CheckConstraint("id = 1", name="ck_comparisons_one_row"),
)

list_coverage = Table(  # 名单覆盖: per department, its people enrolled and matched, as of comparison number
    "list_coverage", metadata,
    Column("department", String(40), primary_key=True),
    Column("enrolled", Integer, nullable=False),
    Column("matched", Integer, nullable=False),
    Column("comparison", BigInteger, nullable=False),
)

audit_log = audit_log_table(metadata, "identity_matching_audit_log")
