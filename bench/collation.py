"""Benchmark: what a database's collation costs the services' keys (docs/deploy.md).

On a PostgreSQL server it starts itself (loopback, a temporary directory), one database per
collation — byte order ("C", the floor) and each language order this machine's C library has
among ``BENCH_LOCALES`` (default zh_CN.UTF-8, en_US.UTF-8, C.utf8) — and in each, ``BENCH_KEYS``
(default 300,000) student keys like the services' (64 hex digits, in random order):

- ``<locale>.insert_us``   microseconds a key entered into a primary key (``INSERT … SELECT``)
- ``<locale>.sort_us``     microseconds a key sorted (``ORDER BY``)
- ``<locale>.ratio``       each of the two against byte order's, measured in the same run
- ``unavailable``          locales the C library lacks (``localedef`` makes them)

Each figure is the fastest of ``BENCH_REPEATS`` (default 3) rounds, the databases taking turns.
Writes ``bench/results/collation.json``; run it alone (`python bench/collation.py`), it is not part
of ``make bench``'s goals.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import psycopg

from aid_local.postgres import PostgresServer, create_collated
from report import save

RESULTS = Path(__file__).resolve().parent / "results" / "collation.json"
PORT = 26532


def _databases(admin: str, locales: list[str]) -> tuple[dict[str, str], list[str]]:
    """A database per locale that exists here (byte order first), and the locales that do not."""
    made, unavailable = {}, []
    with psycopg.connect(admin, autocommit=True) as conn:
        for i, locale in enumerate(["C", *locales]):
            if create_collated(conn, f"k{i}", locale):
                made[locale] = f"k{i}"
            else:
                unavailable.append(locale)
    return made, unavailable


def _round(dsn: str, keys: int) -> tuple[float, float]:
    """Seconds to enter ``keys`` random keys into a primary key, and to sort them."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS keyed, source")
        conn.execute("CREATE TABLE keyed (student_key varchar(64) PRIMARY KEY, n int)")
        conn.execute("CREATE UNLOGGED TABLE source AS SELECT md5(i::text) || md5((i + 1)::text) AS student_key, "
                     "i AS n FROM generate_series(1, %s) i", (keys,))
        start = time.perf_counter()
        conn.execute("INSERT INTO keyed SELECT student_key, n FROM source")
        inserted = time.perf_counter() - start
        start = time.perf_counter()
        conn.execute("SELECT count(*) FROM (SELECT student_key FROM source ORDER BY student_key) s")
        return inserted, time.perf_counter() - start


def main() -> dict:
    keys = int(os.environ.get("BENCH_KEYS", "300000"))
    repeats = int(os.environ.get("BENCH_REPEATS", "3"))
    locales = [x for x in os.environ.get("BENCH_LOCALES", "zh_CN.UTF-8,en_US.UTF-8,C.utf8").split(",") if x]
    with tempfile.TemporaryDirectory(prefix="aid-bench-") as state:
        server = PostgresServer(Path(state), port=PORT)
        server.start()
        try:
            made, unavailable = _databases(server.libpq_dsn("postgres"), locales)
            best = {locale: (float("inf"), float("inf")) for locale in made}
            for _ in range(repeats):
                for locale, database in made.items():
                    took = _round(server.libpq_dsn(database), keys)
                    best[locale] = tuple(min(a, b) for a, b in zip(best[locale], took, strict=True))
        finally:
            server.stop()
    floor = best["C"]
    found: dict = {"keys": keys, "repeats": repeats, "unavailable": unavailable}
    for locale, (inserted, ordered) in best.items():
        found[locale] = {"insert_us": round(inserted / keys * 1e6, 2), "sort_us": round(ordered / keys * 1e6, 2),
                         "ratio": {"insert": round(inserted / floor[0], 2), "sort": round(ordered / floor[1], 2)}}
    return found


if __name__ == "__main__":
    found = main()
    save(RESULTS, found)
    print(json.dumps(found, indent=1, ensure_ascii=False))
