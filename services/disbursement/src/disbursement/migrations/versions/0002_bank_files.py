"""bank accounts (encrypted cards), payment batches and lines, return-file imports,
notifications, an audit log; one payment per student, programme and period

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from aid_chassis.audit import create_audit_log, timestamp

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None




def upgrade() -> None:
    op.add_column("payments", sa.Column("region", sa.String(6), nullable=False, server_default=""))
    op.add_column("payments", sa.Column("batch_id", sa.String(40)))
    op.add_column("payments", sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("payments", sa.Column("failure_code", sa.String(20)))
    op.execute("UPDATE payments SET region = student->>'enrolment_region', "
               "status = CASE status WHEN 'pending' THEN 'awaiting_card' ELSE status END")
    op.create_index("ix_payments_region", "payments", ["region"])
    # a payment's status, batch and result change in place: no index on them and free space in
    # each page let PostgreSQL update a million payments without touching an index (HOT updates)
    op.drop_index("ix_payments_status", table_name="payments")
    op.execute("ALTER TABLE payments SET (fillfactor = 45)")
    op.create_unique_constraint("one_payment_per_student_programme_period", "payments",
                                ["student_key", "programme_code", "period"])
    op.create_table("bank_accounts",
                    sa.Column("student_key", sa.String(64), primary_key=True),
                    sa.Column("bank", sa.String(8), nullable=False),
                    sa.Column("card_cipher", sa.LargeBinary(), nullable=False),
                    sa.Column("card_last4", sa.String(4), nullable=False),
                    sa.Column("phone_cipher", sa.LargeBinary()),
                    sa.Column("registered_by", sa.String(100), nullable=False),
                    sa.Column("school_code", sa.String(20)), timestamp("updated_at", nullable=False))
    op.create_table("payment_batches",
                    sa.Column("batch_id", sa.String(40), primary_key=True),
                    sa.Column("region_prefix", sa.String(6), nullable=False),
                    sa.Column("status", sa.String(20), nullable=False),
                    sa.Column("count", sa.Integer(), nullable=False),
                    sa.Column("total_fen", sa.BigInteger(), nullable=False),
                    sa.Column("problems", JSONB),
                    sa.Column("created_by", sa.String(100), nullable=False), timestamp("created_at", nullable=False), timestamp("exported_at"))
    op.create_table("payment_batch_lines",
                    sa.Column("batch_id", sa.String(40), primary_key=True),
                    sa.Column("payment_id", sa.String(40), primary_key=True),
                    sa.Column("seq", sa.Integer(), nullable=False),
                    sa.Column("amount_fen", sa.Integer(), nullable=False),
                    sa.Column("state", sa.String(20), nullable=False),
                    sa.Column("bank_code", sa.String(20)), sa.Column("reference", sa.String(40)),
                    sa.Column("returned_on", sa.Date()))
    op.execute("ALTER TABLE payment_batch_lines SET (fillfactor = 45)")
    _create_imports_notifications_audit()


def _create_imports_notifications_audit() -> None:
    op.create_table("return_imports",
                    sa.Column("sha256", sa.String(64), primary_key=True),
                    sa.Column("batch_id", sa.String(40), nullable=False, index=True),
                    sa.Column("outcome", JSONB, nullable=False),
                    sa.Column("imported_by", sa.String(100), nullable=False), timestamp("imported_at", nullable=False))
    op.create_table("notifications",
                    sa.Column("id", sa.BigInteger(), sa.Identity(always=False), primary_key=True),
                    sa.Column("payment_id", sa.String(40), nullable=False, unique=True),
                    sa.Column("student_key", sa.String(64), nullable=False),
                    sa.Column("recipient_cipher", sa.LargeBinary()),
                    sa.Column("message", sa.String(500), nullable=False),
                    sa.Column("status", sa.String(20), nullable=False, index=True),
                    sa.Column("channel", sa.String(20)),
                    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
                    sa.Column("last_error", sa.String(200)), timestamp("next_attempt_at", nullable=False), timestamp("sent_at"))
    op.create_table("notice_jobs",
                    sa.Column("import_sha256", sa.String(64), primary_key=True),
                    sa.Column("batch_id", sa.String(40), nullable=False),
                    sa.Column("after_payment_id", sa.String(40), nullable=False, server_default=""))
    create_audit_log("disbursement_audit_log")


def downgrade() -> None:
    for table in ("disbursement_audit_log", "notice_jobs", "notifications", "return_imports", "payment_batch_lines",
                  "payment_batches", "bank_accounts"):
        op.drop_table(table)
    op.drop_constraint("one_payment_per_student_programme_period", "payments", type_="unique")
    op.drop_index("ix_payments_region", table_name="payments")
    op.execute("ALTER TABLE payments RESET (fillfactor)")
    op.create_index("ix_payments_status", "payments", ["status"])
    op.execute("UPDATE payments SET status = 'pending' WHERE status NOT IN ('paid')")
    for column in ("failure_code", "attempts", "batch_id", "region"):
        op.drop_column("payments", column)
