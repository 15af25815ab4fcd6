"""Benchmark: what a burst of ``student-matched`` events costs query's, reporting's and verification's intake, in CPU.

``bench/read_side.py`` runs the workers as processes beside the broker and the burst's producer, on
two cores: its catch-up figures move with everything else the machine does. This one takes Kafka and
the other processes away to say where the CPU goes: the same ``BENCH_EVENTS`` (default 150,000) sealed
matches, as the records a consumer would read, are applied by each service's own consumer
(``EventConsumer.apply_batch``: envelopes, validation, the fold, the statements, the offsets) to a
fresh PostgreSQL server of its own, as many records a batch as the service's worker takes at most
(``consumer_batch_size``: 8,000 for query and reporting, in two lanes; 2,000 for verification), one
service after the other (``BENCH_SERVICES``, default ``query,reporting,verification``). Under a steady
load the batches are far smaller: ``BENCH_BATCH=200`` shows what the per-batch statements cost.

- ``<service>.cpu_seconds``       the service's Python (this process's CPU while it applies)
- ``<service>.postgres_seconds``  its PostgreSQL server's CPU over the same time
- ``<service>.seconds``           wall time

Writes ``bench/results/projections.json``. Not part of ``make bench``'s goals (the goal is the
catch-up, measured by ``read_side``, and the lag under ``load``); run it to judge a change to a projection.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import namedtuple
from pathlib import Path

from aiokafka import TopicPartition

import read_side
from aid_chassis import db, process
from aid_chassis.fields import FieldCipher, new_key_text
from aid_chassis.partitioner import partitions
from aid_chassis.worker import event_consumer
from aid_local.platform import SERVICES
from aid_local.postgres import PostgresServer
from report import save

RESULTS = Path(__file__).resolve().parent / "results" / "projections.json"
Record = namedtuple("Record", "topic partition offset key value headers timestamp")
MEASURED = "query,reporting,verification"
HANDLERS = {"query": "service_layer.projections", "reporting": "service_layer.projections",
            "verification": "service_layer.intake"}  # the module with a worker's bulk handler's TYPES
FIELD_KEYS = "1=" + new_key_text()
PSEUDONYM_KEY = "bench-" * 8


def _postgres_cpu(server: PostgresServer) -> float:
    """CPU seconds of this server's processes: the postmaster (with its exited children, reaped into
    its own counters) and its live children."""
    postmaster = (server.data / "postmaster.pid").read_text().split()[0]
    total = 0
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if entry.name == postmaster:
            total += sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
        elif fields[1] == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _records(n: int) -> list[Record]:
    """The burst as a consumer reads it: partitioned by key as the relay does, offsets per partition."""
    events = read_side._events(n, PSEUDONYM_KEY.encode(), FieldCipher.from_text(FIELD_KEYS))
    next_offset = [0] * 6
    out = []
    now = int(time.time() * 1000)
    for event, partition in zip(events, partitions([e.partitionkey.encode() for e in events], 6), strict=True):
        out.append(Record(read_side.TOPIC, partition, next_offset[partition], event.partitionkey.encode(),
                          event.value(), read_side.headers(event), now))
        next_offset[partition] += 1
    return out


def _consumer(name: str, url: str):
    """The service's own consumer of its worker's topics, on a migrated fresh database."""
    service = next(s for s in SERVICES if s.name == name)
    env = {**os.environ, f"{service.prefix}DATABASE_URL": url, "AID_FIELD_KEYS": FIELD_KEYS,
           "AID_PSEUDONYM_KEY": PSEUDONYM_KEY, "AID_JWKS_URL": "http://127.0.0.1:9/jwks"}
    subprocess.run([sys.executable, "-m", service.package, "migrate"], env=env, check=True, capture_output=True)
    os.environ.update(env)
    settings = importlib.import_module(f"{service.package}.settings").Settings()
    worker = importlib.import_module(f"{service.package}.entrypoints.worker")
    tables = importlib.import_module(f"{service.package}.adapters.tables")
    handlers = importlib.import_module(f"{service.package}.{HANDLERS[name]}")
    bulk = worker.bulk_handler(settings) if hasattr(worker, "bulk_handler") else handlers.project
    if os.environ.get("BENCH_BATCH"):
        settings.consumer_batch_size = int(os.environ["BENCH_BATCH"])
    engine = db.make_engine(settings, worker=True)
    return engine, event_consumer(settings, db.make_sessions(engine), tables.chassis, topics=worker.TOPICS,
                                  handlers={}, bulk=bulk, bulk_types=handlers.TYPES)


async def apply_burst(consumer, records: list[Record], size: int) -> None:
    """The records through the consumer, ``size`` at a time, as the worker's batches would come."""
    for first in range(0, len(records), size):
        batch: dict[TopicPartition, list[Record]] = {}
        for record in records[first:first + size]:
            batch.setdefault(TopicPartition(record.topic, record.partition), []).append(record)
        await consumer.apply_batch(batch)


async def _apply(name: str, server: PostgresServer, records: list[Record]) -> dict:
    server.ensure_database(f"bench_{name}")
    engine, consumer = _consumer(name, server.dsn(f"bench_{name}"))
    try:
        start, cpu, postgres = time.perf_counter(), time.process_time(), _postgres_cpu(server)
        await apply_burst(consumer, records, consumer.batch_size)
        return {f"{name}.batch": consumer.batch_size, f"{name}.seconds": round(time.perf_counter() - start, 2),
                f"{name}.cpu_seconds": round(time.process_time() - cpu, 2),
                f"{name}.postgres_seconds": round(_postgres_cpu(server) - postgres, 2)}
    finally:
        await engine.dispose()


async def main() -> dict:
    n = int(os.environ.get("BENCH_EVENTS", "150000"))
    results: dict = {"events": n}
    records = _records(n)
    process.tune_gc()  # as a worker process does
    for name in os.environ.get("BENCH_SERVICES", MEASURED).split(","):  # a server each: vacuuming not counted across
        with tempfile.TemporaryDirectory(prefix="aid-bench-") as state:
            server = PostgresServer(Path(state), port=24433)
            await asyncio.to_thread(server.start)
            try:
                results.update(await _apply(name, server, records))
            finally:
                await asyncio.to_thread(server.stop)
    return results


def write(path: Path, found: dict) -> None:
    """Record a run's figures in ``bench/results`` and print them."""
    save(path, found)
    print(json.dumps(found, indent=2))


if __name__ == "__main__":
    write(RESULTS, asyncio.run(main()))
