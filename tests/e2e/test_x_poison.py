"""A poison message in every topic the services consume (issue 10): each consuming group sets it
aside as a dead letter with its error, its partitions keep flowing (the group's lag returns to
zero past it), and no process dies. Two kinds per topic: a record that is no event at all, and an
event of each of the topic's types whose data breaks the type's schema. (Replaying a dead letter
once its cause is fixed: deploy/local/tests/test_dlq.py.)"""

from __future__ import annotations

import asyncio
import uuid

from aid_chassis.kafka import make_producer
from aid_contracts import Envelope
from aid_contracts.events import EVENT_MODELS
from aid_local import dlq, flow, lag
from aid_local.platform import PROCESSES, SERVICES

GROUPS = {s.name for s in SERVICES}


async def _consumed(bootstrap: str) -> set[tuple[str, str]]:
    """(group, topic) of every service's consumer group, from the broker's committed offsets."""
    return {(r.group, r.topic) for r in await lag.consumer_lag(bootstrap) if r.group in GROUPS}


async def _send_poison(bootstrap: str, topics: set[str], key: str) -> None:
    producer = await make_producer(bootstrap, client_id="poison-test")
    try:
        for topic in sorted(topics):
            await producer.send_and_wait(topic, b"this is not an event", key=key.encode())
        for model in EVENT_MODELS:
            if str(model.TOPIC) in topics:
                broken = Envelope(source="poison-test", type=model.EVENT_TYPE, dataschema=model.schema_uri(),
                                  partitionkey=key, data={"poison": True})
                await producer.send_and_wait(str(model.TOPIC), broken.value(), key=key.encode(), headers=broken.headers())
    finally:
        await producer.stop()


def test_a_poison_message_in_every_topic_is_set_aside_and_the_partitions_keep_flowing(running, result):
    bootstrap = running.platform.bootstrap_servers
    pids = {f"{s.name}-{r}": running.pid(s, r) for s, r in PROCESSES}
    consumed = asyncio.run(_consumed(bootstrap))
    topics = {topic for _, topic in consumed}
    assert len(topics) >= 8, topics  # the services' topics, as their groups committed them
    key = f"poison-{uuid.uuid4().hex}"
    asyncio.run(_send_poison(bootstrap, topics, key))

    def drained() -> bool:
        return all(v == 0 for g, v in lag.by_group(asyncio.run(lag.consumer_lag(bootstrap))).items() if g in GROUPS)

    flow.wait_for("every group past the poison", drained, timeout=120, every=1)
    letters = [x for x in asyncio.run(dlq.read(bootstrap)) if x.key == key.encode()]
    not_events = {(x.group, x.topic) for x in letters if x.event_type in ("", "?", None) or "CloudEvents" in x.error}
    assert not_events == consumed  # every group, every topic it reads
    typed = [x for x in letters if (x.group, x.topic) in consumed and "poison" in (x.value or b"").decode()]
    assert {x.topic for x in typed} == topics  # an event of some type of every topic is refused by its reader
    assert all("validation" in x.error.lower() for x in typed), {x.error for x in typed}
    assert {f"{s.name}-{r}": running.pid(s, r) for s, r in PROCESSES} == pids  # nobody died of it
