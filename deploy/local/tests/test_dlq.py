"""``aidctl dlq``: a poison event dead-lettered by one group is listed and, once the cause is fixed,
replayed — applied once by that group and passed over by the group that had applied it."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from typer.testing import CliRunner, Result

from aid_chassis.consumer import EventConsumer
from aid_chassis.kafka import ensure_topics, make_producer
from aid_chassis.outbox import OutboxRelay
from aid_chassis.tables import ChassisTables
from aid_contracts import Envelope, ListImported
from aid_contracts.topics import Topic
from aid_local import lag
from aid_local.cli import app

pytestmark = pytest.mark.asyncio(loop_scope="function")

metadata = MetaData()
chassis = ChassisTables(metadata, offsets=True)
EFFECTS = {name: Table(f"effects_{name}", metadata, Column("batch_id", String(40), primary_key=True),
                       Column("times", Integer, nullable=False)) for name in ("failing", "healthy")}
BROKEN = {"failing": True, "healthy": False}


def _event(batch: str) -> Envelope:
    event = ListImported(batch_id=batch, list_kind="department", department="civil_affairs", read=1, accepted=1,
                         rejected=0, imported_at=datetime.now(UTC))
    return Envelope.wrap(event, source="test", key=batch)


def _counting(name: str):
    async def apply(session, envelopes: list[Envelope]) -> None:
        for envelope in envelopes:
            batch = envelope.parse(ListImported).batch_id
            if batch == "poison" and BROKEN[name]:
                raise ValueError("this handler is broken")
            stmt = insert(EFFECTS[name]).values(batch_id=batch, times=1)
            await session.execute(stmt.on_conflict_do_update(index_elements=["batch_id"],
                                                             set_={"times": EFFECTS[name].c.times + 1}))
    return apply


def _consumer(sessions, bootstrap: str, topic: str, name: str, bulk: bool) -> EventConsumer:
    group = f"{name}-{topic}"
    if bulk:
        return EventConsumer(sessions, chassis, bootstrap_servers=bootstrap, group_id=group, topics=[topic],
                             handlers={}, service="test", bulk=_counting(name), bulk_types=frozenset({"list-imported"}))
    one = _counting(name)
    return EventConsumer(sessions, chassis, bootstrap_servers=bootstrap, group_id=group, topics=[topic],
                         handlers={"list-imported": lambda s, e: one(s, [e])}, service="test")


@pytest.fixture
async def sessions(fresh_database):
    engine = create_async_engine(fresh_database)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


async def _until(consumers: list[EventConsumer], done) -> None:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(c.run(stop)) for c in consumers]
    try:
        for _ in range(200):
            if await done():
                return
            await asyncio.sleep(0.2)
        pytest.fail("the consumers did not reach the expected state")
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def _times(sessions, name: str) -> dict[str, int]:
    async with sessions() as s:
        return dict((await s.execute(select(EFFECTS[name].c.batch_id, EFFECTS[name].c.times))).all())


async def _aidctl(*args: str) -> Result:
    """The command line, in a thread (it runs its own event loop)."""
    return await asyncio.to_thread(CliRunner().invoke, app, list(args))


async def _read(bootstrap: str, group: str) -> int:
    """How many records of the topic the group has committed past."""
    return sum(row.committed for row in await lag.consumer_lag(bootstrap) if row.group == group)


@pytest.mark.parametrize("failing_bulk", [False, True], ids=["failing-one-by-one", "failing-bulk"])
async def test_a_dead_letter_is_replayed_for_its_group_only_and_applied_once(sessions, kafka_bootstrap, failing_bulk,
                                                                             monkeypatch):
    topic = f"test.dlq-{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, partitions=3, topics=[topic, Topic.DEAD_LETTER.value])
    producer = await make_producer(kafka_bootstrap, client_id="test-dlq")
    for event in map(_event, ("first", "poison", "last")):
        await producer.send_and_wait(topic, key=event.partitionkey.encode(), value=event.value(), headers=event.headers())
    await producer.stop()
    failing = _consumer(sessions, kafka_bootstrap, topic, "failing", failing_bulk)
    healthy = _consumer(sessions, kafka_bootstrap, topic, "healthy", not failing_bulk)
    BROKEN["failing"] = True

    async def first_pass() -> bool:
        async with sessions() as s:
            dead = await s.scalar(select(func.count()).select_from(chassis.outbox))
        return dead == 1 and len(await _times(sessions, "failing")) == 2 and len(await _times(sessions, "healthy")) == 3

    await _until([failing, healthy], first_pass)
    relay = OutboxRelay(sessions, chassis.outbox, bootstrap_servers=kafka_bootstrap, service="test")
    relay._producer = await make_producer(kafka_bootstrap, client_id="test-relay")
    try:
        assert await relay.relay_once() == 1
    finally:
        await relay._producer.stop()

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    listed = await _aidctl("dlq", "list", "--group", failing.group_id, "--json")
    (letter,) = json.loads(listed.output)
    assert (letter["topic"], letter["type"], letter["group"]) == (topic, "list-imported", failing.group_id)
    assert "ValueError: this handler is broken" in letter["error"] and "poison" not in listed.output

    BROKEN["failing"] = False  # the fix is deployed
    for only in (["--dlq", letter["dlq"]], []):  # replayed twice by mistake
        assert "replayed 1 dead letter(s)" in (await _aidctl("dlq", "replay", "--group", failing.group_id, *only)).output
    refused = await _aidctl("dlq", "replay", "--group", healthy.group_id, "--dlq", letter["dlq"])
    assert refused.exit_code == 1 and f"not dead letters of {healthy.group_id}" in refused.output

    async def replayed() -> bool:  # both groups read past the two replays
        return (await _read(kafka_bootstrap, failing.group_id) == 5
                and await _read(kafka_bootstrap, healthy.group_id) == 5)

    await _until([failing, healthy], replayed)
    assert await _times(sessions, "failing") == {"first": 1, "poison": 1, "last": 1}
    assert await _times(sessions, "healthy") == {"first": 1, "poison": 1, "last": 1}
