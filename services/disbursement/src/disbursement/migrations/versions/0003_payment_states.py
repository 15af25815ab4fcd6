"""a payment's facts apart from its state; bank results recorded, not written over the lines

A payment's facts (list, student, programme, amount) never change; its state (status, batch,
attempts, result) changes with every batch. Kept apart, the state rows are narrow, so a million
status changes write a tenth of the bytes; the facts and the batch lines are never updated, and
the bank's results are appended to ``payment_results`` (one per batch and payment). A batch line
keeps what its bank file says (name, ID number, encrypted card), so the file is the same at every
download and is written from one table.

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_STATE = ("status", "batch_id", "attempts", "failure_code", "bank_reference", "paid_on")
_RESULT = ("state", "bank_code", "reference", "returned_on")
_SENT = (("student_key", sa.String(64)), ("name", sa.String(100)), ("id_number", sa.String(18)),
         ("bank", sa.String(8)), ("card_cipher", sa.LargeBinary()))


def upgrade() -> None:
    op.create_table("payment_states",
                    sa.Column("payment_id", sa.String(40), primary_key=True),
                    sa.Column("status", sa.String(20), nullable=False),
                    sa.Column("batch_id", sa.String(40)),
                    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
                    sa.Column("failure_code", sa.String(20)),
                    sa.Column("bank_reference", sa.String(40)),
                    sa.Column("paid_on", sa.Date()))
    op.execute("ALTER TABLE payment_states SET (fillfactor = 60)")  # room for HOT updates (no index on status)
    op.execute(f"INSERT INTO payment_states (payment_id, {', '.join(_STATE)}) "
               f"SELECT payment_id, {', '.join(_STATE)} FROM payments")
    op.create_table("payment_results",
                    sa.Column("batch_id", sa.String(40), primary_key=True),
                    sa.Column("payment_id", sa.String(40), primary_key=True),
                    sa.Column("state", sa.String(20), nullable=False),  # paid, failed
                    sa.Column("bank_code", sa.String(20)),
                    sa.Column("reference", sa.String(40)),
                    sa.Column("returned_on", sa.Date(), nullable=False))
    op.execute(f"INSERT INTO payment_results (batch_id, payment_id, {', '.join(_RESULT)}) "
               f"SELECT batch_id, payment_id, {', '.join(_RESULT)} FROM payment_batch_lines WHERE state <> 'sent'")
    for column in _STATE:
        op.drop_column("payments", column)
    for column in _RESULT:
        op.drop_column("payment_batch_lines", column)
    _lines_carry_what_was_sent()
    op.execute("ALTER TABLE payments RESET (fillfactor)")
    op.execute("ALTER TABLE payment_batch_lines RESET (fillfactor)")


def _lines_carry_what_was_sent() -> None:
    """A batch line keeps the name, ID number and (encrypted) card of its bank file."""
    for name, kind in _SENT:
        op.add_column("payment_batch_lines", sa.Column(name, kind))
    op.execute("UPDATE payment_batch_lines l SET student_key = p.student_key, name = p.student->>'name', "
               "id_number = p.student->>'id_number', bank = a.bank, card_cipher = a.card_cipher "
               "FROM payments p JOIN bank_accounts a ON a.student_key = p.student_key WHERE p.payment_id = l.payment_id")
    for name, _ in _SENT:
        op.alter_column("payment_batch_lines", name, nullable=False)


def downgrade() -> None:
    op.add_column("payments", sa.Column("status", sa.String(20), nullable=False, server_default="ready"))
    op.add_column("payments", sa.Column("batch_id", sa.String(40)))
    op.add_column("payments", sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("payments", sa.Column("failure_code", sa.String(20)))
    op.add_column("payments", sa.Column("bank_reference", sa.String(40)))
    op.add_column("payments", sa.Column("paid_on", sa.Date()))
    op.execute(f"UPDATE payments p SET ({', '.join(_STATE)}) = (s.{', s.'.join(_STATE)}) "
               "FROM payment_states s WHERE s.payment_id = p.payment_id")
    op.add_column("payment_batch_lines", sa.Column("state", sa.String(20), nullable=False, server_default="sent"))
    op.add_column("payment_batch_lines", sa.Column("bank_code", sa.String(20)))
    op.add_column("payment_batch_lines", sa.Column("reference", sa.String(40)))
    op.add_column("payment_batch_lines", sa.Column("returned_on", sa.Date()))
    op.execute(f"UPDATE payment_batch_lines l SET ({', '.join(_RESULT)}) = (r.{', r.'.join(_RESULT)}) "
               "FROM payment_results r WHERE r.batch_id = l.batch_id AND r.payment_id = l.payment_id")
    for name, _ in _SENT:
        op.drop_column("payment_batch_lines", name)
    op.drop_table("payment_results")
    op.drop_table("payment_states")
    op.execute("ALTER TABLE payments SET (fillfactor = 45)")
