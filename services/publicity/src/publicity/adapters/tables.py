"""publicity's own tables: candidates, programme versions, aid lists and entries, objections,
messages to schools and an audit log."""

from sqlalchemy import (BigInteger, Boolean, Column, DateTime, ForeignKey, Identity, Integer, MetaData, String, Table,
                        UniqueConstraint)
from sqlalchemy.dialects.postgresql import JSONB

from aid_chassis.audit import audit_log_table, timestamp
from aid_chassis.tables import ChassisTables

metadata = MetaData()
chassis = ChassisTables(metadata, offsets=True)  # the worker applies whole batches (intake.py)




candidates = Table(  # the newest approved verification of each student, and its latest categories
    "candidates", metadata,
    Column("student_key", String(64), primary_key=True),
    Column("school_code", String(20), nullable=False, index=True),
    Column("stage", String(20), nullable=False),
    Column("status", String(30), nullable=False),  # a verification status, or withdrawn
    Column("match_revision", Integer, nullable=False),
    Column("student", JSONB, nullable=False),
    Column("categories", JSONB, nullable=False, server_default="[]"),
    timestamp("verified_at", nullable=False),
)

programme_versions = Table(
    "programme_versions", metadata,
    Column("code", String(60), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("effective_key", Integer, nullable=False),  # Period.key of effective_from
    Column("rules", JSONB, nullable=False),
    Column("created_by", String(100), nullable=False),
    timestamp("created_at", nullable=False),
)

aid_lists = Table(
    "aid_lists", metadata,
    Column("list_id", String(40), primary_key=True),
    Column("school_code", String(20), nullable=False, index=True),
    Column("region", String(6), nullable=False),
    Column("programme_code", String(60), nullable=False),
    Column("rules_version", Integer, nullable=False, server_default="1"),
    Column("period", String(20), nullable=False),
    Column("status", String(20), nullable=False),  # draft, submitted, published, final
    Column("audit_reason", String(200)),
    Column("created_by", String(100), nullable=False),
    Column("approved_by", String(100)),
    timestamp("submitted_at"),
    timestamp("published_at"),
    Column("notice_ends_at", DateTime(timezone=True), index=True),
    timestamp("finalised_at"),
    timestamp("created_at", nullable=False),
    UniqueConstraint("school_code", "programme_code", "period", name="one_list_per_school_programme_period"),
)

list_entries = Table(
    "aid_list_entries", metadata,
    Column("list_id", String(40), ForeignKey("aid_lists.list_id"), primary_key=True),
    Column("student_key", String(64), primary_key=True),
    Column("entry_no", Integer, nullable=False, server_default="0"),
    Column("amount_fen", Integer, nullable=False),
    Column("student", JSONB, nullable=False),
    Column("state", String(20), nullable=False, server_default="in"),  # in, removed, objection_upheld, ineligible
    Column("state_reason", String(200)),
)

objections = Table(  # 投诉举报 during the notice
    "objections", metadata,
    Column("objection_id", String(40), primary_key=True),
    Column("list_id", String(40), ForeignKey("aid_lists.list_id"), nullable=False, index=True),
    Column("entry_no", Integer),
    Column("contact_name", String(50), nullable=False),
    Column("contact_phone", String(20), nullable=False),
    Column("text", String(1000), nullable=False),
    Column("client_hash", String(64), nullable=False, index=True),
    timestamp("submitted_at", nullable=False),
    Column("state", String(20), nullable=False, server_default="open"),  # open, upheld, dismissed
    Column("decided_by", String(100)),
    timestamp("decided_at"),
    Column("decision_reason", String(200)),
)

school_messages = Table(  # what a school is told (an upheld objection, a returned list)
    "school_messages", metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("school_code", String(20), nullable=False, index=True),
    Column("list_id", String(40), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("message", String(500), nullable=False),
    Column("read", Boolean, nullable=False, server_default="false"),
    timestamp("at", nullable=False),
)

audit_log = audit_log_table(metadata, "publicity_audit_log")
