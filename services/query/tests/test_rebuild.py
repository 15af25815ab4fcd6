"""``query rebuild`` on the real broker and database: the rebuilt read models equal the live ones.

The events go to topics of this test's own (the platform's topics feed the end-to-end tests'
services, which must not see these made-up students)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupCoordinatorNotAvailableError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from aid_chassis import replay
from aid_chassis.kafka import ensure_topics, make_producer
from aid_contracts import EVENT_TYPES
from query.adapters import tables
from query.entrypoints.worker import TOPICS, build_loops
from query.service_layer import rebuild, views
from query.settings import Settings
from tests import factories as f
from tests.factories import FIELD_KEYS

HISTORY = [f.matched(11), f.verified(11), f.published(11, final=False), f.published(11, final=True), f.paid(11),
           f.matched(12, revision=1), f.matched(12, revision=2, name="改名"), f.withdrawn(12, revision=3),
           f.unfunded_reason(13), f.payment_failed(14)]


RUN = uuid.uuid4().hex[:8]
MINE = {topic: f"test-{RUN}.{topic}" for topic in TOPICS}


async def _publish(bootstrap: str) -> None:
    await ensure_topics(bootstrap, partitions=3, topics=list(MINE.values()))
    producer = await make_producer(bootstrap, client_id="rebuild-test")
    try:
        for env in HISTORY:
            await producer.send_and_wait(MINE[EVENT_TYPES[env.type].TOPIC.value], key=env.partitionkey.encode(),
                                         value=env.value(), headers=env.headers())
    finally:
        await producer.stop()


async def _caught_up(bootstrap: str, group: str) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await probe.start()
    try:
        try:
            committed = await admin.list_consumer_group_offsets(group)
        except GroupCoordinatorNotAvailableError:  # a fresh broker elects the coordinator first
            return False
        ends = await probe.end_offsets(await replay.partitions(bootstrap, list(MINE.values())))
        return all(committed.get(tp) is not None and committed[tp].offset >= end for tp, end in ends.items() if end)
    finally:
        await probe.stop()
        await admin.close()


async def _state(sessions) -> dict:
    """The read models as a reader sees them: a student's first timeline line (kept in the row)
    counted with the timeline's — which event made the row depends on how the topics interleaved."""
    students = tables.students.c
    async with sessions() as s:
        state = {t.name: sorted(tuple(r) for r in await s.execute(select(t))) for t in tables.READ_MODELS}
        state["students"] = sorted(tuple(r) for r in await s.execute(select(*views.SHOWN)))
        firsts = (await s.execute(select(students.student_key, students.first_line)
                                  .where(students.first_line.is_not(None)))).all()
    state["timeline"] = sorted([*state["timeline"], *(
        (key, line["event_id"], line["event_type"], datetime.fromisoformat(line["occurred_at"]), line["summary"])
        for key, line in firsts)])
    return state


@pytest.fixture
def settings(migrate, kafka_bootstrap, tmp_path):
    return Settings(database_url=migrate("query"), kafka_bootstrap_servers=kafka_bootstrap,
                    service_name=f"query-{uuid.uuid4().hex[:8]}", field_keys=FIELD_KEYS, pseudonym_key="rebuild-test-secret-0123",
                    jwt_public_key_file=tmp_path / "unused.pem")


async def test_a_rebuild_arrives_at_the_live_state_and_refuses_while_the_worker_runs(settings, engine_for):
    sessions = async_sessionmaker(engine_for(settings.database_url), expire_on_commit=False)
    await _publish(settings.kafka_bootstrap_servers)
    stop = asyncio.Event()
    loops = [asyncio.create_task(loop(stop)) for loop in build_loops(settings, sessions, list(MINE.values()))]
    try:
        for _ in range(150):
            if await _caught_up(settings.kafka_bootstrap_servers, settings.service_name):
                break
            await asyncio.sleep(0.2)
        else:
            pytest.fail("the live consumer did not catch up")
        with pytest.raises(replay.GroupBusy):
            await rebuild.rebuild(settings, sessions, topics=list(MINE.values()))
    finally:
        stop.set()
        await asyncio.gather(*loops)
    live = await _state(sessions)
    assert {f.key(11), f.key(12)} <= {row[0] for row in live["students"]}
    seen = []
    report = await rebuild.rebuild(settings, sessions, progress=lambda done, total: seen.append((done, total)),
                                   topics=list(MINE.values()))
    assert await _state(sessions) == live
    assert report["events"] >= len(HISTORY) and seen[-1][0] == report["events"]
    assert await _caught_up(settings.kafka_bootstrap_servers, settings.service_name)
