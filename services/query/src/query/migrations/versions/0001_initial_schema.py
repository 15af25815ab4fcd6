"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 13:52:02.432876
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
    op.create_table('aid_records',
    sa.Column('list_id', sa.String(length=40), nullable=False),
    sa.Column('student_key', sa.String(length=64), nullable=False),
    sa.Column('programme_name', sa.String(length=100), nullable=False),
    sa.Column('period', sa.String(length=20), nullable=False),
    sa.Column('amount_fen', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('paid_on', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('list_id', 'student_key')
    )
    op.create_table('students',
    sa.Column('student_key', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('id_number', sa.String(length=18), nullable=False),
    sa.Column('school_code', sa.String(length=20), nullable=False),
    sa.Column('stage', sa.String(length=20), nullable=False),
    sa.Column('enrolment_region', sa.String(length=6), nullable=False),
    sa.Column('household_region', sa.String(length=6), nullable=False),
    sa.Column('match_revision', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.PrimaryKeyConstraint('student_key')
    )
    op.create_index(op.f('ix_students_enrolment_region'), 'students', ['enrolment_region'], unique=False)
    op.create_index(op.f('ix_students_household_region'), 'students', ['household_region'], unique=False)
    op.create_index(op.f('ix_students_school_code'), 'students', ['school_code'], unique=False)
    op.create_table('timeline',
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('student_key', sa.String(length=64), nullable=False),
    sa.Column('event_type', sa.String(length=40), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('summary', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.PrimaryKeyConstraint('event_id')
    )
    op.create_index(op.f('ix_timeline_student_key'), 'timeline', ['student_key'], unique=False)


def downgrade() -> None:
    drop_outbox_and_inbox()
    op.drop_index(op.f('ix_timeline_student_key'), table_name='timeline')
    op.drop_table('timeline')
    op.drop_index(op.f('ix_students_school_code'), table_name='students')
    op.drop_index(op.f('ix_students_household_region'), table_name='students')
    op.drop_index(op.f('ix_students_enrolment_region'), table_name='students')
    op.drop_table('students')
    op.drop_table('aid_records')
