"""disbursement's own tables: payments (one per student, programme and period), bank accounts
(card numbers encrypted), payment batches and their lines, return-file imports, notifications
to students and parents, and an audit log."""

from sqlalchemy import (BigInteger, Column, Date, Identity, Integer, LargeBinary, MetaData, String, Table, Text,
                        UniqueConstraint)
from sqlalchemy.dialects.postgresql import JSONB

from aid_chassis.audit import audit_log_table, timestamp
from aid_chassis.rekey import Sealed
from aid_chassis.tables import ChassisTables

metadata = MetaData()
chassis = ChassisTables(metadata)


payments = Table(  # a payment's facts: never updated (its state is in payment_states)
    "payments", metadata,
    Column("payment_id", String(40), primary_key=True),
    Column("list_id", String(40), nullable=False),
    Column("student_key", String(64), nullable=False),
    Column("programme_code", String(60), nullable=False),
    Column("programme_name", String(100), nullable=False),
    Column("period", String(20), nullable=False),
    Column("amount_fen", Integer, nullable=False),
    Column("student", JSONB, nullable=False),
    Column("region", String(6), nullable=False, server_default="", index=True),  # enrolment county
    timestamp("created_at", nullable=False),
    UniqueConstraint("list_id", "student_key", name="one_payment_per_student_per_list"),
    UniqueConstraint("student_key", "programme_code", "period", name="one_payment_per_student_programme_period"),
)

payment_states = Table(  # narrow rows updated in place (fillfactor 60, status not indexed: HOT updates)
    "payment_states", metadata,
    Column("payment_id", String(40), primary_key=True),
    Column("status", String(20), nullable=False),  # awaiting_card, ready, in_batch, paid, failed
    Column("batch_id", String(40)),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("failure_code", String(20)),
    Column("bank_reference", String(40)),
    Column("paid_on", Date),
)

accounts = Table(  # 银行卡 registered by the school or imported in bulk
    "bank_accounts", metadata,
    Column("student_key", String(64), primary_key=True),
    Column("bank", String(8), nullable=False),
    Column("card_cipher", LargeBinary, nullable=False),
    Column("card_last4", String(4), nullable=False),
    Column("phone_cipher", LargeBinary),
    Column("registered_by", String(100), nullable=False),
    Column("school_code", String(20)),
    timestamp("updated_at", nullable=False),
)

student_schools = Table(  # whose student: the school and county that may register a student's card
    "student_schools", metadata,
    Column("student_key", String(64), primary_key=True),
    Column("school_code", String(20), nullable=False),
    Column("enrolment_region", String(6), nullable=False),
    timestamp("updated_at", nullable=False),
    timestamp("as_of", nullable=False),  # when the approval or list said so: a later one wins, whatever arrives last
)

batches = Table(  # 代发批次
    "payment_batches", metadata,
    Column("batch_id", String(40), primary_key=True),
    Column("region_prefix", String(6), nullable=False),
    Column("status", String(20), nullable=False),  # created, exported, partially_returned, reconciled, stopped
    Column("count", Integer, nullable=False),
    Column("total_fen", BigInteger, nullable=False),
    Column("problems", JSONB),
    Column("created_by", String(100), nullable=False),
    timestamp("created_at", nullable=False),
    timestamp("exported_at"),
)

batch_lines = Table(  # what was sent to the bank: never updated
    "payment_batch_lines", metadata,
    Column("batch_id", String(40), primary_key=True),
    Column("payment_id", String(40), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("amount_fen", Integer, nullable=False),
    Column("student_key", String(64), nullable=False),
    Column("name", Text, nullable=False),  # sealed (aid_chassis.fields), as the events brought it
    Column("id_number", Text, nullable=False),
    Column("bank", String(8), nullable=False),
    Column("card_cipher", LargeBinary, nullable=False),  # the card as sent, still encrypted
)

results = Table(  # what the bank answered, appended by return-file imports (one per batch and payment)
    "payment_results", metadata,
    Column("batch_id", String(40), primary_key=True),
    Column("payment_id", String(40), primary_key=True),
    Column("state", String(20), nullable=False),  # paid, failed
    Column("bank_code", String(20)),
    Column("reference", String(40)),
    Column("returned_on", Date, nullable=False),
)

return_imports = Table(  # 回盘文件 imports; the same file twice is answered from here
    "return_imports", metadata,
    Column("sha256", String(64), primary_key=True),
    Column("batch_id", String(40), nullable=False, index=True),
    Column("outcome", JSONB, nullable=False),
    Column("imported_by", String(100), nullable=False),
    timestamp("imported_at", nullable=False),
)

notifications = Table(  # 发放告知 outbox: one per payment, delivered through a channel with retries
    "notifications", metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("payment_id", String(40), nullable=False, unique=True),
    Column("student_key", String(64), nullable=False),
    Column("recipient_cipher", LargeBinary),
    Column("message", String(500), nullable=False),
    Column("status", String(20), nullable=False, index=True),  # pending, sent, failed, no_recipient
    Column("channel", String(20)),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", String(200)),
    timestamp("next_attempt_at", nullable=False),
    timestamp("sent_at"),
)

notice_jobs = Table(  # imports whose paid lines still need their notices written (the notifier does it in chunks)
    "notice_jobs", metadata,
    Column("import_sha256", String(64), primary_key=True),
    Column("batch_id", String(40), nullable=False),
    Column("after_payment_id", String(40), nullable=False, server_default=""),
)

audit_log = audit_log_table(metadata, "disbursement_audit_log")

SEALED = [  # what the key ring seals at rest (``python -m disbursement rekey`` re-seals after a rotation)
    Sealed("bank_accounts", ("student_key",), "card_cipher", "card"),
    Sealed("bank_accounts", ("student_key",), "phone_cipher", "phone"),
    Sealed("payment_batch_lines", ("batch_id", "payment_id"), "card_cipher", "card"),
    Sealed("notifications", ("id",), "recipient_cipher", "phone"),
]
