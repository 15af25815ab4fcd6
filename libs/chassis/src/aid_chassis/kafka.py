"""Kafka clients with the platform's defaults, and topic creation."""

from __future__ import annotations

import asyncio
import functools
import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, codec
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from aid_contracts.topics import TOPIC_CONFIGS, Topic

log = logging.getLogger(__name__)

LZ4_LEVEL = 1


def _fast_lz4() -> None:
    """Record batches compressed with lz4's fast mode (level 1). aiokafka 0.14 calls its
    ``lz4_encode`` at level 9 (lz4's high-compression mode) and has no setting for it: 7 µs an
    event where level 1 takes 2, for batches 3% smaller — 3 to 5 s of publishing a province's
    600,000 comparison events. The record-batch builders (C and Python) look the function up in
    their module, so it is replaced there; ``test_kafka_lz4_level`` fails when a release moves it."""
    from aiokafka.record import default_records
    modules = [default_records]
    try:
        from aiokafka.record._crecords import default_records as compiled
        modules.append(compiled)
    except ImportError:  # aiokafka without its C extension
        pass
    fast = functools.partial(codec.lz4_encode, level=LZ4_LEVEL)
    for module in modules:
        if getattr(module, "lz4_encode", None) is codec.lz4_encode:
            module.lz4_encode = fast


_fast_lz4()


async def start_with_retry(client: AIOKafkaProducer | AIOKafkaConsumer, what: str, *,
                           attempts: int = 60, delay: float = 1.0) -> None:
    """Start a client, waiting for the broker when it is not there yet (a restart, a slow start)."""
    for attempt in range(1, attempts + 1):
        try:
            await client.start()
            return
        except KafkaConnectionError:
            if attempt == attempts:
                raise
            log.warning("%s: broker unreachable (attempt %d); retrying", what, attempt)
            await asyncio.sleep(delay)


MAX_BATCH_BYTES = 1_000_000  # a record batch's size, uncompressed (the outbox's native batches too)


async def make_producer(bootstrap_servers: str, *, client_id: str) -> AIOKafkaProducer:
    """A started idempotent producer (acks=all, lz4 at level 1, batched)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        compression_type="lz4",
        linger_ms=5,
        max_batch_size=MAX_BATCH_BYTES,
    )
    await start_with_retry(producer, client_id)
    return producer


def make_consumer(bootstrap_servers: str, *, group_id: str, topics: list[str] = ()) -> AIOKafkaConsumer:
    """A consumer that never commits on its own: offsets follow the database commit.

    The range assignor gives each member of a group the same partition *numbers* of every topic
    (all members subscribe to the same topics, and every topic has as many partitions), so one
    student's events — on partition n of each topic — are all applied by one member: a group may
    run several processes. Subscribe later (``topics`` empty) to pass a rebalance listener.
    """
    return AIOKafkaConsumer(
        *topics,
        partition_assignment_strategy=(RangePartitionAssignor,),
        rebalance_timeout_ms=120_000,  # a member finishing its batch before revoking (the listener) stays in
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        client_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_interval_ms=300_000,
    )


async def ensure_topics(bootstrap_servers: str, *, partitions: int = 6, topics: list[str] | None = None) -> list[str]:
    """Create the platform's topics if missing; returns the ones created."""
    names = topics or [t.value for t in Topic]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="aid-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        configs = {t.value: c for t, c in TOPIC_CONFIGS.items()}
        wanted = [NewTopic(n, num_partitions=partitions, replication_factor=1, topic_configs=configs.get(n, {}))
                  for n in names if n not in existing]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                log.info("topics created concurrently")
        return [t.name for t in wanted]
    finally:
        await admin.close()


def main() -> int:
    """``python -m aid_chassis.kafka [PARTITIONS]``: create the platform's topics on
    ``KAFKA_BOOTSTRAP_SERVERS`` (a deployment's one-shot step before the services start)."""
    import os
    import sys

    partitions = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    created = asyncio.run(ensure_topics(os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
                                        partitions=partitions))
    print(f"created {len(created)} topics: {', '.join(created) or '-'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
