"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 13:52:01.378889
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
    op.create_table('aid_lists',
    sa.Column('list_id', sa.String(length=40), nullable=False),
    sa.Column('school_code', sa.String(length=20), nullable=False),
    sa.Column('region', sa.String(length=6), nullable=False),
    sa.Column('programme_code', sa.String(length=60), nullable=False),
    sa.Column('period', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('approved_by', sa.String(length=100), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notice_ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('list_id'),
    sa.UniqueConstraint('school_code', 'programme_code', 'period', name='one_list_per_school_programme_period')
    )
    op.create_index(op.f('ix_aid_lists_notice_ends_at'), 'aid_lists', ['notice_ends_at'], unique=False)
    op.create_index(op.f('ix_aid_lists_school_code'), 'aid_lists', ['school_code'], unique=False)
    op.create_table('candidates',
    sa.Column('student_key', sa.String(length=64), nullable=False),
    sa.Column('school_code', sa.String(length=20), nullable=False),
    sa.Column('stage', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('match_revision', sa.Integer(), nullable=False),
    sa.Column('student', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('student_key')
    )
    op.create_index(op.f('ix_candidates_school_code'), 'candidates', ['school_code'], unique=False)
    op.create_table('aid_list_entries',
    sa.Column('list_id', sa.String(length=40), nullable=False),
    sa.Column('student_key', sa.String(length=64), nullable=False),
    sa.Column('amount_fen', sa.Integer(), nullable=False),
    sa.Column('student', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.ForeignKeyConstraint(['list_id'], ['aid_lists.list_id'], ),
    sa.PrimaryKeyConstraint('list_id', 'student_key')
    )


def downgrade() -> None:
    drop_outbox_and_inbox()
    op.drop_table('aid_list_entries')
    op.drop_index(op.f('ix_candidates_school_code'), table_name='candidates')
    op.drop_table('candidates')
    op.drop_index(op.f('ix_aid_lists_school_code'), table_name='aid_lists')
    op.drop_index(op.f('ix_aid_lists_notice_ends_at'), table_name='aid_lists')
    op.drop_table('aid_lists')
