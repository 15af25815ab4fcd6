"""Helpers of bulk projections (read models and counters kept from events, a batch at a time)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from decimal import Decimal

import orjson
from psycopg.errors import UniqueViolation
from sqlalchemy import ARRAY, ColumnElement, String, Table, Text, bindparam, cast, func, select, text
from sqlalchemy import Enum as SQLEnum
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSON as JSON_TEXT
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession


async def rows_by_key(session: AsyncSession, table: Table, keys: Iterable[str], key_of: Callable[[dict], object],
                      *, column: str = "student_key") -> dict:
    """The rows whose text ``column`` is one of ``keys`` (sent as ``among`` sends them), locked for
    this transaction, by ``key_of(row)``."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    stmt = select(table).where(among(table.c[column], wanted)).with_for_update()
    result = await session.execute(stmt)
    names = [str(name) for name in result.keys()]  # plain strings: SQLAlchemy's are a subclass (``_json``)
    return {key_of(row): row for row in (dict(zip(names, values, strict=True)) for values in result)}


def among(column: ColumnElement, keys: Iterable[str]) -> ColumnElement[bool]:
    """``column IN keys``, the keys as one JSON array (a parameter psycopg passes as it is, where a
    list of thousands of strings is dumped element by element in Python) that the server unnests.

    The planner also takes the unnested keys for a hundred rows or so and looks each up in
    ``column``'s index — where an expanded ``IN ($1, …, $200)`` against a table not analysed since it
    filled (a comparison round's first batches) is estimated to match every row: a whole-table walk
    per batch (~200 ms a batch at 150,000 tasks)."""
    keys_json = bindparam(None, orjson.dumps(list(keys)).decode(), type_=Text)  # not SQLAlchemy's JSON: stdlib json
    return column.in_(select(func.json_array_elements_text(cast(keys_json, JSON_TEXT))))


async def upsert(session: AsyncSession, table: Table, rows: Iterable[Mapping], *,
                 stored: Collection | None = None, keep: Collection[str] = ()) -> None:
    """Insert or replace whole rows (keys that are not columns of ``table`` are left out).

    ``stored``: the primary keys (a value, or a tuple in the key's column order) of the rows this
    transaction read and locked with ``rows_by_key`` — every row of the keys it asked for. A row
    whose key is not among them is new and is inserted without ``ON CONFLICT`` (whose speculative
    insertion is a fifth of the server's time for a new row). Should another transaction have
    inserted it after all (a student's events split across lanes or members — a broken partition
    mapping), the unique violation is no silent overwrite: it fails the bulk, and the consumer
    applies those events again (a lane alone, then one event at a time), reading the row this time.

    ``keep`` (with ``stored``): columns a stored row never changes once written (query's
    ``first_line``): left out of the rows sent and of the update, so they are neither sent nor
    parsed again."""
    if stored is None:
        await _merge(session, table, rows, replace=True)
        return
    names = [c.name for c in table.primary_key.columns]
    key_of = (lambda row: row[names[0]]) if len(names) == 1 else (lambda row: tuple(row[n] for n in names))
    known, new = [], []
    for row in rows:
        (known if key_of(row) in stored else new).append(row)
    if keep:
        known = [{k: v for k, v in row.items() if k not in keep} for row in known]
    await _merge(session, table, new, replace=True, conflicts=False)
    await _merge(session, table, known, replace=True, keep=keep)


async def insert_new(session: AsyncSession, table: Table, rows: Iterable[Mapping]) -> None:
    """Insert the rows whose primary key is not there yet (the others are left as they are).

    Optimistic: the rows (a batch's new timeline lines, audit entries) are almost always all new,
    so they go in with a plain ``INSERT`` in a savepoint, without ``ON CONFLICT``'s speculative
    insertion; should one be there already (an event published twice), the savepoint is rolled
    back and the rows go in again with ``ON CONFLICT DO NOTHING``."""
    rows = list(rows)
    if not rows:
        return
    try:
        async with session.begin_nested():
            await _merge(session, table, rows, replace=False, conflicts=False)
    except IntegrityError as exc:
        if not isinstance(exc.orig, UniqueViolation):
            raise
        await _merge(session, table, rows, replace=False)


async def _merge(session: AsyncSession, table: Table, rows: Iterable[Mapping], *, replace: bool,
                 conflicts: bool = True, keep: Collection[str] = ()) -> None:
    """One ``INSERT … SELECT … FROM json_populate_recordset … ON CONFLICT`` for every row: the rows
    travel as one JSON array (orjson, in C) and the server turns it into the table's row type —
    no statement per row and no per-value conversion in Python. The rows are written in primary-key
    order, so transactions writing shared rows (programme names) lock them in one order and never
    deadlock (counters: ``add_counts``). A row's
    keys that are not columns travel too and are ignored by the server: leave out what the service
    must not send (reporting's student rows drop the sealed name and ID number). Rows of a table
    with a JSONB column travel as ``jsonb``: its values are then parsed once, not again per row
    (for flat rows ``json`` is as fast); a ``json`` column keeps the text it is sent, cheaper still
    for a document only ever read back whole (query's timeline, migration 0007)."""
    payload = _json([row if type(row) is dict else dict(row) for row in rows])
    if payload == b"[]":
        return
    names = [c.name for c in table.columns]
    keys = [c.name for c in table.primary_key.columns]
    columns, key_list = _quoted(names), _quoted(keys)
    updates = ", ".join(f'"{n}" = EXCLUDED."{n}"' for n in names if n not in keys and n not in keep)
    action = f"DO UPDATE SET {updates}" if replace and updates else "DO NOTHING"
    on_conflict = f" ON CONFLICT ({key_list}) {action}" if conflicts else ""
    kind = "jsonb" if any(isinstance(c.type, JSONB) for c in table.columns) else "json"
    await session.execute(text(f"INSERT INTO {table.name} ({columns}) SELECT {columns} "  # noqa: S608
                               f"FROM {kind}_populate_recordset(NULL::{table.name}, CAST(:rows AS {kind})) "
                               f"ORDER BY {key_list}{on_conflict}"),
                          {"rows": payload.decode()})


INSERT_SLICE = 5000  # rows a statement of ``insert_rows``


async def insert_rows(session: AsyncSession, table: Table, rows: list[Mapping], *,
                      returning: tuple[str, ...] = ()) -> list[tuple]:
    """Insert ``rows`` (every row with the same keys, each a column) in their order, a statement per
    ``INSERT_SLICE``; the columns they leave out take their server defaults. ``returning``: the
    columns to give back, a tuple per row.

    A ``None`` is SQL NULL (in a JSONB column too, not JSON ``null``); rows with other keys than the
    first's are refused. The rows travel as one JSON array, as in ``upsert``: where an ``executemany``
    sends and converts each row's values in Python (~25 µs a row with a few JSON columns), this is
    one ``orjson`` call.
    Bytes travel as PostgreSQL's hex text (``\\x…``); inserted in the array's order (``WITH
    ORDINALITY``), so an identity column numbers them in that order (the outbox relays by it). For
    rows of a few KB (events, tasks): the slices keep a statement's text to tens of MB, far under
    ``jsonb``'s 255 MB (a county's published list); rows of large blobs go a row at a time."""
    back = []
    for first in range(0, len(rows), INSERT_SLICE):
        back += await _insert_slice(session, table, rows[first:first + INSERT_SLICE], returning)
    return back


async def _insert_slice(session: AsyncSession, table: Table, rows: list[Mapping], returning: tuple[str, ...]) -> list:
    names = [str(name) for name in rows[0]]
    keys = rows[0].keys()
    if any(row.keys() != keys for row in rows):
        raise ValueError(f"insert_rows into {table.name}: every row needs the same columns ({', '.join(names)})")
    columns = _quoted(names)
    kind = "jsonb" if any(isinstance(table.c[n].type, JSONB) for n in names) else "json"
    back = f" RETURNING {_quoted(returning)}" if returning else ""
    result = await session.execute(text(
        f"INSERT INTO {table.name} ({columns}) SELECT {columns} "  # noqa: S608 - names are the table's own
        f"FROM {kind}_populate_recordset(NULL::{table.name}, CAST(:rows AS {kind})) WITH ORDINALITY AS r "
        f"ORDER BY r.ordinality{back}"),
        {"rows": _json([r if type(r) is dict else dict(r) for r in rows], _with_bytes).decode()})
    return [tuple(row) for row in result] if returning else []


def _quoted(names) -> str:
    return ", ".join(f'"{n}"' for n in names)


def _json(rows: list[dict], default=None) -> bytes:
    """The rows as one JSON array. Rows read back from the database are keyed by SQLAlchemy's
    column names, a ``str`` subclass orjson writes only with ``OPT_NON_STR_KEYS`` — an option that
    makes every row slower (a third for a flat row), so it is taken only when needed."""
    default = default or _plain
    try:
        return orjson.dumps(rows, default=default)
    except orjson.JSONEncodeError:
        return orjson.dumps(rows, default=default, option=orjson.OPT_NON_STR_KEYS)


def _with_bytes(value):
    """``_plain``, and bytes as ``bytea``'s hex text (``insert_rows``' binary columns)."""
    return "\\x" + value.hex() if isinstance(value, bytes) else _plain(value)


def _plain(value):
    """What orjson does not write itself: decimals (as exact text) and sets (as lists)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not a column value")


async def add_counts(session: AsyncSession, table: Table, deltas: Mapping[tuple, int]) -> None:
    """Add ``deltas`` (primary key → change) to the ``value`` column of a counter table, in key order.

    The keys travel as one JSON array per column, zipped again by the server (``ROWS FROM``): a
    JSON object per row (``_merge``) made a dict per row in Python and repeated every column's name
    for the server to parse — a batch of a burst adds to thousands of counters."""
    if not deltas:
        return
    names = [*(c.name for c in table.primary_key.columns), "value"]
    columns = [*zip(*deltas, strict=True), deltas.values()]
    if len(columns) != len(names):
        raise ValueError(f"add_counts to {table.name}: a key is ({', '.join(names[:-1])})")
    arrays = ", ".join(f"json_array_elements_text(CAST(:c{i} AS json))" for i in range(len(names)))
    values = ", ".join(_typed(table, name) for name in names)
    keys = _quoted(names[:-1])
    await session.execute(text(
        f"INSERT INTO {table.name} ({_quoted(names)}) SELECT {values} "  # noqa: S608 - the table's own names
        f"FROM ROWS FROM ({arrays}) AS r({_quoted(names)}) ORDER BY {keys} "
        f'ON CONFLICT ({keys}) DO UPDATE SET "value" = {table.name}."value" + EXCLUDED."value"'),
        {f"c{i}": _json(list(column)).decode() for i, column in enumerate(columns)})


def _typed(table: Table, name: str) -> str:
    """A column read from its JSON array's text, cast to the column's type; text goes as it is, in
    the column's collation (the key order, hence the lock order, is the table's own). A text key of a
    native enum would need a cast text does not take: refused."""
    kind = table.c[name].type
    if isinstance(kind, SQLEnum | ARRAY):
        raise TypeError(f"add_counts: {table.name}.{name} is a {type(kind).__name__} key")
    if isinstance(kind, String):
        return f'r."{name}"' + (f' COLLATE "{kind.collation}"' if kind.collation else "")
    return f'CAST(r."{name}" AS {kind.compile(dialect=postgresql.dialect())})'
