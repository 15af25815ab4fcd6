"""Benchmark: PostgreSQL's CPU for each statement kind of query's and reporting's projections.

``bench/projections.py`` says how much CPU a burst costs each projection; this one says where the
server's share goes, and what a statement's alternative would cost. The same ``BENCH_EVENTS``
(default 150,000) sealed matches are applied by each service's own consumer (as in
``projections.py``) while every statement's rows are captured; then each table's captured
statements are replayed alone, on a fresh migrated database of a server of its own, and the
server's CPU is measured:

- ``<service>.<table>.as_built``   the statements as the projection sends them (new rows inserted,
                                    the rows it read merged: ``projection.upsert(stored=)``)
- ``<service>.<table>.all_merged`` every row through ``INSERT … ON CONFLICT`` (before 2026-12-02)

A burst's timeline lines travel in the students' rows (query migration 0008: the line of the event
that made a row), so the timeline table's statements are no longer replayed here.

Writes ``bench/results/statements.json``. Not part of ``make bench``'s goals (the goal is the
catch-up, ``read_side``); run it to judge a change to a statement.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import tempfile
from pathlib import Path

import projections
from aid_chassis import db, process, projection
from aid_local.postgres import PostgresServer

RESULTS = Path(__file__).resolve().parent / "results" / "statements.json"
VARIANTS = {"query": {"students": ("as_built", "all_merged")},
            "reporting": {"students": ("as_built", "all_merged")}}
# reporting's counters go through ``projection.add_counts`` (a JSON array per column, 2026-12-03), not ``_merge``:
# not captured here (their figures in statements.json are older)


async def _capture(name: str, server: PostgresServer, records: list) -> list[tuple[str, list, dict]]:
    """Apply the burst through the service's consumer; every ``_merge`` call's table, rows and options."""
    captured: list[tuple[str, list, dict]] = []
    merge = projection._merge

    async def spy(session, table, rows, **options):
        rows = list(rows)
        captured.append((table.name, rows, options))
        await merge(session, table, rows, **options)

    server.ensure_database(f"capture_{name}")
    engine, consumer = projections._consumer(name, server.dsn(f"capture_{name}"))
    projection._merge = spy
    try:
        await projections.apply_burst(consumer, records, consumer.batch_size)
    finally:
        projection._merge = merge
        await engine.dispose()
    return captured


async def _replay(name: str, server: PostgresServer, table_name: str, calls: list, variant: str) -> float:
    """Server CPU seconds for one table's captured statements, replayed alone on a fresh database."""
    database = f"{name}_{table_name}_{variant}"
    server.ensure_database(database)
    engine, _ = projections._consumer(name, server.dsn(database))  # migrated
    table = importlib.import_module(f"{name}.adapters.tables").metadata.tables[table_name]
    sessions = db.make_sessions(engine)
    before = projections._postgres_cpu(server)
    try:
        for _, rows, options in calls:
            if variant == "all_merged":
                options = {**options, "conflicts": True}
            async with sessions() as session, session.begin():
                await projection._merge(session, table, rows, **options)
        return round(projections._postgres_cpu(server) - before, 2)
    finally:
        await engine.dispose()


async def main() -> dict:
    n = int(os.environ.get("BENCH_EVENTS", "150000"))
    results: dict = {"events": n}
    records = projections._records(n)
    process.tune_gc()
    for name, tables in VARIANTS.items():
        with tempfile.TemporaryDirectory(prefix="aid-bench-") as state:
            server = PostgresServer(Path(state), port=24435)
            await asyncio.to_thread(server.start)
            try:
                captured = await _capture(name, server, records)
                for table_name, variants in tables.items():
                    calls = [c for c in captured if c[0] == table_name]
                    for variant in variants:
                        results[f"{name}.{table_name}.{variant}"] = await _replay(name, server, table_name, calls,
                                                                                  variant)
            finally:
                await asyncio.to_thread(server.stop)
    return results


if __name__ == "__main__":
    projections.write(RESULTS, asyncio.run(main()))
