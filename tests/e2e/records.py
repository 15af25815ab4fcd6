"""Every record the broker holds on some topics, read from the beginning up to their ends now."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition

from aid_local import dlq


async def every_record(bootstrap: str, topics: Iterable[str]) -> list:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [tp for topic in topics for tp in await dlq.topic_partitions(bootstrap, topic)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                records += [r for r in batch if r.offset < ends[TopicPartition(r.topic, r.partition)]]
    finally:
        await consumer.stop()
    return records
