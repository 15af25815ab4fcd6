"""publicity's own tables: verified candidates, aid lists and their entries."""

from sqlalchemy import Column, DateTime, ForeignKey, Integer, MetaData, String, Table, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB

from aid_chassis.tables import ChassisTables

metadata = MetaData()
chassis = ChassisTables(metadata)

candidates = Table(
    "candidates", metadata,
    Column("student_key", String(64), primary_key=True),
    Column("school_code", String(20), nullable=False, index=True),
    Column("stage", String(20), nullable=False),
    Column("status", String(30), nullable=False),
    Column("match_revision", Integer, nullable=False),
    Column("student", JSONB, nullable=False),
    Column("verified_at", DateTime(timezone=True), nullable=False),
)

aid_lists = Table(
    "aid_lists", metadata,
    Column("list_id", String(40), primary_key=True),
    Column("school_code", String(20), nullable=False, index=True),
    Column("region", String(6), nullable=False),
    Column("programme_code", String(60), nullable=False),
    Column("period", String(20), nullable=False),
    Column("status", String(20), nullable=False),  # draft, published, final
    Column("created_by", String(100), nullable=False),
    Column("approved_by", String(100)),
    Column("published_at", DateTime(timezone=True)),
    Column("notice_ends_at", DateTime(timezone=True), index=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("school_code", "programme_code", "period", name="one_list_per_school_programme_period"),
)

list_entries = Table(
    "aid_list_entries", metadata,
    Column("list_id", String(40), ForeignKey("aid_lists.list_id"), primary_key=True),
    Column("student_key", String(64), primary_key=True),
    Column("amount_fen", Integer, nullable=False),
    Column("student", JSONB, nullable=False),
)
