"""Rebuilding the read models (``python -m query rebuild``, ``aidctl rebuild query``).

With the worker stopped: the read models and query's inbox are emptied (dead-letter marks are
kept, so a poison event is not dead-lettered twice), every topic is replayed from its beginning
through the same bulk projection, and the consumer group resumes after the replayed events.
Since each projection is a fold that ignores what it has already seen, the rebuilt tables equal
the ones built live.
"""

from __future__ import annotations

import asyncio
import json
import sys

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aid_chassis import db, replay
from aid_chassis.worker import event_consumer
from query.adapters import tables
from query.entrypoints.worker import TOPICS
from query.service_layer import projections
from query.settings import Settings


async def rebuild(settings: Settings, sessions: async_sessionmaker[AsyncSession], progress=None) -> dict:
    """Empty the read models and replay every topic into them; the counts of what was rebuilt."""
    await replay.ensure_idle(settings.kafka_bootstrap_servers, settings.service_name)
    inbox = tables.chassis.inbox.c
    async with sessions() as s, s.begin():
        await s.execute(text(f"TRUNCATE {', '.join(t.name for t in tables.READ_MODELS)}"))
        await s.execute(delete(tables.chassis.inbox).where(inbox.consumer == settings.service_name,
                                                           ~inbox.event_id.startswith("dlq:")))
    consumer = event_consumer(settings, sessions, tables.chassis, topics=TOPICS, handlers={},
                              bulk=projections.project, bulk_types=projections.TYPES)
    report = await replay.replay(consumer, settings.kafka_bootstrap_servers, TOPICS,
                                 batch_size=settings.consumer_batch_size, progress=progress)
    async with sessions() as s:
        counts = {t.name: await s.scalar(select(func.count()).select_from(t)) for t in tables.READ_MODELS}
    return {**report, **counts}


def command(settings: Settings) -> int:
    """The command line: progress on stderr, the JSON report on stdout; 3 when the worker still runs."""

    def progress(done: int, total: int) -> None:
        print(f"\rreplayed {done}/{total} events", end="", file=sys.stderr, flush=True)

    async def run() -> dict:
        engine = db.make_engine(settings)
        try:
            return await rebuild(settings, db.make_sessions(engine), progress)
        finally:
            await engine.dispose()

    try:
        report = asyncio.run(run())
    except replay.GroupBusy as exc:
        print(str(exc), file=sys.stderr)
        return 3
    print(file=sys.stderr)
    print(json.dumps(report))
    return 0
