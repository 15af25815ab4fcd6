"""the roster and each department's list are kept as sealed snapshots (aid_chassis.vault), one
value per part (students by their keys' first character), instead of rows with ID numbers and names in the clear. Rows stored before stay in
roster_students / department_records and are read from there until the next import of that
snapshot moves them (service_layer/snapshots.py). The roster's students per school are counted
in roster_schools (what institutions show, and what stops a school with students being removed),
each list's people by category and county in list_statistics.

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sealed_snapshots",
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("scope", sa.String(40), primary_key=True),
        sa.Column("part", sa.String(12), primary_key=True),
        sa.Column("batch_id", sa.String(40), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.execute("ALTER TABLE sealed_snapshots ALTER COLUMN sealed SET STORAGE EXTERNAL")  # sealed: no use compressing
    op.create_table(
        "roster_schools",
        sa.Column("school_code", sa.String(20), primary_key=True),
        sa.Column("stage", sa.String(20), primary_key=True),
        sa.Column("enrolment_region", sa.String(6), primary_key=True),
        sa.Column("students", sa.Integer(), nullable=False),
    )
    op.execute("INSERT INTO roster_schools SELECT school_code, stage, enrolment_region, count(*) FROM roster_students "
               "GROUP BY school_code, stage, enrolment_region")
    op.create_table(
        "list_statistics",
        sa.Column("department", sa.String(40), primary_key=True),
        sa.Column("statistics", JSONB(), nullable=False),
    )
    op.execute("INSERT INTO list_statistics SELECT d.department, jsonb_build_object("
               "'by_category', (SELECT jsonb_object_agg(category, n) FROM (SELECT category, count(*) AS n "
               "FROM department_records c WHERE c.department = d.department GROUP BY category) x), "
               "'by_county', (SELECT jsonb_object_agg(household_region, n) FROM (SELECT household_region, count(*) AS n "
               "FROM department_records c WHERE c.department = d.department GROUP BY household_region) y)) "
               "FROM (SELECT DISTINCT department FROM department_records) d")


def downgrade() -> None:
    if op.get_bind().execute(sa.text("SELECT count(*) FROM sealed_snapshots")).scalar():
        raise RuntimeError("sealed snapshots hold the roster, lists and matches' text: downgrading past 0011 would "
                           "lose them (the old tables were emptied as each moved); restore a backup instead")
    op.drop_table("list_statistics")
    op.drop_table("roster_schools")
    op.drop_table("sealed_snapshots")
