"""institutions (机构): schools by stage, from the roster (filled from the students already on it)
or added by their county bureau; and identity-matching's chained audit log.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

from aid_chassis.audit import chain_audit_log, create_audit_log

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "institutions",
        sa.Column("code", sa.String(20), primary_key=True), sa.Column("stage", sa.String(20), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, server_default=""),
        sa.Column("county", sa.String(6), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("changed_by", sa.String(100), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
    )
    op.create_index("ix_institutions_county", "institutions", ["county"])
    op.execute("INSERT INTO institutions (code, stage, county, source, changed_by) "
               "SELECT DISTINCT ON (school_code, stage) school_code, stage, enrolment_region, 'roster', 'system' "
               "FROM roster_students ORDER BY school_code, stage, updated_at DESC")
    create_audit_log("identity_matching_audit_log")
    chain_audit_log("identity_matching_audit_log")


def downgrade() -> None:
    op.drop_table("identity_matching_audit_log")
    op.drop_table("institutions")
