"""Where a benchmark's PostgreSQL time goes, per statement (``pg_stat_statements``), for the
benchmarks that start their own server: ``SETTINGS`` goes into ``AID_POSTGRES_SETTINGS`` before the
server starts; ``reset`` at the start of the measured part, ``top`` at its end. Statements are
recorded with placeholders, never their values: no personal data reaches the results."""

from __future__ import annotations

import psycopg

SETTINGS = "shared_preload_libraries=pg_stat_statements"
WIDTH = 160  # characters of a statement's text kept


def reset(server_url: str) -> None:
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("SELECT pg_stat_statements_reset()")


def top(server_url: str, databases: tuple[str, ...], limit: int = 8) -> list[dict]:
    """The ``limit`` statements of each of ``databases`` that took longest in all (milliseconds of
    execution, wall time: on a busy machine it includes waiting for a core)."""
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        rows = conn.execute(
            "SELECT d.datname, s.calls, round(s.total_exec_time::numeric, 1)::float, s.rows, "
            "       left(regexp_replace(s.query, '\\s+', ' ', 'g'), %s) "
            "FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
            "WHERE d.datname = ANY(%s) ORDER BY d.datname, s.total_exec_time DESC", (WIDTH, list(databases))).fetchall()
    out: list[dict] = []
    for name in databases:
        mine = [r for r in rows if r[0] == name][:limit]
        out += [{"database": d, "calls": calls, "ms": ms, "rows": n, "statement": text} for d, calls, ms, n, text in mine]
    return out
