"""Benchmark: identity-matching from files to every student-matched event published.

Runs on real servers it starts itself (Kafka, PostgreSQL on loopback, in a temporary state
directory) with a synthetic province of ``BENCH_STUDENTS`` students (default 1,500,000, issue
3's size) and department lists of about two thirds as many records (``BENCH_LIST_SHARE``
of the students on a list, some on two, plus people who are not students), and measures each
stage next to its floor in the same run:

- floor.parse    reading the same CSV bytes into columns with polars, nothing else
- floor.join     joining the lists' ID numbers to the roster's with polars
- floor.produce  sending as many records of the same size to Kafka with the same producer, in
                 whole record batches
- import.*       the service's import of the roster, then of the four departments' lists in one
                 comparison round, with the seconds of each stage (read, validate, store, compare…)
- publish        the outbox relay publishing every event
- reimport_1pct  re-importing the largest list with 1% of its rows changed

Writes ``bench/results/matching.json``; ``make bench`` prints it.
"""

from __future__ import annotations

import asyncio
import gc
import io
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from aid_chassis.kafka import ensure_topics, make_producer
from aid_chassis.migrations import upgrade
from aid_chassis.outbox import OutboxRelay
from aid_local import demo_data, infra
from aid_local.platform import Platform
from identity_matching.adapters import tables
from identity_matching.domain.matching import EligibilityPolicy
from identity_matching.service_layer import imports

RESULTS = Path(__file__).resolve().parent / "results" / "matching.json"
BY = imports.Importer(actor="bench", secret=b"benchmark-pseudonym-secret", policy=EligibilityPolicy(year=2026))


def _timed(results: dict, name: str):
    class Timer:
        def __enter__(self):
            self.t0 = time.perf_counter()

        def __exit__(self, *exc):
            results[name] = round(time.perf_counter() - self.t0, 3)

    return Timer()


async def _floors(files: dict[str, bytes], bootstrap: str, events: int, results: dict) -> None:
    with _timed(results, "floor.parse"):
        frames = {name: pl.read_csv(io.BytesIO(content), infer_schema=False) for name, content in files.items()}
    with _timed(results, "floor.join"):
        roster = frames.pop("roster").select(pl.col("身份证号").alias("id"))
        for frame in frames.values():
            frame.select(pl.col("身份证号").alias("id")).join(roster, on="id")
    await ensure_topics(bootstrap, partitions=6, topics=["bench.floor"])
    producer = await make_producer(bootstrap, client_id="bench-floor")
    payload = b"x" * 900
    with _timed(results, "floor.produce"):  # whole record batches, round robin: no partitioner, no outbox
        futures, batch, partition = [], producer.create_batch(), 0
        for i in range(events):
            if batch.append(key=b"%064d" % i, value=payload, timestamp=None, headers=[]) is None:
                futures.append(await producer.send_batch(batch, "bench.floor", partition=partition % 6))
                batch, partition = producer.create_batch(), partition + 1
                batch.append(key=b"%064d" % i, value=payload, timestamp=None, headers=[])
        futures.append(await producer.send_batch(batch, "bench.floor", partition=partition % 6))
        await asyncio.gather(*futures)
    await producer.stop()


async def _pipeline(sessions, province, files: dict[str, bytes], bootstrap: str, results: dict) -> int:
    async with sessions() as s, s.begin():
        with _timed(results, "import.roster"):
            report = await imports.import_roster(s, content=files["roster"], file_name="roster.csv", by=BY)
    results["stages.roster"] = report.seconds
    uploads = [(department, files[department], f"{department}.csv") for department in province.lists]
    with _timed(results, "import.lists"):  # one comparison round for the four departments' lists
        async with sessions() as s, s.begin():
            report = await imports.import_department_lists(s, uploads=uploads, departments=list(province.lists),
                                                           by=BY)
    results["stages.lists"] = report.seconds
    relay = OutboxRelay(sessions, tables.chassis.outbox, bootstrap_servers=bootstrap, service="bench", batch_size=10_000)
    relay._producer = await make_producer(bootstrap, client_id="bench-relay")
    sent = 0
    with _timed(results, "publish"):
        while batch := await relay.relay_once():
            sent += batch
    await relay._producer.stop()
    return sent


async def _reimport(sessions, province, results: dict) -> None:
    department = max(province.lists, key=lambda d: len(province.lists[d]))
    rows = province.lists[department]
    step = max(len(rows) // max(len(rows) // 100, 1), 1)
    for row in rows[::step]:
        row[1] = row[1] + "某"  # a changed name: 1% of the rows
    with _timed(results, "reimport_1pct"):
        async with sessions() as s, s.begin():
            report = await imports.import_department_list(
                s, department=department, departments=list(province.lists), content=province.list_csv(department),
                file_name="l.csv", by=BY)
    results["stages.reimport_1pct"] = report.seconds
    results["reimport_1pct_changed"] = report.matched_changed


async def run(students: int, list_share: float) -> dict:
    results: dict = {"students": students}
    shape = demo_data.ListShape(on_a_list=list_share, on_two_lists=0.1, outsiders=0.5)
    province = demo_data.generate(students, seed=11, schools_per_county=max(40, students // 5000), shape=shape)
    files = {"roster": province.roster_csv(), **{d: province.list_csv(d) for d in province.lists}}
    gc.freeze()  # the generated province is millions of objects: keep the collector from rescanning them
    results["department_records"] = sum(len(rows) for rows in province.lists.values())
    with tempfile.TemporaryDirectory(prefix="aid-bench-") as state:
        platform = Platform(state_dir=Path(state), kafka_port=24092, postgres_port=24432)
        try:
            await asyncio.to_thread(infra.start, platform, partitions=6)
            url = f"postgresql+psycopg://aid@127.0.0.1:{platform.postgres_port}/identity_matching"
            await asyncio.to_thread(upgrade, "identity_matching:migrations", url)
            engine = create_async_engine(url, pool_size=4)
            sessions = async_sessionmaker(engine, expire_on_commit=False)
            results["events"] = await _pipeline(sessions, province, files, platform.bootstrap_servers, results)
            await _floors(files, platform.bootstrap_servers, results["events"], results)
            await _reimport(sessions, province, results)
            await engine.dispose()
        finally:
            await asyncio.to_thread(infra.stop, platform)
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    imported = sum(v for k, v in results.items() if k.startswith("import."))
    results["files_to_events_seconds"] = round(imported + results["publish"], 3)
    floor = results["floor.parse"] + results["floor.join"] + results["floor.produce"]
    results["ratio_to_floor"] = round(results["files_to_events_seconds"] / floor, 1)
    return results


def main() -> None:
    students = int(os.environ.get("BENCH_STUDENTS", 1_500_000))
    results = asyncio.run(run(students, float(os.environ.get("BENCH_LIST_SHARE", 0.4))))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    json.dump(results, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
