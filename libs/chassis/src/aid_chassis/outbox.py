"""Transactional outbox: ``add`` in the caller's transaction, ``OutboxRelay`` publishes.

The relay claims rows with ``FOR UPDATE SKIP LOCKED`` (never "id > last seen", which
skips rows of transactions that commit out of order), sends a whole batch through an
idempotent producer, waits for every acknowledgement, then deletes the rows in the
same transaction. A crash between send and delete re-sends: consumers absorb it. A row
no retry can send is parked (``relay_once``) instead of holding every row behind it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator

import cramjam
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (CorruptRecordException, MessageSizeTooLargeError, RecordListTooLargeError,
                             RecordTooLargeError)
from opentelemetry import propagate, trace
import orjson
from sqlalchemy import Table, func, insert, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aid_chassis import bulk, db, metrics, partitioner, process, records
from aid_chassis.projection import insert_rows
from aid_chassis.kafka import MAX_BATCH_BYTES, make_producer
from aid_contracts import Envelope
from aid_contracts.topics import Topic

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
    """Queue several events in their order (a statement per 5,000: ``projection.insert_rows``)."""
    trace_ctx = _current_trace_headers()
    await insert_rows(session, outbox, [
        {"event_id": env.id, "topic": topic, "key": env.partitionkey,
         "headers": {**{k: v.decode() for k, v in env.headers()}, **trace_ctx}, "value": env.value()}
        for topic, env in items])


async def add_records(session: AsyncSession, outbox: Table, topic: str, records: list[tuple[str, str, bytes]],
                      headers: dict[str, str]) -> None:
    """Queue already-encoded records (key, event id, value) with the same headers and the current
    trace context (students' data-key buckets: 4,096 values of up to tens of KB, a province's ~100 MB
    — sent a row at a time, not as ``insert_rows``' one JSON text of twice their size)."""
    with_trace = {**headers, **_current_trace_headers()}
    rows = [{"event_id": event_id, "topic": topic, "key": key, "headers": with_trace, "value": value}
            for key, event_id, value in records]
    if rows:
        await session.execute(insert(outbox), rows)


async def add_raw(session: AsyncSession, outbox: Table, *, topic: str, key: str, event_id: str,
                  headers: dict[str, str], value: bytes) -> None:
    """Queue an already-encoded record (used for dead letters)."""
    await session.execute(
        insert(outbox).values(event_id=event_id, topic=topic, key=key, headers=headers, value=value)
    )


async def pending(session: AsyncSession, outbox: Table) -> list[tuple[str, Envelope]]:
    """Every event waiting in the outbox, in order, as (topic, envelope); packed rows unpacked (the
    students' data-key buckets, which are not events, left out)."""
    rows = (await session.execute(select(outbox.c.topic, outbox.c.key, outbox.c.headers, outbox.c.value)
                                  .where(outbox.c.topic != Topic.STUDENT_KEYS.value).order_by(outbox.c.id))).all()
    return [(topic, Envelope.from_kafka(h, v)) for topic, key, headers, value in rows
            for _, _, h, v in bulk.records_of(headers, key, value)]


async def parked(session: AsyncSession, outbox: Table) -> list[dict]:
    """The rows the relay parked, oldest first: id, topic, event id, why, queued at (no key and no
    value: they may name a student)."""
    c = outbox.c
    rows = await session.execute(select(c.id, c.topic, c.event_id, c.headers[PARKED].astext.label("reason"),
                                        c.created_at).where(c.headers.has_key(PARKED)).order_by(c.id))
    return [{**{str(k): v for k, v in row._mapping.items()}, "created_at": row.created_at.isoformat()}
            for row in rows]  # plain str keys: a column's name is a str subclass, which orjson refuses


async def release(session: AsyncSession, outbox: Table) -> int:
    """Put every parked row back in the relay's way, once the cause is fixed (a broker that now
    takes larger records); a row still refused is parked again. Returns how many."""
    c = outbox.c
    result = await session.execute(update(outbox).where(c.headers.has_key(PARKED)).values(
        headers=c.headers.op("-")(PARKED)))
    return result.rowcount


def outbox_commands() -> dict[str, tuple[str, object]]:
    """``python -m <service> outbox-parked`` (JSON lines) and ``outbox-release``: every service's."""
    from sqlalchemy import MetaData

    from aid_chassis.tables import outbox_table

    table = outbox_table(MetaData())

    def command(work, show):
        def run(settings) -> int:
            async def go():
                engine = db.make_engine(settings)
                try:
                    async with db.make_sessions(engine)() as session, session.begin():
                        return await work(session, table)
                finally:
                    await engine.dispose()

            show(asyncio.run(go()))
            return 0
        return run

    return {"outbox-parked": ("list the outbox rows the relay parked (it can never send them), as JSON lines",
                              command(parked, lambda rows: [print(orjson.dumps(r).decode()) for r in rows])),
            "outbox-release": ("put the parked outbox rows back in the relay's way (after fixing the cause)",
                               command(release, lambda n: print(orjson.dumps({"released": n}).decode())))}


async def backlog(session: AsyncSession, outbox: Table) -> tuple[int, float]:
    """Events waiting (a packed row counts its events) and the age in seconds of the oldest one."""
    row = (
        await session.execute(
            select(func.coalesce(func.sum(literal_column(bulk.EVENTS_IN_ROW)), 0),
                   func.coalesce(func.extract("epoch", func.now() - func.min(outbox.c.created_at)), 0))
        )
    ).one()
    return int(row[0]), float(row[1])


class OutboxRelay:
    """Publishes a service's outbox to Kafka in batches until stopped."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], outbox: Table, *,
                 bootstrap_servers: str, service: str, batch_size: int = 10_000,
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
                sent = await self._relay_with_retry(stop)
                if sent == 0:
                    await _wait(stop, self._idle)
        finally:
            await self._producer.stop()

    async def _relay_with_retry(self, stop: asyncio.Event) -> int:
        try:
            return await self.relay_pending(stop)
        except Exception:  # noqa: BLE001 - keep relaying; the rows stay in the outbox
            log.exception("outbox relay batch failed; will retry")
            await asyncio.sleep(1.0)
            return 0

    async def relay_once(self) -> int:
        """Publish one batch (a claim of about ``batch_size`` events); returns how many events were sent.

        A batch with a row no retry can send (the broker refuses a record as too large or
        corrupt, or the row does not unpack) is sent again a row at a time; that row is parked:
        kept in the outbox with the reason in its headers (``PARKED``), passed over from then on,
        for an operator (the outbox's backlog and oldest age keep counting it). Any other error
        leaves every row for the next attempt, as before."""
        return await self._relay_claims(following=False)

    async def relay_pending(self, stop: asyncio.Event | None = None) -> int:
        """Publish batch after batch while each claim comes back full (and ``stop`` is not set), as
        ``relay_once`` does one; returns how many events were sent. The next claim is read and its
        record batches made (in its own transaction, its rows locked) while the claim before is
        sent, and it is sent only once that one is acknowledged and deleted; when that one fails,
        the next one is let go unsent, and the rows are claimed again from the oldest (outbox order
        is kept)."""
        return await self._relay_claims(following=True, stop=stop)

    async def _relay_claims(self, *, following: bool, stop: asyncio.Event | None = None) -> int:
        sent = 0
        try:
            claim = await self._claim()
            while claim is not None:
                more = following and claim.full and not (stop is not None and stop.is_set())
                after = asyncio.ensure_future(self._claim(besides=claim.ids)) if more else None
                try:
                    sent += await self._publish(claim)
                    claim = await after if after is not None else None
                except BaseException:
                    await _let_go(after)  # unsent; and closed if it was made while this task was cancelled
                    raise
        except _Refused as refused:
            log.error("outbox: a batch can never be sent as it is (%s); sending its %d rows one at a time",
                      type(refused.cause).__name__, len(refused.ids))
            if isinstance(refused.cause, RECORD_FAULTS):
                await self._renew_producer()
            return sent + await self._one_at_a_time(refused.ids)
        return sent

    async def _one_at_a_time(self, ids: list[int]) -> int:
        sent = 0
        for row_id in ids:
            try:
                claim = await self._claim(only=[row_id])
                sent += await self._publish(claim) if claim is not None else 0
            except _Refused as refused:
                await self._park(row_id, refused.cause)
        return sent

    async def _park(self, row_id: int, cause: BaseException) -> None:
        """Mark a row the relay can never send."""
        async with self._sessions() as session, session.begin():
            await (await db.driver(session)).execute(
                f"UPDATE {self._outbox.name} "  # noqa: S608
                "SET headers = headers || jsonb_build_object(%s::text, %s::text) WHERE id = %s",
                (PARKED, type(cause).__name__, row_id))
        log.error("outbox: row %d parked (%s): it needs an operator", row_id, type(cause).__name__)
        metrics.EVENTS_PARKED.labels(self._service).inc()
        if isinstance(cause, RECORD_FAULTS):
            await self._renew_producer()

    async def _renew_producer(self) -> None:
        """A new producer: a batch the broker refused leaves an idempotent producer's sequence for
        that partition behind, and every later batch to it would be refused too. When the new
        one cannot start, the next batch starts one (``_claim``)."""
        old, self._producer = self._producer, None
        if old is not None:
            await old.stop()
        self._producer = await make_producer(self._bootstrap, client_id=f"{self._service}-relay")

    async def _claim(self, *, only: list[int] | None = None, besides: list[int] | None = None) -> _Claim | None:
        """The oldest rows holding about ``batch_size`` events (of ``only``; not ``besides``: the
        claim still being sent), locked in a transaction left open, their record batches made;
        None when there are none. ``_Refused`` (nothing sent) when a row does not unpack."""
        if self._producer is None:
            self._producer = await make_producer(self._bootstrap, client_id=f"{self._service}-relay")
        session = self._sessions()
        try:
            await session.begin()
            driver = await db.driver(session)
            ids, full = await self._lock(driver, only, besides or [])
            if not ids:
                await session.close()
                return None
            rows = await (await driver.execute(
                f"SELECT id, topic, key, headers::text, value FROM {self._outbox.name} "  # noqa: S608
                "WHERE id = ANY(%s) ORDER BY id", (ids,), binary=True)).fetchall()  # bytea as it is, not hex
            claim = _Claim(session, ids, full)
        except BaseException:
            await session.close()  # rolled back: the rows stay, unlocked
            raise
        try:
            await self._make(claim, rows)
        except BaseException:
            await claim.close(unsent=True)
            raise
        return claim

    async def _lock(self, driver, only: list[int] | None, besides: list[int]) -> tuple[list[int], bool]:
        """Lock the oldest unparked rows holding about ``batch_size`` events, and only those (a
        next claim takes the rows after them); whether more were waiting. The rows are looked at
        first, then their prefix locked, skipping any another relay holds."""
        where = "NOT (headers ? %s) AND NOT (id = ANY(%s))" + (" AND id = ANY(%s)" if only is not None else "")
        looked = await (await driver.execute(
            f"SELECT id, {bulk.EVENTS_IN_ROW} FROM {self._outbox.name} WHERE {where} "  # noqa: S608
            "ORDER BY id LIMIT %s", (PARKED, besides, *([only] if only is not None else []), self._batch_size))
        ).fetchall()
        wanted = _up_to(looked, self._batch_size)
        if not wanted:
            return [], False
        locked = await (await driver.execute(  # parked meanwhile by another relay: passed over
            f"SELECT id FROM {self._outbox.name} WHERE id = ANY(%s) AND NOT (headers ? %s) "  # noqa: S608
            "ORDER BY id FOR UPDATE SKIP LOCKED", (wanted, PARKED))).fetchall()
        return [row_id for row_id, in locked], len(looked) > len(wanted) or len(looked) == self._batch_size

    async def _make(self, claim: _Claim, rows) -> None:
        """The claim's records (the collector paused while the claim holds them): grouped by trace
        and topic, a producer span each, packed rows' record batches made natively (``_Refused``
        when a row does not unpack)."""
        try:
            claim.unpacked, packed = _by_trace_and_topic(rows, natively=records.native is not None)
        except UNPACK_FAULTS as exc:
            raise _Refused(claim.ids, exc) from exc
        counts = {group: len(items) for group, items in claim.unpacked.items()}
        counts |= {group: sum(row[3] for row in in_group) for group, in_group in packed.items()}
        claim.spans = {(parent, topic): self._span(parent, topic, count) for (parent, topic), count in counts.items()}
        claim.made = await self._packed_batches(packed, claim.spans, claim.ids)

    async def _publish(self, claim: _Claim) -> int:
        """Send a claim's records, wait for every acknowledgement, delete its rows and commit;
        ``_Refused`` when the broker refuses a record for good (whatever else failed with it).
        The transaction is rolled back on any failure (the rows stay)."""
        try:
            sent = await self._send_rows(claim)
            await (await db.driver(claim.session)).execute(
                f"DELETE FROM {self._outbox.name} WHERE id = ANY(%s)", (claim.ids,))  # noqa: S608
            await claim.session.commit()
        finally:
            await claim.close()
        metrics.EVENTS_PUBLISHED.labels(self._service).inc(sent)
        return sent

    async def _send_rows(self, claim: _Claim) -> int:
        """Send the claim's records and wait for every acknowledgement.

        The records are made and handed to the producer with the cycle collector paused (from the
        claim's making on), and let go before it resumes: its first pass would otherwise walk every
        record still held (a fifth of the relay's CPU publishing a province's matches,
        ``bench/matching.py``)."""
        try:
            sent = sum(len(items) for items in claim.unpacked.values()) + sum(  # what the rows hold, not their keys
                batch.record_count() for in_turn in claim.made.values() for batch in in_turn)
            pending = await self._send_groups(claim.unpacked, claim.spans, claim.made)
            claim.let_go_of_records()
            outcomes = await asyncio.gather(*pending, return_exceptions=True)
        finally:
            claim.end_spans()
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        refused = next((f for f in failures if isinstance(f, RECORD_FAULTS)), None)
        if refused is not None:
            raise _Refused(claim.ids, refused) from refused
        if failures:
            raise failures[0]
        return sent

    @staticmethod
    def _span(parent: tuple, topic: str, count: int):
        """One producer span per topic and trace the events were queued under (an import may queue 100,000s)."""
        return tracer.start_span(
            f"{topic} publish", context=propagate.extract(dict(parent)), kind=trace.SpanKind.PRODUCER,
            attributes={"messaging.system": "kafka", "messaging.destination.name": topic,
                        "messaging.operation.type": "send", "messaging.batch.message_count": count})

    async def _packed_batches(self, packed: dict[tuple, list], spans: dict, ids: list[int]
                              ) -> dict[tuple[str, int], list]:
        """The record batches of each topic's packed rows, made natively (``records.batches``, in a
        thread: the loop goes on meanwhile), in outbox order per partition across trace groups, each
        record ending with its span's context. ``_Refused`` when a row does not unpack: made before
        anything of the claim is sent, so nothing is sent twice. (Making a few rows' batches while
        the producer sent those of the rows before saved nothing: the broker's share is the longer
        one, ``docs/benchmarks.md``.)"""
        by_topic: dict[str, list] = {}
        for (parent, topic), rows in packed.items():
            extra = _context(spans[(parent, topic)])
            by_topic.setdefault(topic, []).extend(
                (row_id, headers, value, extra) for row_id, headers, value, _ in rows)
        made: dict[tuple[str, int], list] = {}
        for topic, rows in by_topic.items():
            rows.sort(key=lambda row: row[0])
            count = len(await self._producer.partitions_for(topic))
            try:
                native = [(value, *(headers[name].encode() for name in bulk.PACKED_COMMON), extra)
                          for _, headers, value, extra in rows]
                batches = await asyncio.to_thread(records.batches, native, count, MAX_BATCH_BYTES)
            except UNPACK_FAULTS as exc:
                raise _Refused(ids, exc) from exc
            made |= {(topic, partition): in_turn for partition, in_turn in batches.items()}
        return made

    async def _send_groups(self, groups: dict[tuple, list], spans: dict, made: dict[tuple[str, int], list]
                           ) -> list[asyncio.Future]:
        """Send every row in outbox order per partition, in whole record batches, with its span's
        context (``made``: the batches made natively, sent in turn with the others)."""
        producer = self._producer
        assert producer is not None
        by_partition: dict[tuple[str, int], list] = {}
        for (parent, topic), group in groups.items():
            extra = _context(spans[(parent, topic)])
            ids = sorted(await producer.partitions_for(topic))
            buckets: list[list] = [by_partition.setdefault((topic, p), []) for p in ids]
            for item, index in zip(group, partitioner.partitions([item[1] for item in group], len(ids)), strict=True):
                item[2].extend(extra)
                buckets[index].append(item)
        for (topic, partition), items in by_partition.items():
            if len(groups) > 1:
                items.sort(key=lambda item: item[0])  # outbox order, across trace groups
        batches = {tp: _record_batches(producer, items) for tp, items in by_partition.items() if items}
        if not batches.keys().isdisjoint(made):  # a topic goes one way or the other (_by_trace_and_topic)
            raise RuntimeError("a partition's records were made both natively and in Python")
        return await self._send_in_turn(batches | {tp: iter(in_turn) for tp, in_turn in made.items()})

    async def _send_in_turn(self, batches: dict[tuple[str, int], Iterator]) -> list[asyncio.Future]:
        """Send each partition's record batches, one batch of every partition in turn: the producer
        then carries a batch of each partition in one request, and fills the next ones while the
        broker writes (one partition after another, a request at a time, the relay waited for the
        broker about half of the time)."""
        producer = self._producer
        assert producer is not None
        futures: list[asyncio.Future] = []
        while batches:
            for (topic, partition), made in list(batches.items()):
                batch = next(made, None)
                if batch is None:
                    del batches[(topic, partition)]
                else:
                    futures.append(await producer.send_batch(batch, topic, partition=partition))
        return futures


def _context(span) -> list[tuple[str, bytes]]:
    """The headers carrying ``span``'s trace context."""
    context: dict[str, str] = {}
    propagate.inject(context, context=trace.set_span_in_context(span))
    return [(k, v.encode()) for k, v in context.items()]


def _record_batches(producer: AIOKafkaProducer, items: list) -> Iterator:
    """Whole record batches of ``items`` (id, key, headers, value), in order."""
    batch = producer.create_batch()
    append = batch.append
    for _, key, headers, value in items:
        if append(key=key, value=value, timestamp=None, headers=headers) is None:
            yield batch
            batch = producer.create_batch()
            append = batch.append
            append(key=key, value=value, timestamp=None, headers=headers)
    if batch.record_count():
        yield batch


_TRACE_HEADERS = ("traceparent", "tracestate")


PARKED = "aid-outbox-parked"  # a row's header: the relay can never send it (the value: why)
RECORD_FAULTS = (MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError,
                 CorruptRecordException)  # the broker refuses the record itself: no retry can help
UNPACK_FAULTS = (ValueError, KeyError, cramjam.DecompressionError)  # a row that is not zstd or lz4, TSV or JSON


class _Claim:
    """Rows claimed: the open transaction holding their locks, their ids, whether more rows were
    waiting, and their records made (groups, producer spans, native record batches). The cycle
    collector stays paused while it holds records (``process.pause``)."""

    def __init__(self, session: AsyncSession, ids: list[int], full: bool) -> None:
        self.session, self.ids, self.full = session, ids, full
        self.unpacked: dict[tuple, list] = {}
        self.made: dict[tuple[str, int], list] = {}
        self.spans: dict[tuple, object] = {}
        self._paused = True
        process.pause()

    def let_go_of_records(self) -> None:
        self.unpacked, self.made = {}, {}
        if self._paused:
            self._paused = False
            process.resume()

    def end_spans(self, unsent: bool = False) -> None:
        for span in self.spans.values():
            if unsent:
                span.set_status(trace.Status(trace.StatusCode.ERROR, "let go unsent: claimed again later"))
            span.end()
        self.spans = {}

    async def close(self, unsent: bool = False) -> None:
        """Its records let go, its spans ended, its transaction ended (rolled back unless committed)."""
        self.let_go_of_records()
        self.end_spans(unsent)
        await self.session.close()


async def _let_go(coming: asyncio.Future | None) -> None:
    """A next claim not to be sent: stopped if still being made, else its transaction rolled back
    (its rows unlocked) and its spans ended."""
    if coming is None:
        return
    coming.cancel()  # a claim not made yet rolls itself back (``_claim``)
    try:
        claim = await coming
    except BaseException:  # noqa: BLE001 - cancelled or failed: nothing held; the claim before's error is raised
        return
    if claim is not None:
        await claim.close(unsent=True)


class _Refused(Exception):
    """Rows no retry can send (``cause``: the broker's refusal of a record, or its row's unpacking error)."""

    def __init__(self, ids: list[int], cause: BaseException) -> None:
        super().__init__(type(cause).__name__)
        self.ids, self.cause = ids, cause


def _up_to(claimed: list[tuple[int, int]], most: int) -> list[int]:
    """The ids of the first claimed rows holding about ``most`` events (at least one row)."""
    ids, count = [], 0
    for row_id, events in claimed:
        if ids and count + events > most:
            break
        ids.append(row_id)
        count += events
    return ids


def _by_trace_and_topic(rows, *, natively: bool) -> tuple[dict[tuple, list], dict[tuple, list]]:
    """The rows grouped by the trace context they were queued under and their topic: (unpacked,
    packed). ``unpacked``: (id, key, headers without trace context, value) of each event, packed rows
    unpacked. ``packed`` (``natively``): (id, headers, value, events) of packed rows, of topics with
    no other rows in this batch (nor packed rows in a format this release does not read, which
    the Python path refuses), for their record batches to be made natively."""
    parsed = [(row_id, topic, key, orjson.loads(text), value) for row_id, topic, key, text, value in rows]
    single = {topic for _, topic, _, headers, _ in parsed if not bulk.readable(headers)} if natively else set()
    unpacked: dict[tuple, list] = {}
    packed: dict[tuple, list] = {}
    for row_id, topic, key, headers, value in parsed:
        parent = tuple((k, headers.pop(k)) for k in _TRACE_HEADERS if k in headers)
        if natively and topic not in single:
            packed.setdefault((parent, topic), []).append((row_id, headers, value, bulk.events_in(key)))
        else:
            unpacked.setdefault((parent, topic), []).extend(bulk.records_of(headers, key, value, row_id))
    return unpacked, packed


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
