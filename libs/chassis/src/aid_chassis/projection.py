"""Helpers of bulk projections (read models and counters kept from events, a batch at a time)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession


async def rows_by_key(session: AsyncSession, table: Table, keys: Iterable[str], key_of: Callable[[dict], object],
                      *, column: str = "student_key") -> dict:
    """The rows whose ``column`` is one of ``keys``, locked for this transaction, by ``key_of(row)``."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    stmt = select(table).where(table.c[column].in_(wanted)).with_for_update()
    return {key_of(row): row for row in (dict(r._mapping) for r in await session.execute(stmt))}


async def upsert(session: AsyncSession, table: Table, rows: Iterable[Mapping]) -> None:
    """Insert or replace whole rows (keys that are not columns of ``table`` are left out)."""
    names = [c.name for c in table.columns]
    values = [{n: row.get(n) for n in names} for row in rows]
    if not values:
        return
    stmt = pg_insert(table)
    keys = [c.name for c in table.primary_key.columns]
    await session.execute(stmt.on_conflict_do_update(
        index_elements=keys, set_={n: stmt.excluded[n] for n in names if n not in keys}), values)


async def add_counts(session: AsyncSession, table: Table, deltas: Mapping[tuple, int]) -> None:
    """Add ``deltas`` (primary key → change) to the ``value`` column of a counter table."""
    if not deltas:
        return
    keys = [c.name for c in table.primary_key.columns]
    values = [{**dict(zip(keys, key, strict=True)), "value": change} for key, change in sorted(deltas.items())]
    stmt = pg_insert(table)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=keys, set_={"value": table.c.value + stmt.excluded.value}), values)
