"""Transactional outbox: ``add`` in the caller's transaction, ``OutboxRelay`` publishes.

The relay claims rows with ``FOR UPDATE SKIP LOCKED`` (never "id > last seen", which
skips rows of transactions that commit out of order), sends a whole batch through an
idempotent producer, waits for every acknowledgement, then deletes the rows in the
same transaction. A crash between send and delete re-sends: consumers absorb it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer
from opentelemetry import propagate, trace
from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aid_chassis import metrics
from aid_chassis.kafka import make_producer
from aid_contracts import Envelope

log = logging.getLogger(__name__)
tracer = trace.get_tracer("aid_chassis.outbox")


def _current_trace_headers() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


async def add(session: AsyncSession, outbox: Table, topic: str, envelope: Envelope) -> None:
    """Queue an event in the caller's transaction, with the current trace context."""
    await add_many(session, outbox, [(topic, envelope)])


async def add_many(session: AsyncSession, outbox: Table, items: Iterable[tuple[str, Envelope]]) -> None:
    """Queue several events in one statement."""
    trace_ctx = _current_trace_headers()
    rows = [
        {
            "event_id": env.id,
            "topic": topic,
            "key": env.partitionkey,
            "headers": {**{k: v.decode() for k, v in env.headers()}, **trace_ctx},
            "value": env.value(),
        }
        for topic, env in items
    ]
    if rows:
        await session.execute(insert(outbox), rows)


async def add_raw(session: AsyncSession, outbox: Table, *, topic: str, key: str, event_id: str,
                  headers: dict[str, str], value: bytes) -> None:
    """Queue an already-encoded record (used for dead letters)."""
    await session.execute(
        insert(outbox).values(event_id=event_id, topic=topic, key=key, headers=headers, value=value)
    )


async def backlog(session: AsyncSession, outbox: Table) -> tuple[int, float]:
    """Rows waiting and the age in seconds of the oldest one."""
    row = (
        await session.execute(
            select(func.count(), func.coalesce(func.extract("epoch", func.now() - func.min(outbox.c.created_at)), 0))
        )
    ).one()
    return int(row[0]), float(row[1])


class OutboxRelay:
    """Publishes a service's outbox to Kafka in batches until stopped."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], outbox: Table, *,
                 bootstrap_servers: str, service: str, batch_size: int = 500,
                 idle_seconds: float = 0.2) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._bootstrap = bootstrap_servers
        self._service = service
        self._batch_size = batch_size
        self._idle = idle_seconds
        self._producer: AIOKafkaProducer | None = None

    async def run(self, stop: asyncio.Event) -> None:
        self._producer = await make_producer(self._bootstrap, client_id=f"{self._service}-relay")
        try:
            while not stop.is_set():
                sent = await self._relay_with_retry()
                if sent == 0:
                    await _wait(stop, self._idle)
        finally:
            await self._producer.stop()

    async def _relay_with_retry(self) -> int:
        try:
            return await self.relay_once()
        except Exception:  # noqa: BLE001 - keep relaying; the rows stay in the outbox
            log.exception("outbox relay batch failed; will retry")
            await asyncio.sleep(1.0)
            return 0

    async def relay_once(self) -> int:
        """Publish one batch; returns how many events were sent."""
        assert self._producer is not None, "run() starts the producer"
        async with self._sessions() as session, session.begin():
            rows = (
                await session.execute(
                    select(self._outbox).order_by(self._outbox.c.id)
                    .limit(self._batch_size).with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            futures = [await self._send(row) for row in rows]
            await asyncio.gather(*futures)
            await session.execute(delete(self._outbox).where(self._outbox.c.id.in_([r.id for r in rows])))
        metrics.EVENTS_PUBLISHED.labels(self._service).inc(len(rows))
        return len(rows)

    async def _send(self, row) -> asyncio.Future:
        headers = dict(row.headers)
        parent = propagate.extract(headers)
        with tracer.start_as_current_span(
            f"{row.topic} publish", context=parent, kind=trace.SpanKind.PRODUCER,
            attributes={"messaging.system": "kafka", "messaging.destination.name": row.topic,
                        "messaging.operation.type": "send", "messaging.message.id": row.event_id},
        ):
            headers.pop("traceparent", None)
            headers.pop("tracestate", None)
            headers.update(_current_trace_headers())
            encoded = [(k, v.encode()) for k, v in headers.items()]
            return await self._producer.send(row.topic, value=row.value, key=row.key.encode(), headers=encoded)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
