"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 13:52:02.935140
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inbox',
    sa.Column('consumer', sa.String(length=200), nullable=False),
    sa.Column('event_id', sa.String(length=200), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('consumer', 'event_id')
    )
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('event_id', sa.String(length=200), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('headers', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('value', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id')
    )
    op.create_table('student_progress',
    sa.Column('student_key', sa.String(length=64), nullable=False),
    sa.Column('enrolment_region', sa.String(length=6), nullable=False),
    sa.Column('household_region', sa.String(length=6), nullable=False),
    sa.Column('stage', sa.String(length=20), nullable=False),
    sa.Column('match_revision', sa.Integer(), nullable=False),
    sa.Column('matched', sa.Boolean(), nullable=False),
    sa.Column('verification', sa.String(length=30), nullable=False),
    sa.Column('published', sa.Boolean(), nullable=False),
    sa.Column('paid_count', sa.Integer(), nullable=False),
    sa.Column('paid_fen', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('student_key')
    )
    op.create_index(op.f('ix_student_progress_enrolment_region'), 'student_progress', ['enrolment_region'], unique=False)
    op.create_index(op.f('ix_student_progress_household_region'), 'student_progress', ['household_region'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_student_progress_household_region'), table_name='student_progress')
    op.drop_index(op.f('ix_student_progress_enrolment_region'), table_name='student_progress')
    op.drop_table('student_progress')
    op.drop_table('outbox')
    op.drop_table('inbox')
