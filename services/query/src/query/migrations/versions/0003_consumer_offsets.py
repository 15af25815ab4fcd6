"""consumer offsets instead of an inbox row per event; the timeline keyed by (student, event).

query's consumer applies whole batches and now keeps its offsets in ``consumer_offsets``; its
inbox rows (but the dead-letter marks) are no longer read. A timeline's lines are one range of
the primary key, so the separate index on ``student_key`` goes.

Revision ID: 0003
Revises: 0002
"""
from alembic import op

from aid_chassis.migrations import create_consumer_offsets

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_consumer_offsets("query")
    op.drop_index("ix_timeline_student_key", table_name="timeline")
    op.drop_constraint("timeline_pkey", "timeline", type_="primary")
    op.create_primary_key("timeline_pkey", "timeline", ["student_key", "event_id"])


def downgrade() -> None:
    op.drop_constraint("timeline_pkey", "timeline", type_="primary")
    op.create_primary_key("timeline_pkey", "timeline", ["event_id"])
    op.create_index("ix_timeline_student_key", "timeline", ["student_key"])
    op.drop_table("consumer_offsets")
