"""Replaying topics from the beginning through a consumer's own handlers (``rebuild``).

The consumer group must be idle (its worker stopped). Every partition is read from offset 0
up to its end when the replay starts, in bounded batches applied exactly as the live consumer
applies them (inbox, dead letters, bulk projections); then the group's offsets are set to
those ends, so the worker resumes right after what the replay applied. Events published
meanwhile are left to the worker.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CoordinatorLoadInProgressError, GroupCoordinatorNotAvailableError
from aiokafka.structs import OffsetAndMetadata

from sqlalchemy import delete, func, select, text

from aid_chassis import db
from aid_chassis.consumer import EventConsumer
from aid_chassis.worker import event_consumer

Progress = Callable[[int, int], None]  # (events replayed, events to replay)


class GroupBusy(RuntimeError):
    """The consumer group still has members: its worker must be stopped first."""


async def ensure_idle(bootstrap: str, group: str, *, attempts: int = 30) -> None:
    """Raise GroupBusy unless the group has no running member (waits for a coordinator to be elected)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id=f"{group}-replay")
    await admin.start()
    try:
        for attempt in range(attempts):
            try:
                described = await admin.describe_consumer_groups([group])
                break
            except (GroupCoordinatorNotAvailableError, CoordinatorLoadInProgressError):
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(1)
        states = [g[2] for response in described for g in response.groups]  # (error, id, state, …)
    finally:
        await admin.close()
    busy = [s for s in states if s not in ("Empty", "Dead", "")]
    if busy:
        raise GroupBusy(f"消费组 {group} 仍在运行，请先停止其 worker (consumer group {group} is {busy[0]}: "
                        "stop its worker first)")


async def partitions(bootstrap: str, topics: list[str]) -> list[TopicPartition]:
    """Every partition of these topics, from the cluster's metadata."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="aid-partitions")
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return sorted(TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"])


async def replay(consumer: EventConsumer, bootstrap: str, topics: list[str], *, batch_size: int = 2000,
                 progress: Progress | None = None) -> dict:
    """Apply every event of ``topics`` (up to their current ends) with ``consumer``; commit the ends."""
    await ensure_idle(bootstrap, consumer.group_id)
    every = await partitions(bootstrap, topics)
    consumer.fit_lanes({topic: sum(tp.topic == topic for tp in every) for topic in topics})
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, client_id=f"{consumer.group_id}-replay",
                              enable_auto_commit=False, isolation_level="read_committed")
    await reader.start()
    started = time.perf_counter()
    try:
        ends = await reader.end_offsets(every)
        todo = {tp: end for tp, end in ends.items() if end > 0}
        total, done = sum(todo.values()), 0
        reader.assign(list(todo))
        await reader.seek_to_beginning(*todo)
        while todo:
            fetched = await reader.getmany(*todo, timeout_ms=1000, max_records=batch_size)
            batch = {tp: kept for tp, records in fetched.items() if tp in todo
                     and (kept := [r for r in records if r.offset < todo[tp]])}
            if batch:
                await consumer.apply_batch(batch)
                done += sum(len(records) for records in batch.values())
            for tp in list(todo):  # the end may be a transaction marker, never a record: ask the position
                if await reader.position(tp) >= todo[tp]:
                    del todo[tp]
            if progress:
                progress(done, total)
    finally:
        await reader.stop()
    await _commit(bootstrap, consumer.group_id, ends)
    return {"events": done, "partitions": len(ends), "seconds": round(time.perf_counter() - started, 3)}


async def _commit(bootstrap: str, group: str, ends: dict[TopicPartition, int]) -> None:
    committer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, client_id=f"{group}-replay",
                                 enable_auto_commit=False)
    await committer.start()
    try:
        committer.assign(list(ends))
        await committer.commit({tp: OffsetAndMetadata(end, "") for tp, end in ends.items()})
    finally:
        await committer.stop()


async def rebuild(settings, sessions, chassis_tables, read_models, *, topics: list[str], bulk, bulk_types,
                  progress: Progress | None = None) -> dict:
    """Empty a service's read models, its inbox (dead-letter marks kept, so a poison event is
    not dead-lettered twice) and its consumer offsets, then replay every topic into them; the rows each table holds after."""
    await ensure_idle(settings.kafka_bootstrap_servers, settings.service_name)
    inbox = chassis_tables.inbox.c
    async with sessions() as s, s.begin():
        await s.execute(text(f"TRUNCATE {', '.join(t.name for t in read_models)}"))
        await s.execute(delete(chassis_tables.inbox).where(inbox.consumer == settings.service_name,
                                                           ~inbox.event_id.startswith("dlq:")))
        if chassis_tables.offsets is not None:
            await s.execute(delete(chassis_tables.offsets).where(
                chassis_tables.offsets.c.consumer == settings.service_name))
    consumer = event_consumer(settings, sessions, chassis_tables, topics=topics, handlers={}, bulk=bulk,
                              bulk_types=bulk_types)
    report = await replay(consumer, settings.kafka_bootstrap_servers, topics,
                          batch_size=settings.consumer_batch_size, progress=progress)
    async with sessions() as s:
        counts = {t.name: await s.scalar(select(func.count()).select_from(t)) for t in read_models}
    return {**report, **counts}


def rebuild_command(settings, run_rebuild) -> int:
    """``python -m <service> rebuild``: progress on stderr, the JSON report on stdout; 3 when the
    worker still runs. ``run_rebuild(settings, sessions, progress)`` does the work."""
    def progress(done: int, total: int) -> None:
        print(f"\rreplayed {done}/{total} events", end="", file=sys.stderr, flush=True)

    async def run() -> dict:
        engine = db.make_engine(settings, worker=True)  # the rebuild fills emptied tables
        try:
            return await run_rebuild(settings, db.make_sessions(engine), progress)
        finally:
            await engine.dispose()

    try:
        report = asyncio.run(run())
    except GroupBusy as exc:
        print(str(exc), file=sys.stderr)
        return 3
    print(file=sys.stderr)
    print(json.dumps(report))
    return 0
