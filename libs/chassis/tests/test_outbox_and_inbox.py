"""The outbox relay and the idempotent consumer against real Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import uuid
from datetime import UTC, datetime

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from aid_chassis import bulk, outbox
from aid_chassis.consumer import EventConsumer
from aid_chassis.kafka import ensure_topics, make_producer
from aid_chassis.outbox import OutboxRelay
from aid_chassis.tables import ChassisTables
from aid_contracts import Envelope, ListImported
from aid_contracts.topics import Topic

pytestmark = pytest.mark.asyncio(loop_scope="function")

metadata = MetaData()
chassis = ChassisTables(metadata, offsets=True)
effects = Table("effects", metadata, Column("batch_id", String(40), primary_key=True),
                Column("times", Integer, nullable=False))


def _event(batch: str) -> Envelope:
    event = ListImported(batch_id=batch, list_kind="department", department="civil_affairs", read=1, accepted=1,
                         rejected=0, imported_at=datetime.now(UTC))
    return Envelope.wrap(event, source="test", key=batch)


async def sessions_for(url: str, tables: MetaData):
    """Sessions on a fresh database holding ``tables``; disposed after the test."""
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(tables.create_all)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


@pytest.fixture
async def sessions(fresh_database):
    async for made in sessions_for(fresh_database, metadata):
        yield made


@pytest.fixture
async def topic(kafka_bootstrap):
    name = f"test.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, partitions=3, topics=[name])
    return name


async def _read_all(bootstrap: str, topic: str, expected: int, timeout: float = 20) -> list:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=f"reader-{uuid.uuid4().hex[:6]}")
    await consumer.start()
    records: dict[tuple[int, int], object] = {}  # by (partition, offset): a rebalance may hand a record over twice
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(records) < expected and asyncio.get_running_loop().time() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records |= {(r.partition, r.offset): r for r in batch}
    finally:
        await consumer.stop()
    return [records[k] for k in sorted(records)]


@contextlib.asynccontextmanager
async def _producing(relay: OutboxRelay, bootstrap: str):
    """``relay`` with a started producer, stopped after."""
    relay._producer = await make_producer(bootstrap, client_id="test-relay")
    try:
        yield relay
    finally:
        await relay._producer.stop()


async def _until(done, seconds: float = 10.0) -> None:
    """Wait until ``done()``, at most ``seconds``."""
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if done():
            return
        await asyncio.sleep(0.01)


async def _free_rows(sessions) -> int:
    """Outbox rows no transaction holds locked."""
    async with sessions() as s, s.begin():
        return len((await s.execute(select(chassis.outbox.c.id).with_for_update(skip_locked=True))).all())


async def test_relay_publishes_every_row_once_and_empties_the_outbox(sessions, topic, kafka_bootstrap):
    async with sessions() as s, s.begin():
        await outbox.add_many(s, chassis.outbox, [(topic, _event(f"b{i}")) for i in range(120)])
    relay = OutboxRelay(sessions, chassis.outbox, bootstrap_servers=kafka_bootstrap, service="test", batch_size=50)
    async with _producing(relay, kafka_bootstrap):
        sent = [await relay.relay_once() for _ in range(4)]
    assert sent == [50, 50, 20, 0]
    records = await _read_all(kafka_bootstrap, topic, 120)
    assert sorted(r.key.decode() for r in records) == sorted(f"b{i}" for i in range(120))
    assert all(dict(r.headers)["ce_type"] == b"list-imported" for r in records)
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(chassis.outbox)) == 0


class _Recording(OutboxRelay):
    """Notes when each claim (by its first row) is made, sent and committed."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.steps: list[tuple[str, int]] = []

    async def _make(self, claim, rows):
        await super()._make(claim, rows)
        self.steps.append(("made", claim.ids[0]))

    async def _send_rows(self, claim):
        self.steps.append(("sent", claim.ids[0]))
        if claim.full:  # the next claim is being made: its making noted before this one is sent (10 s at most)
            await _until(lambda: any(step == "made" and first > claim.ids[0] for step, first in self.steps))
        return await super()._send_rows(claim)

    async def _publish(self, claim):
        sent = await super()._publish(claim)
        self.steps.append(("committed", claim.ids[0]))
        return sent


async def test_relay_pending_sends_claim_after_claim_in_outbox_order(sessions, topic, kafka_bootstrap):
    """Each next claim is made while the one before is sent, and sent once that one is committed:
    every event once, each key's events (one partition) in the order they were queued."""
    async with sessions() as s, s.begin():
        await outbox.add_many(s, chassis.outbox, [(topic, _event(f"k{i % 7}")) for i in range(130)])
        queued = [(env.partitionkey, env.id) for _, env in await outbox.pending(s, chassis.outbox)]
    relay = _Recording(sessions, chassis.outbox, bootstrap_servers=kafka_bootstrap, service="test", batch_size=20)
    async with _producing(relay, kafka_bootstrap):
        assert await relay.relay_pending() == 130
        assert await relay.relay_pending() == 0
    claims = [first for step, first in relay.steps if step == "made"]
    assert len(claims) == 7 and claims == sorted(claims)
    for before, after in zip(claims, claims[1:]):  # made while the one before was out, sent after it was committed
        at = relay.steps.index
        assert at(("sent", before)) < at(("made", after)) < at(("committed", before)) < at(("sent", after))
    records = await _read_all(kafka_bootstrap, topic, 130)
    sent = [Envelope.from_kafka(r.headers, r.value) for r in records]
    assert sorted(e.id for e in sent) == sorted(i for _, i in queued)
    for key in {k for k, _ in queued}:  # the records come sorted by (partition, offset)
        assert [e.id for e in sent if e.partitionkey == key] == [i for k, i in queued if k == key]
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(chassis.outbox)) == 0


class _FailFirstSend(OutboxRelay):
    """The first claim's sending fails (the broker away) once the next claim holds its rows. The free
    rows are counted only then: counting locks rows too (``FOR UPDATE SKIP LOCKED``), and a count
    running while the next claim locks would make it skip them."""

    failed, next_locked, free_while_failing = False, None, None

    async def _lock(self, driver, only, besides):
        ids, full = await super()._lock(driver, only, besides)
        if besides:  # the next claim, made while the first is sent
            self.next_locked = len(ids)
        return ids, full

    async def _send_groups(self, groups, spans, made):
        if not self.failed:
            self.failed = True
            await _until(lambda: self.next_locked is not None)
            self.free_while_failing = await _free_rows(self._sessions)
            raise ConnectionError("broker away")
        return await super()._send_groups(groups, spans, made)


async def test_when_a_claim_fails_the_next_one_made_meanwhile_is_let_go_unsent(sessions, topic, kafka_bootstrap):
    async with sessions() as s, s.begin():
        await outbox.add_many(s, chassis.outbox, [(topic, _event(f"f{i}")) for i in range(60)])
    relay = _FailFirstSend(sessions, chassis.outbox, bootstrap_servers=kafka_bootstrap, service="test", batch_size=20)
    async with _producing(relay, kafka_bootstrap):
        with pytest.raises(ConnectionError):
            await relay.relay_pending()
        # this claim's 20 rows and the next one's locked
        assert (relay.next_locked, relay.free_while_failing) == (20, 20)
        assert await _free_rows(sessions) == 60  # nothing deleted, and no row left locked by the next claim
        assert await relay.relay_pending() == 60  # from the oldest row again
    assert len(await _read_all(kafka_bootstrap, topic, 61, timeout=6)) == 60  # each once: none sent before


async def test_a_claim_locks_only_the_rows_it_sends(sessions, topic, kafka_bootstrap):
    """Packed rows of 40 events in claims of 100: a claim locks two rows and leaves the rest to the next."""
    at = datetime.now(UTC).isoformat()
    async with sessions() as s, s.begin():
        for n in range(5):
            await bulk.queue_events(s, chassis.outbox, _packed_events(topic, 40, f"p{n}"), source="test", time=at)
    relay = OutboxRelay(sessions, chassis.outbox, bootstrap_servers=kafka_bootstrap, service="test", batch_size=100)
    async with _producing(relay, kafka_bootstrap):
        claim = await relay._claim()
        assert claim is not None
        try:
            assert len(claim.ids) == 2 and claim.full  # 80 events; a third row would pass 100
            assert await _free_rows(sessions) == 3
        finally:
            await claim.close(unsent=True)
        assert await relay.relay_pending() == 200


async def test_a_next_claim_that_does_not_unpack_is_sent_a_row_at_a_time_its_bad_row_parked(
        sessions, topic, kafka_bootstrap):
    """The relay's loop: the second claim, made while the first is sent, holds a packed row that does
    not unpack; the first is sent, the second row by row, the bad row parked, each event once."""
    at = datetime.now(UTC).isoformat()
    async with sessions() as s, s.begin():
        await outbox.add_many(s, chassis.outbox, [(topic, _event(f"u{i}")) for i in range(30)])
        await outbox.add_raw(s, chassis.outbox, topic=topic, key="2 events", event_id="packed-bad", value=b"not zstd",
                             headers={bulk.PACKED: bulk.PACKED_FORMAT, "content-type": "application/json",
                                      "ce_source": "test", "ce_time": at, "ce_specversion": "1.0"})
        await outbox.add_many(s, chassis.outbox, [(topic, _event(f"v{i}")) for i in range(30)])
    relay = OutboxRelay(sessions, chassis.outbox, bootstrap_servers=kafka_bootstrap, service="test", batch_size=20)
    async with _producing(relay, kafka_bootstrap):
        assert await relay.relay_pending() == 20 + 18  # the first claim, then the second's good rows one by one
        assert await relay.relay_pending() == 22
    read = await _read_all(kafka_bootstrap, topic, 61, timeout=6)
    assert sorted(Envelope.from_kafka(r.headers, r.value).partitionkey for r in read) == sorted(
        [f"u{i}" for i in range(30)] + [f"v{i}" for i in range(30)])
    async with sessions() as s, s.begin():
        assert [p["event_id"] for p in await outbox.parked(s, chassis.outbox)] == ["packed-bad"]


def _packed_events(topic: str, count: int, prefix: str):
    import polars as pl

    return pl.DataFrame({
        "event_id": [f"{prefix}-{i}" for i in range(count)], "topic": topic,
        "key": [f"{prefix}-{i}" for i in range(count)],
        "type": "list-imported", "dataschema": "https://schemas.example/aid/list-imported.v1.json", "dataversion": "1",
        "data": [_event(f"{prefix}-{i}").value().decode() for i in range(count)]})


async def test_a_row_the_broker_refuses_is_parked_and_the_rest_still_flow(sessions, topic, kafka_bootstrap):
    """A record larger than the broker takes, and a packed row that does not unpack, between good
    ones: the good ones go out, the two stay in the outbox marked, and nothing waits on them."""
    async with sessions() as s, s.begin():
        await outbox.add_many(s, chassis.outbox, [(topic, _event(f"p{i}")) for i in range(3)])
        await outbox.add_raw(s, chassis.outbox, topic=topic, key="big", event_id="big",
                             headers=dict((k, v.decode()) for k, v in _event("big").headers()),
                             value=os.urandom(3 * 2**20))  # incompressible, over the broker's 1 MB
        await outbox.add_raw(s, chassis.outbox, topic=topic, key="2 events", event_id="packed-bad",
                             headers={bulk.PACKED: bulk.PACKED_FORMAT, "content-type": "application/json",
                                      "ce_source": "test", "ce_time": "2026-12-01T00:00:00Z",
                                      "ce_specversion": "1.0"}, value=b"not zstd nor lz4")
        await outbox.add_many(s, chassis.outbox, [(topic, _event(f"q{i}")) for i in range(3)])
    relay = OutboxRelay(sessions, chassis.outbox, bootstrap_servers=kafka_bootstrap, service="test", batch_size=100)
    relay._producer = await make_producer(kafka_bootstrap, client_id="test-relay")
    try:
        assert await relay.relay_once() == 6
        assert await relay.relay_once() == 0  # the parked rows are passed over
    finally:
        await relay._producer.stop()
    records = await _read_all(kafka_bootstrap, topic, 6)
    assert sorted(r.key.decode() for r in records) == ["p0", "p1", "p2", "q0", "q1", "q2"]
    async with sessions() as s:
        left = (await s.execute(select(chassis.outbox.c.event_id, chassis.outbox.c.headers)
                                .order_by(chassis.outbox.c.id))).all()
    assert [(e, h[outbox.PARKED]) for e, h in left] == [("big", "MessageSizeTooLargeError"),
                                                         ("packed-bad", "DecompressionError")]
    async with sessions() as s, s.begin():
        assert [(p["event_id"], p["reason"]) for p in await outbox.parked(s, chassis.outbox)] == [
            ("big", "MessageSizeTooLargeError"), ("packed-bad", "DecompressionError")]
        assert await outbox.release(s, chassis.outbox) == 2  # the operator fixed nothing: both park again
    relay._producer = await make_producer(kafka_bootstrap, client_id="test-relay")
    try:
        assert await relay.relay_once() == 0
    finally:
        await relay._producer.stop()
    async with sessions() as s:
        assert len(await outbox.parked(s, chassis.outbox)) == 2


async def test_after_the_broker_refuses_a_record_the_same_partition_still_flows(sessions, topic, kafka_bootstrap):
    """The refused batch leaves the idempotent producer's sequence behind for its partition: the
    rows around it, on the same partition, still go out (through a new producer)."""
    def same_key(batch: str, value: bytes | None = None) -> tuple[str, Envelope]:
        event = ListImported(batch_id=batch, list_kind="department", department="civil_affairs", read=1, accepted=1,
                             rejected=0, imported_at=datetime.now(UTC))
        return topic, Envelope.wrap(event, source="test", key="one-student")

    async with sessions() as s, s.begin():
        await outbox.add_many(s, chassis.outbox, [same_key("before")])
        await outbox.add_raw(s, chassis.outbox, topic=topic, key="one-student", event_id="big",
                             headers=dict((k, v.decode()) for k, v in _event("big").headers()),
                             value=os.urandom(3 * 2**20))
        await outbox.add_many(s, chassis.outbox, [same_key("after")])
    relay = OutboxRelay(sessions, chassis.outbox, bootstrap_servers=kafka_bootstrap, service="test", batch_size=100)
    relay._producer = await make_producer(kafka_bootstrap, client_id="test-relay")
    try:
        assert await relay.relay_once() == 2
    finally:
        await relay._producer.stop()
    records = await _read_all(kafka_bootstrap, topic, 2)
    assert {orjson.loads(r.value)["batch_id"] for r in records} == {"before", "after"}  # once or twice each
    async with sessions() as s:
        left = (await s.execute(select(chassis.outbox.c.event_id))).scalars().all()
    assert left == ["big"]


COLLECTOR_ON: list[bool] = []  # whether the cycle collector ran while each event was applied


async def _count_effect(session, envelope: Envelope) -> None:
    """Counts applications per batch id, so a second application shows as times == 2."""
    COLLECTOR_ON.append(gc.isenabled())
    parsed = envelope.parse(ListImported)
    if parsed.batch_id == "poison":
        raise ValueError("this event breaks the handler")
    stmt = insert(effects).values(batch_id=parsed.batch_id, times=1)
    await session.execute(stmt.on_conflict_do_update(index_elements=["batch_id"], set_={"times": effects.c.times + 1}))


BULK_SIZES: list[int] = []


async def _count_each(session, envelopes: list[Envelope]) -> None:
    BULK_SIZES.append(len(envelopes))
    for envelope in envelopes:
        await _count_effect(session, envelope)


def _consumer(sessions, kafka_bootstrap, topic, mode: str = "each") -> EventConsumer:
    """A consumer applying one event at a time, or whole batches (``mode="bulk"``)."""
    if mode == "bulk":
        return EventConsumer(sessions, chassis, bootstrap_servers=kafka_bootstrap, group_id=f"g-{topic}",
                             topics=[topic], handlers={}, service="test", batch_size=50,
                             bulk=_count_each, bulk_types=frozenset({"list-imported"}))
    return EventConsumer(sessions, chassis, bootstrap_servers=kafka_bootstrap, group_id=f"g-{topic}", topics=[topic],
                         handlers={"list-imported": _count_effect}, service="test", batch_size=50)


MODES = pytest.mark.parametrize("mode", ["each", "bulk"])


async def _produce(kafka_bootstrap: str, topic: str, items: list[tuple[bytes, list, bytes]]) -> None:
    producer = await make_producer(kafka_bootstrap, client_id="test-producer")
    try:
        for key, headers, value in items:
            await producer.send_and_wait(topic, key=key, value=value, headers=headers)
    finally:
        await producer.stop()


async def _run_until(consumer: EventConsumer, done) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        for _ in range(100):
            if await done():
                return
            await asyncio.sleep(0.2)
        pytest.fail("consumer did not reach the expected state")
    finally:
        stop.set()
        await task


@MODES
async def test_duplicates_apply_once_and_poison_goes_to_dead_letters(sessions, topic, kafka_bootstrap, mode):
    good, twice, poison = _event("good"), _event("twice"), _event("poison")
    items = [(e.partitionkey.encode(), e.headers(), e.value()) for e in (twice, good, twice, poison)]
    items.append((b"junk", [("ce_type", b"list-imported")], b"not json"))
    after = _event("after")
    items.append((after.partitionkey.encode(), after.headers(), after.value()))
    await _produce(kafka_bootstrap, topic, items)
    consumer = _consumer(sessions, kafka_bootstrap, topic, mode)
    COLLECTOR_ON.clear()

    async def applied():
        async with sessions() as s:
            return await s.scalar(select(func.count()).select_from(effects)) == 3

    await _run_until(consumer, applied)
    async with sessions() as s:
        times = dict((await s.execute(select(effects.c.batch_id, effects.c.times))).all())
        dead = (await s.execute(select(chassis.outbox))).all()
    assert times == {"good": 1, "twice": 1, "after": 1}
    assert set(COLLECTOR_ON) == {mode == "each"}  # a bulk batch is applied with the collector paused
    assert gc.isenabled()
    assert len(dead) == 2 and {d.topic for d in dead} == {Topic.DEAD_LETTER.value}
    errors = sorted(d.headers["dlq_error"] for d in dead)
    assert errors[0].startswith("EnvelopeError") and "ValueError: this event breaks" in errors[1]
    assert all(d.headers["dlq_original_topic"] == topic for d in dead)


@MODES
async def test_redelivery_after_a_crash_before_the_offset_commit_changes_nothing(sessions, topic, kafka_bootstrap,
                                                                                 mode):
    events = [_event(f"r{i}") for i in range(10)]
    await _produce(kafka_bootstrap, topic, [(e.partitionkey.encode(), e.headers(), e.value()) for e in events])
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest",
                                group_id="crash", enable_auto_commit=False)
    await consumer.start()
    try:
        batch = {}
        while sum(len(v) for v in batch.values()) < 10:
            for tp, recs in (await consumer.getmany(timeout_ms=1000)).items():
                batch.setdefault(tp, []).extend(recs)
    finally:
        await consumer.stop()
    runner = _consumer(sessions, kafka_bootstrap, topic, mode)
    BULK_SIZES.clear()
    await runner.apply_batch(batch)  # committed to the database, then "crashed" before the offset commit
    await runner.apply_batch(batch)  # the same records again
    if mode == "bulk":  # the first delivery as one bulk of ten; nothing new in the redelivery
        assert BULK_SIZES == [10]
    async with sessions() as s:
        times = [t for (t,) in await s.execute(select(effects.c.times))]
    assert sorted(times) == [1] * 10


async def test_a_bulk_consumer_skips_by_offset_what_it_applied_and_takes_the_rest(sessions, topic, kafka_bootstrap):
    events = [_event(f"o{i}") for i in range(10)]
    await _produce(kafka_bootstrap, topic, [(b"one-key", e.headers(), e.value()) for e in events])  # one partition
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest",
                                group_id="overlap", enable_auto_commit=False)
    await consumer.start()
    try:
        records = []
        while len(records) < 10:
            for recs in (await consumer.getmany(timeout_ms=1000)).values():
                records.extend(recs)
    finally:
        await consumer.stop()
    tp = next(iter({(r.topic, r.partition) for r in records}))
    runner = _consumer(sessions, kafka_bootstrap, topic, "bulk")
    BULK_SIZES.clear()
    await runner.apply_batch({tp: records[:6]})
    await runner.apply_batch({tp: records[3:]})  # a rebalance hands over from offset 3: 3–5 were applied
    assert BULK_SIZES == [6, 4]
    async with sessions() as s:
        assert await s.scalar(select(chassis.offsets.c.next_offset)) == records[-1].offset + 1
        assert sorted(t for (t,) in await s.execute(select(effects.c.times))) == [1] * 10
    with pytest.raises(ValueError, match="offsets=True"):
        EventConsumer(sessions, ChassisTables(MetaData()), bootstrap_servers=kafka_bootstrap, group_id="g",
                      topics=[topic], handlers={}, service="test", bulk=_count_each, bulk_types=frozenset())


async def test_two_lanes_apply_the_partitions_of_a_batch_each_in_its_own_transaction(sessions, topic,
                                                                                     kafka_bootstrap):
    events = [_event(f"lane{i}") for i in range(30)]  # keyed by batch id: spread over the 3 partitions
    await _produce(kafka_bootstrap, topic, [(e.partitionkey.encode(), e.headers(), e.value()) for e in events])
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest",
                                group_id="lanes", enable_auto_commit=False)
    await consumer.start()
    try:
        batch: dict = {}
        while sum(len(v) for v in batch.values()) < 30:
            for tp, recs in (await consumer.getmany(timeout_ms=1000)).items():
                batch.setdefault(tp, []).extend(recs)
    finally:
        await consumer.stop()
    runner = EventConsumer(sessions, chassis, bootstrap_servers=kafka_bootstrap, group_id="lanes", topics=[topic],
                           handlers={}, service="test", bulk=_count_each, bulk_types=frozenset({"list-imported"}),
                           lanes=2)
    BULK_SIZES.clear()
    await runner.apply_batch(batch)
    assert len(batch) == 3 and len(BULK_SIZES) == 2 and sum(BULK_SIZES) == 30  # partitions 0+2 and 1
    await runner.apply_batch(batch)  # redelivered: every lane skips what it applied
    assert sum(BULK_SIZES) == 30
    async with sessions() as s:
        assert sorted(t for (t,) in await s.execute(select(effects.c.times))) == [1] * 30
        stored = dict((await s.execute(select(chassis.offsets.c.partition, chassis.offsets.c.next_offset))).all())
    assert stored == {tp.partition: records[-1].offset + 1 for tp, records in batch.items()}
    runner.fit_lanes({topic: 3, "other": 6})  # a student's events could sit in two lanes: one lane
    assert runner.lanes == 1


async def _fetch(kafka_bootstrap: str, topic: str, count: int) -> dict:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest",
                                group_id=f"fetch-{uuid.uuid4().hex[:6]}", enable_auto_commit=False)
    await consumer.start()
    try:
        batch: dict = {}
        while sum(len(v) for v in batch.values()) < count:
            for tp, recs in (await consumer.getmany(timeout_ms=1000)).items():
                batch.setdefault(tp, []).extend(recs)
        return batch
    finally:
        await consumer.stop()


async def test_bad_events_in_a_lane_are_dead_lettered_after_the_lane_runs_again_alone(
        sessions, topic, kafka_bootstrap, caplog):
    events = [_event(f"ok{i}") for i in range(12)]
    broken, invalid, poison = _event("broken"), _event("invalid"), _event("poison")
    items = [(e.partitionkey.encode(), e.headers(), e.value()) for e in events]
    items += [(b"broken", broken.headers(), b'{"batch_id": '),  # looks like an object, is not JSON
              (b"invalid", invalid.headers(), b'{"batch_id": "invalid", "read": -1}'),  # not a ListImported
              (b"poison", poison.headers(), poison.value())]  # valid, but its handler fails
    await _produce(kafka_bootstrap, topic, items)
    batch = await _fetch(kafka_bootstrap, topic, len(items))
    runner = EventConsumer(sessions, chassis, bootstrap_servers=kafka_bootstrap, group_id="alone", topics=[topic],
                           handlers={}, service="test", bulk=_count_each, bulk_types=frozenset({"list-imported"}),
                           lanes=2)
    with caplog.at_level("WARNING", logger="aid_chassis.consumer"):
        await runner.apply_batch(batch)
    alone = [r for r in caplog.records if "applying them one at a time" in r.getMessage()]
    assert 1 <= len(alone) <= 2  # logged only by a lane applied again by itself
    async with sessions() as s:
        times = dict((await s.execute(select(effects.c.batch_id, effects.c.times))).all())
        dead = (await s.execute(select(chassis.outbox))).all()
    assert times == {f"ok{i}": 1 for i in range(12)}  # the lane that failed was rolled back, then applied once
    errors = sorted(d.headers["dlq_error"] for d in dead)
    assert len(errors) == 3 and errors[0].startswith("ValidationError: : Invalid JSON")
    assert errors[1].startswith("ValidationError: list_kind: Field required")
    assert errors[2] == "ValueError: this event breaks the handler"


async def _committed(bootstrap: str, group: str) -> int:
    """How many records of its topics a group has committed past."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return sum(max(o.offset, 0) for o in offsets.values())


class _CrashAfterPublish(OutboxRelay):
    """A relay killed between publishing a batch and marking it sent: the broker has every
    record, the outbox rows stay (the transaction that deletes them never commits)."""

    async def _send_groups(self, groups, spans, made):
        await asyncio.gather(*await super()._send_groups(groups, spans, made))
        raise SystemExit("killed between publish and mark")


async def test_a_relay_crash_between_publish_and_mark_sends_again_and_the_inbox_absorbs_it(
        sessions, topic, kafka_bootstrap):
    async with sessions() as s, s.begin():
        await outbox.add_many(s, chassis.outbox, [(topic, _event(f"c{i}")) for i in range(30)])
    crashing = _CrashAfterPublish(sessions, chassis.outbox, bootstrap_servers=kafka_bootstrap, service="test",
                                  batch_size=100)
    restarted = OutboxRelay(sessions, chassis.outbox, bootstrap_servers=kafka_bootstrap, service="test", batch_size=100)
    for relay in (crashing, restarted):
        relay._producer = await make_producer(kafka_bootstrap, client_id="test-relay")
    try:
        with pytest.raises(SystemExit):
            await crashing.relay_once()
        assert await restarted.relay_once() == 30  # the same rows, published again
    finally:
        for relay in (crashing, restarted):
            await relay._producer.stop()
    assert len(await _read_all(kafka_bootstrap, topic, 60)) == 60  # every event twice on the topic
    consumer = _consumer(sessions, kafka_bootstrap, topic)  # batches of 50: duplicates across batches too

    async def past_every_copy():
        return await _committed(kafka_bootstrap, f"g-{topic}") == 60

    await _run_until(consumer, past_every_copy)
    async with sessions() as s:
        times = [t for (t,) in await s.execute(select(effects.c.times))]
        left = await s.scalar(select(func.count()).select_from(chassis.outbox))
    assert sorted(times) == [1] * 30 and left == 0
