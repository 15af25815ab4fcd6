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
- broker_warmup  records sent before the pipeline, not timed: a running platform's broker has its
                 code compiled (the floors, measured after the pipeline, found it so already)
- import.*       the service's import of the roster, then of the four departments' lists in one
                 comparison round, with the seconds of each stage (read, validate, store, compare…)
- outbox_mb      the compressed size of the packed events the round queued (PostgreSQL stores it)
- publish        the outbox relay publishing every event
- reimport_1pct  re-importing the largest list with 1% of its rows changed
- peak_rss_mb    the benchmark process's peak memory: the pipeline with the files' bytes (the
                 province is generated in a child process); ``rss_mb`` the peak of each stage

Writes ``bench/results/matching.json``; ``make bench`` prints it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import multiprocessing
import json
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import polars as pl
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from aid_chassis import bulk
from aid_chassis.fields import FieldCipher, new_key_text
from aid_chassis.kafka import ensure_topics, make_producer
from aid_chassis.migrations import upgrade
from aid_chassis.outbox import OutboxRelay
from aid_chassis.settings import ServiceSettings
from aid_local import demo_data, infra
from aid_local.platform import Platform
from identity_matching.adapters import tables
from identity_matching.domain.matching import EligibilityPolicy
from identity_matching.service_layer import imports
from report import save

RESULTS = Path(__file__).resolve().parent / "results" / "matching.json"
BY = imports.Importer(actor="bench", secret=b"benchmark-pseudonym-secret", policy=EligibilityPolicy(year=2026),
                      fields=FieldCipher.from_text(f"1={new_key_text()}"))


class _Rss:
    """The process's resident memory sampled every 20 ms in a thread; ``peak`` since the last reset."""

    def __init__(self) -> None:
        self.peak = 0
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while True:
            with open("/proc/self/statm") as statm:
                self.peak = max(self.peak, int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE"))
            time.sleep(0.02)

    def take(self) -> int:
        """The peak in MB since the last call."""
        peak, self.peak = self.peak, 0
        return round(peak / 2**20)


RSS = _Rss()


def _timed(results: dict, name: str):
    """Time a stage; its peak resident memory goes to ``rss_mb``."""
    class Timer:
        def __enter__(self):
            RSS.take()
            self.t0 = time.perf_counter()

        def __exit__(self, *exc):
            results[name] = round(time.perf_counter() - self.t0, 3)
            results.setdefault("rss_mb", {})[name] = RSS.take()

    return Timer()


async def _floors(files: dict[str, bytes], bootstrap: str, events: int, results: dict) -> None:
    with _timed(results, "floor.parse"):
        frames = {name: pl.read_csv(io.BytesIO(content), infer_schema=False) for name, content in files.items()}
    with _timed(results, "floor.join"):
        roster = frames.pop("roster").select(pl.col("身份证号").alias("id"))
        for frame in frames.values():
            frame.select(pl.col("身份证号").alias("id")).join(roster, on="id")
    # whole record batches, round robin: no partitioner, no outbox
    await _produce(bootstrap, "bench.floor", events, _timed(results, "floor.produce"))


async def _produce(bootstrap: str, topic: str, events: int, timer=None) -> None:
    """Send ``events`` records of an event's size to ``topic`` (six partitions) in whole record
    batches; ``timer`` (a ``_timed``) times the sending alone, not the producer's start and stop."""
    if not events:
        return
    await ensure_topics(bootstrap, partitions=6, topics=[topic])
    producer = await make_producer(bootstrap, client_id="bench-floor")
    payload = b"x" * 900
    try:
        with timer or contextlib.nullcontext():
            await _send(producer, topic, events, payload)
    finally:
        await producer.stop()


async def _send(producer, topic: str, events: int, payload: bytes) -> None:
    futures, batch, partition = [], producer.create_batch(), 0
    for i in range(events):
        if batch.append(key=b"%064d" % i, value=payload, timestamp=None, headers=[]) is None:
            futures.append(await producer.send_batch(batch, topic, partition=partition % 6))
            batch, partition = producer.create_batch(), partition + 1
            batch.append(key=b"%064d" % i, value=payload, timestamp=None, headers=[])
    futures.append(await producer.send_batch(batch, topic, partition=partition % 6))
    await asyncio.gather(*futures)


BROKER_WARMUP = 200_000  # records sent before the pipeline (BENCH_BROKER_WARMUP)


async def _pipeline(sessions, departments: list[str], files: dict[str, bytes], bootstrap: str, results: dict) -> int:
    async with sessions() as s, s.begin():
        with _timed(results, "import.roster"):
            report = await imports.import_roster(s, content=files["roster"], file_name="roster.csv", by=BY)
    results["stages.roster"] = report.seconds
    uploads = [(department, files[department], f"{department}.csv") for department in departments]
    with _timed(results, "import.lists"):  # one comparison round for the four departments' lists
        async with sessions() as s, s.begin():
            report = await imports.import_department_lists(s, uploads=uploads, departments=departments, by=BY)
    results["stages.lists"] = report.seconds
    outbox = tables.chassis.outbox  # the packed events' compressed size (what PostgreSQL stored, the relay reads)
    async with sessions() as s:
        stored = await s.scalar(select(func.coalesce(func.sum(func.octet_length(outbox.c.value)), 0))
                                .where(outbox.c.headers[bulk.PACKED].is_not(None)))
    results["outbox_mb"] = round(stored / 2**20, 1)
    relay = OutboxRelay(sessions, tables.chassis.outbox, bootstrap_servers=bootstrap, service="bench",
                        batch_size=ServiceSettings.model_fields["relay_batch_size"].default)  # as the services
    relay._producer = await make_producer(bootstrap, client_id="bench-relay")
    sent = 0
    with _timed(results, "publish"):  # as the relay's loop: claim after claim, the next made while one is sent
        while batch := await relay.relay_pending():
            sent += batch
    await relay._producer.stop()
    return sent


async def _reimport(sessions, files: dict[str, bytes], meta: dict, results: dict) -> None:
    department = meta["largest"]
    with _timed(results, "reimport_1pct"):
        async with sessions() as s, s.begin():
            report = await imports.import_department_list(
                s, department=department, departments=meta["departments"], content=files["reimport"],
                file_name="l.csv", by=BY)
    results["stages.reimport_1pct"] = report.seconds
    results["reimport_1pct_changed"] = report.matched_changed


def _generate(students: int, list_share: float, folder: str) -> None:
    """Write the province's files (and the largest list with 1% of its names changed) to ``folder``.

    Run in a child process, so the benchmark's peak memory is the pipeline's (with the files'
    bytes), not the generator's millions of Python objects."""
    shape = demo_data.ListShape(on_a_list=list_share, on_two_lists=0.1, outsiders=0.5)
    province = demo_data.generate(students, seed=11, schools_per_county=max(40, students // 5000), shape=shape)
    out = Path(folder)
    (out / "roster").write_bytes(province.roster_csv())
    for department in province.lists:
        (out / department).write_bytes(province.list_csv(department))
    largest = max(province.lists, key=lambda d: len(province.lists[d]))
    rows = province.lists[largest]
    step = max(len(rows) // max(len(rows) // 100, 1), 1)
    for row in rows[::step]:
        row[1] = row[1] + "某"  # a changed name: 1% of the rows
    (out / "reimport").write_bytes(province.list_csv(largest))
    (out / "meta.json").write_text(json.dumps({
        "departments": list(province.lists), "largest": largest,
        "department_records": sum(len(r) for r in province.lists.values())}))


def _province_files(students: int, list_share: float, folder: str) -> tuple[dict[str, bytes], dict]:
    child = multiprocessing.get_context("spawn").Process(target=_generate, args=(students, list_share, folder))
    child.start()
    child.join()
    if child.exitcode != 0:
        raise RuntimeError(f"generating the province failed (exit code {child.exitcode})")
    meta = json.loads((Path(folder) / "meta.json").read_text())
    names = ["roster", *meta["departments"], "reimport"]
    return {name: (Path(folder) / name).read_bytes() for name in names}, meta


async def run(students: int, list_share: float) -> dict:
    results: dict = {"students": students}
    with tempfile.TemporaryDirectory(prefix="aid-bench-files-") as folder:
        files, meta = _province_files(students, list_share, folder)
    results["department_records"] = meta["department_records"]
    with tempfile.TemporaryDirectory(prefix="aid-bench-") as state:
        platform = Platform(state_dir=Path(state), kafka_port=24092, postgres_port=24432)
        try:
            await asyncio.to_thread(infra.start, platform, partitions=6)
            url = f"postgresql+psycopg://aid@127.0.0.1:{platform.postgres_port}/identity_matching"
            await asyncio.to_thread(upgrade, "identity_matching:migrations", url)
            engine = create_async_engine(url, pool_size=4)
            sessions = async_sessionmaker(engine, expire_on_commit=False)
            warm = results["broker_warmup"] = int(os.environ.get("BENCH_BROKER_WARMUP", str(BROKER_WARMUP)))
            await _produce(platform.bootstrap_servers, "bench.warmup", warm)  # a running platform's broker
            results["events"] = await _pipeline(sessions, meta["departments"], files, platform.bootstrap_servers,
                                                results)
            await _floors({k: v for k, v in files.items() if k != "reimport"}, platform.bootstrap_servers,
                          results["events"], results)
            await _reimport(sessions, files, meta, results)
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
    save(RESULTS, results)
    json.dump(results, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
