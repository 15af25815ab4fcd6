"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 13:52:00.871313
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
    op.create_table('verification_task_history',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('task_id', sa.String(length=40), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_verification_task_history_task_id'), 'verification_task_history', ['task_id'], unique=False)
    op.create_table('verification_tasks',
    sa.Column('task_id', sa.String(length=40), nullable=False),
    sa.Column('student_key', sa.String(length=64), nullable=False),
    sa.Column('match_id', sa.String(length=40), nullable=False),
    sa.Column('match_revision', sa.Integer(), nullable=False),
    sa.Column('school_code', sa.String(length=20), nullable=False),
    sa.Column('enrolment_region', sa.String(length=6), nullable=False),
    sa.Column('household_region', sa.String(length=6), nullable=False),
    sa.Column('student', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('categories', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('invalid_reason', sa.String(length=200), nullable=True),
    sa.Column('open', sa.Boolean(), nullable=False),
    sa.Column('closed_reason', sa.String(length=200), nullable=True),
    sa.Column('verified_by', sa.String(length=100), nullable=True),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('task_id'),
    sa.UniqueConstraint('student_key')
    )
    op.create_index(op.f('ix_verification_tasks_enrolment_region'), 'verification_tasks', ['enrolment_region'], unique=False)
    op.create_index(op.f('ix_verification_tasks_household_region'), 'verification_tasks', ['household_region'], unique=False)
    op.create_index(op.f('ix_verification_tasks_school_code'), 'verification_tasks', ['school_code'], unique=False)


def downgrade() -> None:
    drop_outbox_and_inbox()
    op.drop_index(op.f('ix_verification_tasks_school_code'), table_name='verification_tasks')
    op.drop_index(op.f('ix_verification_tasks_household_region'), table_name='verification_tasks')
    op.drop_index(op.f('ix_verification_tasks_enrolment_region'), table_name='verification_tasks')
    op.drop_table('verification_tasks')
    op.drop_index(op.f('ix_verification_task_history_task_id'), table_name='verification_task_history')
    op.drop_table('verification_task_history')
