"""versioned programme rules, the list workflow (submit, audit, entry states), objections,
messages to schools, an audit log

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

_ALL = ["disabled", "extreme_poverty", "minimum_allowance", "needy_worker_family", "orphan", "registered_poor"]
_TERM_MONTHS = [1, 2, 3, 4, 5, 6, 9, 10, 11, 12]
_SEED = [  # the national standards as version 1 (amounts in fen per period), frozen here
    ("preschool_aid", "学前教育幼儿资助", "preschool", False, 50_000),
    ("compulsory_living_subsidy_primary", "义务教育家庭经济困难学生生活补助（小学）", "primary", False, 50_000),
    ("compulsory_living_subsidy_junior", "义务教育家庭经济困难学生生活补助（初中）", "junior", False, 62_500),
    ("senior_national_grant", "普通高中国家助学金", "senior", False, 100_000),
    ("vocational_national_grant", "中等职业教育国家助学金", "vocational", True, 20_000),
    ("higher_national_grant", "高等教育国家助学金", "higher", False, 185_000),
]




def upgrade() -> None:
    op.add_column("candidates", sa.Column("categories", JSONB, nullable=False, server_default="[]"))
    op.add_column("aid_lists", sa.Column("rules_version", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("aid_lists", sa.Column("audit_reason", sa.String(200)))
    op.add_column("aid_lists", timestamp("submitted_at"))
    op.add_column("aid_lists", timestamp("finalised_at"))
    op.add_column("aid_list_entries", sa.Column("entry_no", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("aid_list_entries", sa.Column("state", sa.String(20), nullable=False, server_default="in"))
    op.add_column("aid_list_entries", sa.Column("state_reason", sa.String(200)))
    op.execute("UPDATE aid_list_entries e SET entry_no = n.no FROM (SELECT list_id, student_key, row_number() "
               "OVER (PARTITION BY list_id ORDER BY student_key) AS no FROM aid_list_entries) n "
               "WHERE e.list_id = n.list_id AND e.student_key = n.student_key")
    versions = op.create_table(
        "programme_versions",
        sa.Column("code", sa.String(60), primary_key=True), sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("effective_key", sa.Integer(), nullable=False), sa.Column("rules", JSONB, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False), timestamp("created_at", nullable=False))
    op.bulk_insert(versions, [
        {"code": code, "version": 1, "effective_key": 202003, "created_by": "migration", "rules": {
            "name": name, "stage": stage, "monthly": monthly, "amount_fen": amount, "categories": _ALL,
            "amount_by_category": {}, "pay_months": _TERM_MONTHS, "effective_from": "2020-spring"}}
        for code, name, stage, monthly, amount in _SEED])
    _create_objections_and_messages()


def _create_objections_and_messages() -> None:
    op.create_table(
        "objections",
        sa.Column("objection_id", sa.String(40), primary_key=True),
        sa.Column("list_id", sa.String(40), sa.ForeignKey("aid_lists.list_id"), nullable=False, index=True),
        sa.Column("entry_no", sa.Integer()), sa.Column("contact_name", sa.String(50), nullable=False),
        sa.Column("contact_phone", sa.String(20), nullable=False), sa.Column("text", sa.String(1000), nullable=False),
        sa.Column("client_hash", sa.String(64), nullable=False, index=True), timestamp("submitted_at", nullable=False),
        sa.Column("state", sa.String(20), nullable=False, server_default="open"),
        sa.Column("decided_by", sa.String(100)), timestamp("decided_at"), sa.Column("decision_reason", sa.String(200)))
    op.create_table(
        "school_messages",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), primary_key=True),
        sa.Column("school_code", sa.String(20), nullable=False, index=True),
        sa.Column("list_id", sa.String(40), nullable=False), sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("message", sa.String(500), nullable=False),
        sa.Column("read", sa.Boolean(), nullable=False, server_default="false"), timestamp("at", nullable=False))
    create_audit_log("publicity_audit_log")


def downgrade() -> None:
    for table in ("publicity_audit_log", "school_messages", "objections", "programme_versions"):
        op.drop_table(table)
    for table, column in (("aid_list_entries", "state_reason"), ("aid_list_entries", "state"),
                          ("aid_list_entries", "entry_no"), ("aid_lists", "finalised_at"), ("aid_lists", "submitted_at"),
                          ("aid_lists", "audit_reason"), ("aid_lists", "rules_version"), ("candidates", "categories")):
        op.drop_column(table, column)
