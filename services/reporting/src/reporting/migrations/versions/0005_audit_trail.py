"""every service's audit entries, for bureaus' search (审计日志查询).

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_trail",
        sa.Column("service", sa.String(30), primary_key=True), sa.Column("entry_id", sa.BigInteger(), primary_key=True),
        sa.Column("entity", sa.String(40), nullable=False), sa.Column("entity_id", sa.String(100), nullable=False),
        sa.Column("action", sa.String(40), nullable=False), sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("role", sa.String(30)), sa.Column("institution", sa.String(40)),
        sa.Column("region", sa.String(12, collation="C"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False), sa.Column("trace_id", sa.String(32)),
        sa.Column("detail", postgresql.JSONB(), nullable=False), sa.Column("hash", sa.String(64), nullable=False),
    )
    for column in ("entity_id", "actor", "region", "at"):
        op.create_index(f"ix_audit_trail_{column}", "audit_trail", [column])


def downgrade() -> None:
    op.drop_table("audit_trail")
