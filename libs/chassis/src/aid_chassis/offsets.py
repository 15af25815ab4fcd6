"""A bulk consumer's offsets kept in its own database, in the transaction that applies a batch.

``claim`` locks the rows of the batch's partitions (creating missing ones), so two members of a
group that briefly both hold a partition during a rebalance apply its records one after the
other, and returns where each partition's unapplied records begin; ``advance`` moves them past
the batch. Both are one statement per batch, whatever its size.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import orjson
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncSession

Partition = tuple[str, int]


async def claim(session: AsyncSession, table: Table, consumer: str, partitions: Iterable[Partition]
                ) -> dict[Partition, int]:
    """The next unapplied offset of each partition (0 for one never seen), its row locked."""
    wanted = sorted(set(partitions))
    if not wanted:
        return {}
    rows = await session.execute(text(
        f"INSERT INTO {table.name} (consumer, topic, partition, next_offset) "  # noqa: S608 - a table name
        "SELECT :consumer, p ->> 0, CAST(p ->> 1 AS integer), 0 FROM json_array_elements(CAST(:parts AS json)) AS p "
        f"ON CONFLICT (consumer, topic, partition) DO UPDATE SET next_offset = {table.name}.next_offset "
        "RETURNING topic, partition, next_offset"),
        {"consumer": consumer, "parts": orjson.dumps(wanted).decode()})
    return {(topic, partition): offset for topic, partition, offset in rows}


async def advance(session: AsyncSession, table: Table, consumer: str, ends: Mapping[Partition, int]) -> None:
    """Record that every offset below ``ends[partition]`` is applied (never moving backwards)."""
    if not ends:
        return
    await session.execute(text(
        f"UPDATE {table.name} AS o SET next_offset = GREATEST(o.next_offset, CAST(p ->> 2 AS bigint)), "  # noqa: S608
        "updated_at = now() FROM json_array_elements(CAST(:ends AS json)) AS p "
        "WHERE o.consumer = :consumer AND o.topic = p ->> 0 AND o.partition = CAST(p ->> 1 AS integer)"),
        {"consumer": consumer, "ends": orjson.dumps([[t, p, end] for (t, p), end in sorted(ends.items())]).decode()})
