"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 13:52:00.284722
"""
from alembic import op
import sqlalchemy as sa

from aid_chassis.migrations import create_outbox_and_inbox, drop_outbox_and_inbox
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox_and_inbox()
    op.create_table('department_records',
    sa.Column('department', sa.String(length=40), nullable=False),
    sa.Column('student_key', sa.String(length=64), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('id_number', sa.String(length=18), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('household_region', sa.String(length=6), nullable=False),
    sa.Column('poverty_status', sa.String(length=20), nullable=True),
    sa.Column('exit_year', sa.SmallInteger(), nullable=True),
    sa.Column('batch_id', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('department', 'student_key', 'category')
    )
    op.create_table('import_batches',
    sa.Column('batch_id', sa.String(length=40), nullable=False),
    sa.Column('list_kind', sa.String(length=20), nullable=False),
    sa.Column('department', sa.String(length=40), nullable=True),
    sa.Column('file_name', sa.String(length=200), nullable=False),
    sa.Column('read', sa.Integer(), nullable=False),
    sa.Column('accepted', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('rejections', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('outcome', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('batch_id')
    )
    op.create_table('matches',
    sa.Column('student_key', sa.String(length=64), nullable=False),
    sa.Column('match_id', sa.String(length=40), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('school_code', sa.String(length=20), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('student_key'),
    sa.UniqueConstraint('match_id')
    )
    op.create_table('roster_students',
    sa.Column('student_key', sa.String(length=64), nullable=False),
    sa.Column('id_number', sa.String(length=18), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('school_code', sa.String(length=20), nullable=False),
    sa.Column('stage', sa.String(length=20), nullable=False),
    sa.Column('enrolment_region', sa.String(length=6), nullable=False),
    sa.Column('household_region', sa.String(length=6), nullable=False),
    sa.Column('batch_id', sa.String(length=40), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('student_key')
    )
    op.create_index(op.f('ix_roster_students_school_code'), 'roster_students', ['school_code'], unique=False)


def downgrade() -> None:
    drop_outbox_and_inbox()
    op.drop_index(op.f('ix_roster_students_school_code'), table_name='roster_students')
    op.drop_table('roster_students')
    op.drop_table('matches')
    op.drop_table('import_batches')
    op.drop_table('department_records')
