"""the line of the event that made a student's row is kept in the row (``students.first_line``).

A burst of new matches wrote two rows per student: the student and their timeline's first line,
each with its own index. The line of the event that makes the row now travels in the row (one
heap tuple, no second index entry): query's server CPU for 150,000 new matches 4.8–5.0 →
3.7–4.4 s (the two tables' statements replayed alone). Every other line — later ones, earlier ones
of events that made no row (aid read before the match, a withdrawal), and every line written
before this migration — stays in ``timeline``; a timeline is read from both. Adding a nullable column without a
default changes no stored row and takes its lock only for a moment.

Revision ID: 0008
Revises: 0007
"""
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE students ADD COLUMN first_line json")


def downgrade() -> None:
    op.execute("INSERT INTO timeline (student_key, event_id, event_type, occurred_at, summary) "
                "SELECT student_key, first_line->>'event_id', first_line->>'event_type', "
                "(first_line->>'occurred_at')::timestamptz, first_line->'summary' FROM students "
                "WHERE first_line IS NOT NULL ON CONFLICT DO NOTHING")
    op.execute("ALTER TABLE students DROP COLUMN first_line")
