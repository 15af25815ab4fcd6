"""Consumer lag per group, topic and partition, from the broker's own offsets."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError


@dataclass(frozen=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    committed: int
    end: int

    @property
    def lag(self) -> int:
        return max(self.end - self.committed, 0)


async def consumer_lag(bootstrap_servers: str, attempts: int = 20,
                       groups: Iterable[str] | None = None) -> list[PartitionLag]:
    """Every group's (or only ``groups``') committed offsets against the partitions' ends. A
    broker that has just started answers "coordinator loading" for a moment: asked again, up to
    ``attempts`` times."""
    for attempt in range(attempts):
        try:
            return await _consumer_lag(bootstrap_servers, groups)
        except KafkaError as exc:
            if not exc.retriable or attempt == attempts - 1:
                raise
            await asyncio.sleep(0.5)
    raise AssertionError("unreachable")


async def _consumer_lag(bootstrap_servers: str, groups: Iterable[str] | None) -> list[PartitionLag]:
    """The groups' offsets are asked for concurrently, and the partitions' ends in one request.
    The groups are listed first even when named: aiokafka's offset fetch passes over the broker's
    "coordinator loading" answer (no rows), where the listing raises it, to be asked again."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="aidctl-lag")
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, client_id="aidctl-lag")
    await admin.start()
    await probe.start()
    try:
        known = {group for group, *_ in await admin.list_consumer_groups()}
        groups = sorted(known if groups is None else known & set(groups))
        offsets = await asyncio.gather(*(admin.list_consumer_group_offsets(group) for group in groups))
        partitions = {tp for committed in offsets for tp in committed}
        ends = await probe.end_offsets(list(partitions)) if partitions else {}
        rows = [PartitionLag(group, tp.topic, tp.partition, max(meta.offset, 0), ends[tp])
                for group, committed in zip(groups, offsets) for tp, meta in committed.items()]
        return sorted(rows, key=lambda r: (r.group, r.topic, r.partition))
    finally:
        await probe.stop()
        await admin.close()


def by_group(rows: list[PartitionLag]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for row in rows:
        totals[row.group] = totals.get(row.group, 0) + row.lag
    return totals
