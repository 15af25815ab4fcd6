"""the audit log records the actor's role, institution and trace id, and is hash-chained.

Revision ID: 0004
Revises: 0003
"""
from aid_chassis.audit import chain_audit_log, unchain_audit_log

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    chain_audit_log("disbursement_audit_log")


def downgrade() -> None:
    unchain_audit_log("disbursement_audit_log")
