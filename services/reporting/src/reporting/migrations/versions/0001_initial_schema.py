"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 13:52:02.935140
"""
from alembic import op
import sqlalchemy as sa

from aid_chassis.migrations import create_outbox_and_inbox, drop_outbox_and_inbox

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox_and_inbox()
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
    drop_outbox_and_inbox()
    op.drop_index(op.f('ix_student_progress_household_region'), table_name='student_progress')
    op.drop_index(op.f('ix_student_progress_enrolment_region'), table_name='student_progress')
    op.drop_table('student_progress')
