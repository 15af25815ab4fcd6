"""Helpers of bulk projections (read models and counters kept from events, a batch at a time)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import orjson
from psycopg.types.json import Jsonb
from sqlalchemy import ARRAY, Table, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import JSON as JSON_TEXT
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis.db import driver


async def rows_by_key(session: AsyncSession, table: Table, keys: Iterable[str], key_of: Callable[[dict], object],
                      *, column: str = "student_key") -> dict:
    """The rows whose text ``column`` is one of ``keys``, locked for this transaction, by ``key_of(row)``.

    The keys travel as one JSON array (a parameter psycopg passes as it is, where a list of
    thousands of strings is dumped element by element in Python)."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    stmt = (select(table).where(table.c[column].in_(select(func.json_array_elements_text(
        bindparam("keys", wanted, type_=JSON_TEXT))))).with_for_update())
    return {key_of(row): row for row in map(dict, (await session.execute(stmt)).mappings())}


async def upsert(session: AsyncSession, table: Table, rows: Iterable[Mapping]) -> None:
    """Insert or replace whole rows (keys that are not columns of ``table`` are left out)."""
    await _merge(session, table, rows, replace=True)


async def insert_new(session: AsyncSession, table: Table, rows: Iterable[Mapping]) -> None:
    """Insert the rows whose primary key is not there yet (the others are left as they are)."""
    await _merge(session, table, rows, replace=False)


async def _merge(session: AsyncSession, table: Table, rows: Iterable[Mapping], *, replace: bool,
                 add: str | None = None) -> None:
    """``COPY`` the rows into a temporary twin of ``table``, then one ``INSERT … SELECT … ON
    CONFLICT``: a statement per batch, not one per row (psycopg's executemany sends one each).
    ``add`` names a column whose new value is added to the stored one instead of replacing it."""
    names = [c.name for c in table.columns]
    converters = _converters(table)
    values = [[convert(row.get(n)) if convert else row.get(n) for n, convert in converters] for row in rows]
    if not values:
        return
    twin, columns = f"merge_{table.name}", ", ".join(f'"{n}"' for n in names)
    keys = [c.name for c in table.primary_key.columns]
    await session.execute(text(f"CREATE TEMP TABLE IF NOT EXISTS {twin} (LIKE {table.name}) ON COMMIT DROP"))
    connection = await driver(session)
    async with connection.cursor() as cursor, cursor.copy(f"COPY {twin} ({columns}) FROM STDIN") as copy:
        for row in values:
            await copy.write_row(row)
    updates = ", ".join(f'"{n}" = {table.name}."{n}" + EXCLUDED."{n}"' if n == add else f'"{n}" = EXCLUDED."{n}"'
                        for n in names if n not in keys)
    action = f"DO UPDATE SET {updates}" if replace and updates else "DO NOTHING"
    await session.execute(text(f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {twin} "  # noqa: S608
                               f"ON CONFLICT ({', '.join(keys)}) {action}"))
    await session.execute(text(f"TRUNCATE {twin}"))


def _converters(table: Table) -> list[tuple[str, Callable | None]]:
    """Per column, how a value is prepared for ``COPY``: JSON through orjson, arrays as literals."""
    return [(c.name, _jsonb if isinstance(c.type, JSONB) else _array if isinstance(c.type, ARRAY) else None)
            for c in table.columns]


def _jsonb(value):
    return None if value is None else Jsonb(value, dumps=orjson.dumps)


def _array(values):
    """A PostgreSQL array literal of strings (psycopg's list dumper is pure Python, element by element)."""
    if values is None:
        return None
    return "{" + ",".join("NULL" if v is None else '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
                          for v in values) + "}"


async def add_counts(session: AsyncSession, table: Table, deltas: Mapping[tuple, int]) -> None:
    """Add ``deltas`` (primary key → change) to the ``value`` column of a counter table."""
    keys = [c.name for c in table.primary_key.columns]
    rows = [{**dict(zip(keys, key, strict=True)), "value": change} for key, change in sorted(deltas.items())]
    await _merge(session, table, rows, replace=True, add="value")
