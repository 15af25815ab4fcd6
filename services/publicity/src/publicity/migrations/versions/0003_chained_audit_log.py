"""the audit log records the actor's role, institution and trace id, and is hash-chained.

Revision ID: 0003
Revises: 0002
"""
from aid_chassis.audit import chain_audit_log, unchain_audit_log

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    chain_audit_log("publicity_audit_log")


def downgrade() -> None:
    unchain_audit_log("publicity_audit_log")
