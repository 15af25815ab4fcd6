"""disbursement's own tables: one payment per student per final aid list."""

from sqlalchemy import Column, Date, DateTime, Integer, MetaData, String, Table, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB

from aid_chassis.tables import ChassisTables

metadata = MetaData()
chassis = ChassisTables(metadata)

payments = Table(
    "payments", metadata,
    Column("payment_id", String(40), primary_key=True),
    Column("list_id", String(40), nullable=False),
    Column("student_key", String(64), nullable=False),
    Column("programme_code", String(60), nullable=False),
    Column("programme_name", String(100), nullable=False),
    Column("period", String(20), nullable=False),
    Column("amount_fen", Integer, nullable=False),
    Column("student", JSONB, nullable=False),
    Column("status", String(20), nullable=False, index=True),  # pending, paid
    Column("bank_reference", String(40)),
    Column("paid_on", Date),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("list_id", "student_key", name="one_payment_per_student_per_list"),
)
