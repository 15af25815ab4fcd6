"""Several processes in one consumer group, on a real broker: each holds the same partition numbers
of every topic, and hands them over only after its batch in flight is done."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from aid_chassis.consumer import FinishBeforeRevoke
from aid_chassis.kafka import ensure_topics, make_consumer

pytestmark = pytest.mark.asyncio(loop_scope="function")


@pytest.fixture
async def topics(kafka_bootstrap) -> list[str]:
    names = [f"test.assign-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    await ensure_topics(kafka_bootstrap, partitions=6, topics=names)
    return names


async def _member(bootstrap: str, group: str, topics: list[str], busy: asyncio.Lock | None = None):
    consumer = make_consumer(bootstrap, group_id=group)
    consumer.subscribe(topics, listener=FinishBeforeRevoke(busy or asyncio.Lock()))
    await consumer.start()
    return consumer


async def _until(condition, what: str, timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def test_each_member_holds_the_same_partition_numbers_of_every_topic(kafka_bootstrap, topics):
    group = f"g-{uuid.uuid4().hex[:6]}"
    members = [await _member(kafka_bootstrap, group, topics) for _ in range(4)]
    try:
        def settled() -> bool:  # every member holds some, and each partition exactly one member
            held = [m.assignment() for m in members]  # (a member's view lags while the group rebalances)
            return all(held) and sum(map(len, held)) == len(set().union(*held)) == 18

        await _until(settled, "the four members to share the 18 partitions")
        numbers = []
        for member in members:
            by_topic = {t: {tp.partition for tp in member.assignment() if tp.topic == t} for t in topics}
            assert len({frozenset(p) for p in by_topic.values()}) == 1, by_topic  # one set of numbers
            numbers.append(by_topic[topics[0]])
        assert sorted(n for ns in numbers for n in ns) == list(range(6))
    finally:
        for member in members:
            await member.stop()


async def test_a_member_gives_partitions_up_only_after_its_batch_in_flight(kafka_bootstrap, topics):
    group = f"g-{uuid.uuid4().hex[:6]}"
    busy = asyncio.Lock()
    first = await _member(kafka_bootstrap, group, topics, busy)
    second = None
    try:
        await _until(lambda: len(first.assignment()) == 18, "the first member to hold every partition")
        await busy.acquire()  # a batch is being applied
        joining = asyncio.create_task(_member(kafka_bootstrap, group, topics))
        await asyncio.sleep(12)  # past the session timeout: the group waits for the first member to revoke
        assert len(first.assignment()) == 18
        assert not joining.done() or not joining.result().assignment(), "partitions handed over mid-batch"
        busy.release()
        second = await joining
        await _until(lambda: second.assignment() and len(first.assignment()) + len(second.assignment()) == 18,
                     "the rebalance to finish after the batch")
        assert len({tp.partition for tp in second.assignment()}) == 3  # three numbers, of every topic
    finally:
        if busy.locked():
            busy.release()
        for member in (first, second):
            if member is not None:
                await member.stop()
