"""The local Kafka broker works fully with aiokafka: admin, idempotent producer, groups, offsets, restarts."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from aid_chassis.kafka import ensure_topics, make_producer
from aid_local.lag import consumer_lag

pytestmark = pytest.mark.asyncio(loop_scope="function")


async def _consume(bootstrap: str, topic: str, group: str, count: int) -> list:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    got = []
    try:
        for _ in range(40):
            for records in (await consumer.getmany(timeout_ms=500, max_records=count - len(got))).values():
                got += records
            if len(got) >= count:
                break
        await consumer.commit()
    finally:
        await consumer.stop()
    return got


async def test_idempotent_producer_groups_offsets_and_lag(kafka_bootstrap):
    topic = f"probe.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, partitions=3, topics=[topic])
    producer = await make_producer(kafka_bootstrap, client_id="probe")  # enable_idempotence, acks=all, lz4
    try:
        for i in range(30):
            await producer.send(topic, key=f"k{i % 5}".encode(), value=b"v%d" % i, headers=[("h", b"1")])
        await producer.flush()
    finally:
        await producer.stop()
    group = f"g-{topic}"
    first = await _consume(kafka_bootstrap, topic, group, 20)
    assert len(first) == 20 and all(r.headers == (("h", b"1"),) for r in first)
    lag = {(r.group, r.partition): r.lag for r in await consumer_lag(kafka_bootstrap) if r.topic == topic}
    assert sum(lag.values()) == 10
    rest = await _consume(kafka_bootstrap, topic, group, 10)  # resumes after the committed offsets
    assert {(r.partition, r.offset) for r in rest}.isdisjoint({(r.partition, r.offset) for r in first})
    assert len(first) + len(rest) == 30


async def test_lag_of_named_groups_only(kafka_bootstrap):
    """``groups`` narrows the rows to those groups; a group the broker never saw has no rows."""
    topic = f"probe.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, partitions=2, topics=[topic])
    producer = await make_producer(kafka_bootstrap, client_id="probe")
    try:
        for i in range(8):
            await producer.send(topic, key=f"k{i}".encode(), value=b"v")
        await producer.flush()
    finally:
        await producer.stop()
    for group, count in ((f"a-{topic}", 3), (f"b-{topic}", 8)):
        await _consume(kafka_bootstrap, topic, group, count)
    rows = await consumer_lag(kafka_bootstrap, groups=[f"a-{topic}", f"never-{topic}"])
    assert {r.group for r in rows} == {f"a-{topic}"} and {r.topic for r in rows} == {topic}
    assert sum(r.lag for r in rows) == 5
    both = await consumer_lag(kafka_bootstrap)
    assert {(r.group, r.lag) for r in both if r.topic == topic} >= {(r.group, r.lag) for r in rows}
    assert sum(r.lag for r in both if r.group == f"b-{topic}") == 0


async def test_admin_lists_groups_and_committed_offsets(kafka_bootstrap):
    topic = f"probe.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, partitions=1, topics=[topic])
    producer = await make_producer(kafka_bootstrap, client_id="probe")
    try:
        await producer.send_and_wait(topic, b"x", key=b"k")
    finally:
        await producer.stop()
    await _consume(kafka_bootstrap, topic, "admin-probe", 1)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        groups = [g[0] for g in await admin.list_consumer_groups()]
        offsets = await admin.list_consumer_group_offsets("admin-probe")
    finally:
        await admin.close()
    assert "admin-probe" in groups
    assert offsets[TopicPartition(topic, 0)].offset == 1


async def test_messages_survive_a_broker_restart(tmp_path):
    from conftest import free_port

    from aid_local.infra import cache_dir
    from aid_local.kafka import KafkaBroker

    port = free_port()
    broker = KafkaBroker(tmp_path, port=port, controller_port=free_port(), cache_dir=cache_dir())
    await asyncio.to_thread(broker.start)
    try:
        await ensure_topics(broker.bootstrap_servers, partitions=1, topics=["kept"])
        producer = await make_producer(broker.bootstrap_servers, client_id="restart")
        try:
            await producer.send_and_wait("kept", b"before restart", key=b"k")
        finally:
            await producer.stop()
        await asyncio.to_thread(broker.stop)
        assert not broker.is_running()
        await asyncio.to_thread(broker.start)
        records = await _consume(broker.bootstrap_servers, "kept", "after-restart", 1)
        assert [r.value for r in records] == [b"before restart"]
    finally:
        await asyncio.to_thread(broker.stop)
