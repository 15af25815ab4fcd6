"""Migration 0008 on real PostgreSQL: stored students/matched counters become "unmatched", and the
derived totals read the same as the stored ones did; the downgrade restores them."""

from __future__ import annotations

import psycopg
from alembic import command

from aid_chassis.migrations import alembic_config, upgrade
from reporting.domain.counts import with_totals

BUCKET = ("enrolment", "520102", "5201020001", "*", "primary")
BEFORE = {"students": 5, "matched": 4, "pending": 3, "verified_unchanged": 1, "withdrawn": 1, "supplemented": 1}


def _rows(url: str) -> dict[str, int]:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        return dict(conn.execute("SELECT metric, value FROM progress_counts WHERE dimension = %s AND region = %s "
                                 "AND school_code = %s AND category = %s AND stage = %s", BUCKET).fetchall())


def test_students_and_matched_rows_become_unmatched_and_come_back(fresh_database):
    upgrade("reporting:migrations", fresh_database, "0007")
    with psycopg.connect(fresh_database.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        for metric, value in BEFORE.items():
            conn.execute("INSERT INTO progress_counts VALUES (%s, %s, %s, %s, %s, %s, %s)", (*BUCKET, metric, value))
    upgrade("reporting:migrations", fresh_database, "0008")
    after = _rows(fresh_database)
    assert "students" not in after and "matched" not in after and after["unmatched"] == 1
    assert {k: v for k, v in with_totals(after).items() if k != "unmatched"} == BEFORE
    # a worker of the previous version adds a match (students, matched, pending) after the upgrade
    with psycopg.connect(fresh_database.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        for metric in ("students", "matched", "pending"):
            conn.execute("INSERT INTO progress_counts VALUES (%s, %s, %s, %s, %s, %s, 1) ON CONFLICT "
                         "(dimension, region, school_code, category, stage, metric) DO UPDATE SET value = "
                         "progress_counts.value + 1", (*BUCKET, metric))
    later = with_totals(_rows(fresh_database))
    assert (later["students"], later["matched"], later["unmatched"]) == (6, 5, 1)
    command.downgrade(alembic_config("reporting:migrations", fresh_database), "0007")
    assert _rows(fresh_database) == {**BEFORE, "students": 6, "matched": 5, "pending": 4}
