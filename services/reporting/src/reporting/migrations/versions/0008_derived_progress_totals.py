"""progress counters keep each student's status and "unmatched"; students and matched are derived.

Every student has exactly one status, so the number of students in a bucket is the sum of its
status counters, and matched is that minus the unmatched (supplemented students no department
listed). Not storing them cuts the rows a burst of new matches writes from three per bucket to one.
Existing counters are converted: unmatched = students − matched, then both rows go. A worker of
the previous version still running after the upgrade (a rolling update) may add to students and
matched again; ``with_totals`` counts such rows in, so nothing it adds is lost.

Revision ID: 0008
Revises: 0007
"""
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BUCKET = "dimension, region, school_code, category, stage"


def _fold_into_unmatched() -> None:
    """Stored students and matched rows become unmatched (students − matched), then go."""
    op.execute("LOCK TABLE progress_counts IN SHARE ROW EXCLUSIVE MODE")  # no counter moves in between
    op.execute(f"""
        INSERT INTO progress_counts ({BUCKET}, metric, value)
        SELECT {BUCKET}, 'unmatched', sum(CASE metric WHEN 'students' THEN value ELSE -value END)
        FROM progress_counts WHERE metric IN ('students', 'matched')
        GROUP BY {BUCKET} HAVING sum(CASE metric WHEN 'students' THEN value ELSE -value END) <> 0
        ON CONFLICT ({BUCKET}, metric) DO UPDATE SET value = progress_counts.value + EXCLUDED.value""")
    op.execute("DELETE FROM progress_counts WHERE metric IN ('students', 'matched')")


def upgrade() -> None:
    _fold_into_unmatched()


def downgrade() -> None:
    _fold_into_unmatched()  # rows a worker of this version's predecessor added meanwhile included
    statuses = "'pending', 'verified_unchanged', 'verified_updated', 'invalid', 'withdrawn'"
    op.execute(f"""
        INSERT INTO progress_counts ({BUCKET}, metric, value)
        SELECT {BUCKET}, 'students', sum(value) FROM progress_counts WHERE metric IN ({statuses})
        GROUP BY {BUCKET}""")
    op.execute(f"""
        INSERT INTO progress_counts ({BUCKET}, metric, value)
        SELECT {BUCKET}, 'matched', sum(CASE metric WHEN 'unmatched' THEN -value ELSE value END)
        FROM progress_counts WHERE metric IN ({statuses}, 'unmatched') GROUP BY {BUCKET}""")
    op.execute("DELETE FROM progress_counts WHERE metric = 'unmatched'")
