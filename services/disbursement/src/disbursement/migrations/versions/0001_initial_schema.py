"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 13:52:01.924505
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
    op.create_table('payments',
    sa.Column('payment_id', sa.String(length=40), nullable=False),
    sa.Column('list_id', sa.String(length=40), nullable=False),
    sa.Column('student_key', sa.String(length=64), nullable=False),
    sa.Column('programme_code', sa.String(length=60), nullable=False),
    sa.Column('programme_name', sa.String(length=100), nullable=False),
    sa.Column('period', sa.String(length=20), nullable=False),
    sa.Column('amount_fen', sa.Integer(), nullable=False),
    sa.Column('student', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('bank_reference', sa.String(length=40), nullable=True),
    sa.Column('paid_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('payment_id'),
    sa.UniqueConstraint('list_id', 'student_key', name='one_payment_per_student_per_list')
    )
    op.create_index(op.f('ix_payments_status'), 'payments', ['status'], unique=False)


def downgrade() -> None:
    drop_outbox_and_inbox()
    op.drop_index(op.f('ix_payments_status'), table_name='payments')
    op.drop_table('payments')
