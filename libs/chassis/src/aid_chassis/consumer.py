"""The idempotent consumer runner.

For each bounded batch: one database transaction; per record a savepoint holding the
inbox row (consumer, event id) and the handler's effect, so a redelivered event hits the
inbox key and is skipped. A record that cannot be applied (malformed, invalid, or a
handler error that is not transient) is rolled back to its savepoint and sent to the
dead-letter topic through the outbox, in the same transaction; the partition keeps
flowing. Offsets are committed only after the database commit. A transient failure
(database or network down) rewinds the batch and retries it.

A projection that keeps up with bursts takes the batch whole (``BulkHandler``): instead of an
inbox row per event, the group's offsets are kept in the service's database (``offsets.py``,
one row per partition, locked and moved in the batch's transaction), so a redelivered batch is
recognised by its offsets; the handler gets every new event at once (in partition order, an
event repeated within the batch once) under one savepoint, and the batch is one span linked to
the records' traces. An event *published* twice (a relay that crashed between publishing and
marking) arrives at a new offset, so a bulk handler must be a fold that absorbs a repeated event
(revisions, ranks, event ids as keys) — as read models rebuilt by replay must be anyway. If the
handler fails on something no retry fixes, the batch is applied again one record at a time so
that only the poison record is dead-lettered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import nullcontext

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError
from opentelemetry import propagate, trace
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aid_chassis import dead_letters, metrics, offsets, outbox
from aid_chassis.process import collector_paused
from aid_chassis.kafka import make_consumer, start_with_retry
from aid_chassis.tables import ChassisTables
from aid_contracts import Envelope
from aid_contracts.envelope import EnvelopeError
from aid_contracts.topics import Topic

log = logging.getLogger(__name__)
tracer = trace.get_tracer("aid_chassis.consumer")

Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]
BulkHandler = Callable[[AsyncSession, list[Envelope]], Awaitable[None]]


def by_key(envelopes: list[Envelope]) -> dict[str, list[Envelope]]:
    """A bulk handler's events per partition key (a student's), each key's in their order."""
    out: dict[str, list[Envelope]] = {}
    for envelope in envelopes:
        out.setdefault(envelope.partitionkey, []).append(envelope)
    return out


MAX_LINKS = 128  # span links per batch span (the SDK's default limit)
TRANSIENT = (OperationalError, InterfaceError, OSError, ConnectionError)


class PoisonMessage(Exception):
    """A record no retry will fix; it goes to the dead-letter topic."""


class _AloneOneByOne(Exception):
    """A lane's bulk failed for good while another lane ran: apply the lane again by itself."""


def describe_error(exc: BaseException) -> str:
    """An error text safe to publish: field locations and messages, never input values."""
    if isinstance(exc, ValidationError):
        parts = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_input=False)]
        return f"ValidationError: {'; '.join(parts)}"[:2000]
    if isinstance(exc, DBAPIError):
        return f"{type(exc).__name__}: {type(exc.orig).__name__}"
    return f"{type(exc).__name__}: {exc}"[:2000]


class FinishBeforeRevoke(ConsumerRebalanceListener):
    """A member gives its partitions back only after its batch in flight is applied and committed.

    The group's rebalance waits for every member to revoke, so the next owner of partition n never
    applies events while the previous one still does (with the range assignor, that keeps one
    student in one process even while a group grows or shrinks)."""

    def __init__(self, busy: asyncio.Lock) -> None:
        self._busy = busy

    async def on_partitions_revoked(self, revoked) -> None:
        async with self._busy:
            return None

    async def on_partitions_assigned(self, assigned) -> None:
        return None


class EventConsumer:
    """Applies events of some types to a service's database, exactly once in effect."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], tables: ChassisTables, *,
                 bootstrap_servers: str, group_id: str, topics: list[str],
                 handlers: dict[str, Handler], service: str, batch_size: int = 200,
                 bulk: BulkHandler | None = None, bulk_types: frozenset[str] = frozenset(), lanes: int = 1) -> None:
        """``handlers`` apply one event each; ``bulk`` applies every event of ``bulk_types`` in a batch;
        ``lanes`` transactions at once, each for the partitions of one number modulo ``lanes``."""
        self._sessions = sessions
        self._tables = tables
        self._bootstrap = bootstrap_servers
        self.group_id = group_id
        self._topics = topics
        self._handlers = handlers
        self._service = service
        self.batch_size = batch_size  # records a poll takes at most
        self._bulk = bulk
        self._bulk_types = bulk_types
        self.lanes = max(lanes, 1) if bulk is not None else 1  # lanes write shared rows in key order: bulk only
        self._together = False  # lanes are running at once (see apply_batch)
        if bulk is not None and tables.offsets is None:
            raise ValueError("a bulk consumer keeps its offsets: declare ChassisTables(metadata, offsets=True)")

    async def run(self, stop: asyncio.Event) -> None:
        consumer = make_consumer(self._bootstrap, group_id=self.group_id)
        busy = asyncio.Lock()  # held while a batch is applied and committed
        consumer.subscribe(self._topics, listener=FinishBeforeRevoke(busy))
        await start_with_retry(consumer, self.group_id)
        self.fit_lanes({t: len(consumer.partitions_for_topic(t) or ()) for t in self._topics})
        try:
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=500, max_records=self.batch_size)
                if batch:
                    async with busy:
                        await self._apply_and_commit(consumer, batch)
        finally:
            await consumer.stop()

    async def _apply_and_commit(self, consumer: AIOKafkaConsumer,
                                batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        try:
            await self.apply_batch(batch)
        except TRANSIENT:
            log.warning("batch failed on a transient error; rewinding", exc_info=True)
            for tp, records in batch.items():
                consumer.seek(tp, records[0].offset)
            await asyncio.sleep(1.0)
            return
        try:
            await consumer.commit({tp: records[-1].offset + 1 for tp, records in batch.items()})
            self._measure_lag(consumer, batch)
        except CommitFailedError:
            # A rebalance took the partitions away; their new owner re-reads and the inbox or the
            # stored offsets absorb it.
            log.warning("offset commit failed after a rebalance; the batch will be redelivered and skipped")

    def _measure_lag(self, consumer: AIOKafkaConsumer, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """How far behind each partition of the batch is, and how old its newest event was."""
        now = time.time()
        for tp, records in batch.items():
            end = consumer.highwater(tp)
            if end is not None:
                metrics.CONSUMER_LAG.labels(self._service, self.group_id, tp.topic, str(tp.partition)).set(
                    max(end - records[-1].offset - 1, 0))
            metrics.CONSUMER_EVENT_AGE.labels(self._service, tp.topic).set(max(now - records[-1].timestamp / 1000, 0))

    def fit_lanes(self, partition_counts: dict[str, int]) -> None:
        """Lanes keep a student's events in one transaction only while every topic has as many
        partitions (the key then picks the same partition number on each); otherwise one lane."""
        if self.lanes > 1 and len(set(partition_counts.values())) > 1:
            log.warning("topics differ in partition counts %s: applying batches in one lane", partition_counts)
            self.lanes = 1

    async def apply_batch(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """Apply a batch: one transaction per lane, the lanes at once (public for tests of crash windows).

        While one lane waits for the database, the other's events are read and folded. A student's
        events are all in partitions of one number, so two lanes never touch the same student; the
        rows they share (counters) are written in key order, so they wait for each other, never deadlock.
        A lane whose bulk fails for good is rolled back and applied again alone, one event at a time
        (those locks come in event order, which only a lane running alone may take).

        A bulk batch runs with the cycle collector paused (``collector_paused``), its waits for the
        database included: the worker's other tasks (the relay, the probes) allocate little
        meanwhile, and what they leave is collected when the batch ends."""
        with collector_paused() if self._bulk is not None else nullcontext():
            await self._apply_lanes(batch)

    async def _apply_lanes(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        if self.lanes == 1:
            await self._apply_transaction(batch)
            return
        lanes: dict[int, dict[TopicPartition, list[ConsumerRecord]]] = {}
        for tp, records in batch.items():
            lanes.setdefault(tp.partition % self.lanes, {})[tp] = records
        self._together = True
        try:
            results = await asyncio.gather(*(self._apply_transaction(part) for part in lanes.values()),
                                           return_exceptions=True)
        finally:
            self._together = False
        for result in results:  # every lane has finished: the caller may rewind safely
            if isinstance(result, BaseException) and not isinstance(result, _AloneOneByOne):
                raise result
        for part, result in zip(lanes.values(), results, strict=True):
            if isinstance(result, _AloneOneByOne):
                await self._apply_transaction(part)

    async def _apply_transaction(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        async with self._sessions() as session, session.begin():
            if self._bulk is not None:
                await self._apply_bulk(session, [r for records in batch.values() for r in records])
                return
            for records in batch.values():
                for record in records:
                    await self._apply_record(session, record)

    async def _apply_bulk(self, session: AsyncSession, records: list[ConsumerRecord]) -> None:
        """One span for the batch: a child of the first record's trace, linked to each other trace in it."""
        contexts = [propagate.extract(_headers(r)) for r in _one_per_trace(records)]
        links = [trace.Link(sc) for ctx in contexts[1:]
                 if (sc := trace.get_current_span(ctx).get_span_context()).is_valid]
        with tracer.start_as_current_span(
            f"{records[0].topic if records else 'aid'} process", context=contexts[0] if contexts else None,
            kind=trace.SpanKind.CONSUMER, links=links,
            attributes={"messaging.system": "kafka", "messaging.consumer.group.name": self.group_id,
                        "messaging.batch.message_count": len(records)},
        ) as span:
            outcomes = await self._bulk_outcomes(session, records)
            for outcome, count in Counter(outcomes.values()).items():
                span.set_attribute(f"aid.{outcome}", count)
        for (topic, outcome), count in Counter((r.topic, outcomes[id(r)]) for r in records).items():
            metrics.EVENTS_HANDLED.labels(self._service, topic, outcome).inc(count)

    async def _bulk_outcomes(self, session: AsyncSession, records: list[ConsumerRecord]) -> dict[int, str]:
        outcomes: dict[int, str] = {}
        wanted: dict[str, tuple[ConsumerRecord, Envelope]] = {}
        table = self._tables.offsets
        start = await offsets.claim(session, table, self.group_id, {(r.topic, r.partition) for r in records})
        ends: dict[offsets.Partition, int] = {}
        for record in records:
            tp = (record.topic, record.partition)
            ends[tp] = max(ends.get(tp, 0), record.offset + 1)
            if record.offset < start[tp]:
                outcomes[id(record)] = "duplicate"  # applied before a crash kept Kafka's offset behind
                continue
            if (target := dead_letters.replay_target(record)) is not None:
                outcomes[id(record)] = await self._replayed(session, record) if target == self.group_id else "ignored"
                continue
            try:
                envelope = Envelope.from_kafka(record.headers, record.value)
            except (EnvelopeError, ValidationError) as exc:
                await self._dead_letter(session, record, exc)
                outcomes[id(record)] = "dead_lettered"
                continue
            if envelope.type not in self._bulk_types:
                outcomes[id(record)] = "ignored"
            elif envelope.id in wanted:
                outcomes[id(record)] = "duplicate"
            else:
                wanted[envelope.id] = (record, envelope)
                outcomes[id(record)] = "applied"
        await offsets.advance(session, table, self.group_id, ends)
        if wanted:
            await self._bulk_apply(session, list(wanted.values()), outcomes)
        return outcomes

    async def _replayed(self, session: AsyncSession, record: ConsumerRecord) -> str:
        """A dead letter sent again for this group: applied alone, once (the inbox keeps its id)."""
        try:
            envelope = Envelope.from_kafka(record.headers, record.value)
        except (EnvelopeError, ValidationError) as exc:
            await self._dead_letter(session, record, exc)
            return "dead_lettered"
        if envelope.type not in self._bulk_types:
            return "ignored"
        return await self._once(session, record, envelope, lambda s, e: self._bulk(s, [e]))  # type: ignore[misc]

    async def _bulk_apply(self, session: AsyncSession, pairs: list[tuple[ConsumerRecord, Envelope]],
                          outcomes: dict[int, str]) -> None:
        """The handler on every event at once; if that fails for good, one at a time (poison → dead letters)."""
        try:
            async with session.begin_nested():
                await self._bulk(session, [envelope for _, envelope in pairs])  # type: ignore[misc]
            return
        except TRANSIENT:
            raise
        except Exception:  # noqa: BLE001 - find the poison record: one at a time
            if self._together:
                raise _AloneOneByOne from None  # rolls the lane back; apply_batch runs it again alone
            log.warning("a bulk of %d events failed; applying them one at a time", len(pairs))
        for record, envelope in pairs:
            try:
                async with session.begin_nested():
                    await self._bulk(session, [envelope])  # type: ignore[misc]
            except TRANSIENT:
                raise
            except Exception as exc:  # noqa: BLE001 - a poison message
                log.warning("event %s of type %s dead-lettered: %s", envelope.id, envelope.type,
                            describe_error(exc))
                await self._dead_letter(session, record, exc)
                outcomes[id(record)] = "dead_lettered"

    async def _apply_record(self, session: AsyncSession, record: ConsumerRecord) -> None:
        parent = propagate.extract(_headers(record))
        with tracer.start_as_current_span(
            f"{record.topic} process", context=parent, kind=trace.SpanKind.CONSUMER,
            attributes={"messaging.system": "kafka", "messaging.destination.name": record.topic,
                        "messaging.consumer.group.name": self.group_id,
                        "messaging.destination.partition.id": str(record.partition),
                        "messaging.kafka.offset": record.offset},
        ) as span:
            outcome = await self._outcome(session, record)
            span.set_attribute("aid.outcome", outcome)
        metrics.EVENTS_HANDLED.labels(self._service, record.topic, outcome).inc()

    async def _outcome(self, session: AsyncSession, record: ConsumerRecord) -> str:
        if dead_letters.replay_target(record) not in (None, self.group_id):
            return "ignored"  # a dead letter replayed for another group
        try:
            envelope = Envelope.from_kafka(record.headers, record.value)
        except (EnvelopeError, ValidationError) as exc:
            await self._dead_letter(session, record, exc)
            return "dead_lettered"
        handler = self._handlers.get(envelope.type)
        if handler is None:
            return "ignored"
        return await self._once(session, record, envelope, handler)

    async def _once(self, session: AsyncSession, record: ConsumerRecord, envelope: Envelope, apply: Handler) -> str:
        """Apply an event under a savepoint with its inbox row (a repeat is skipped); a failure no
        retry fixes rolls it back and dead-letters the record."""
        try:
            async with session.begin_nested():
                if not await self._first_delivery(session, envelope, record.topic):
                    return "duplicate"
                await apply(session, envelope)
        except TRANSIENT:
            raise
        except Exception as exc:  # noqa: BLE001 - anything else is a poison message
            log.warning("event %s of type %s dead-lettered: %s", envelope.id, envelope.type, describe_error(exc))
            await self._dead_letter(session, record, exc)
            return "dead_lettered"
        return "applied"

    async def _first_delivery(self, session: AsyncSession, envelope: Envelope, topic: str) -> bool:
        inbox = self._tables.inbox
        stmt = (
            insert(inbox)
            .values(consumer=self.group_id, event_id=envelope.id, topic=topic)
            .on_conflict_do_nothing()
            .returning(inbox.c.event_id)
        )
        return (await session.execute(stmt)).first() is not None

    async def _dead_letter(self, session: AsyncSession, record: ConsumerRecord, exc: BaseException) -> None:
        """Queue the record for the dead-letter topic, once even if it is redelivered."""
        dlq_id = f"dlq:{self.group_id}:{record.topic}:{record.partition}:{record.offset}"
        inbox = self._tables.inbox
        first = await session.execute(
            insert(inbox).values(consumer=self.group_id, event_id=dlq_id, topic=record.topic)
            .on_conflict_do_nothing().returning(inbox.c.event_id)
        )
        if first.first() is None:
            return
        headers = {k: v.decode(errors="replace") for k, v in record.headers or ()
                   if v is not None and k not in dead_letters.HEADERS}
        headers.update({
            dead_letters.ORIGINAL_TOPIC: record.topic,
            dead_letters.ORIGINAL_PARTITION: str(record.partition),
            dead_letters.ORIGINAL_OFFSET: str(record.offset),
            dead_letters.GROUP: self.group_id,
            dead_letters.ERROR: describe_error(exc),
        })
        await outbox.add_raw(
            session, self._tables.outbox, topic=Topic.DEAD_LETTER.value,
            key=(record.key or b"").decode(errors="replace"),
            event_id=dlq_id,
            headers=headers, value=record.value or b"",
        )


def _one_per_trace(records: list[ConsumerRecord]) -> list[ConsumerRecord]:
    """The first record of each distinct trace (by its ``traceparent``), at most ``MAX_LINKS + 1``.

    An import's thousands of events share one trace, so a batch links every trace it serves
    without extracting a context per record.
    """
    seen: dict[bytes | None, ConsumerRecord] = {}
    for record in records:  # from the end: publishers add the trace headers last
        headers = record.headers or ()
        parent = headers[-1][1] if headers and headers[-1][0] == "traceparent" else next(
            (v for k, v in reversed(headers) if k == "traceparent"), None)
        trace_id = parent[3:35] if parent else None
        if trace_id not in seen:
            seen[trace_id] = record
            if len(seen) > MAX_LINKS:
                break
    return list(seen.values())


def _headers(record: ConsumerRecord) -> dict[str, str]:
    return {k: v.decode(errors="replace") for k, v in record.headers or () if v is not None}
