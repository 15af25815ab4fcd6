"""Projecting a batch of events into query's read models at once.

The rows the batch touches are read (locked) in three statements, the events are folded over
them in memory (``domain/readmodel.fold``), and the changed rows go back in one upsert per
table, the timeline in one insert. A burst of a hundred thousand matches is a few hundred
statements, not a few hundred thousand.
"""

from __future__ import annotations

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from aid_contracts import Envelope
from query.adapters import tables
from query.domain import readmodel

TYPES = readmodel.TYPES


async def project(session: AsyncSession, envelopes: list[Envelope]) -> None:
    """The bulk handler of query's consumer: every event of ``TYPES`` in a batch, in order."""
    by_type: dict[frozenset, list[str]] = {t: [] for t in (readmodel.STUDENT_TYPES, readmodel.AID_TYPES,
                                                          readmodel.REASON_TYPES)}
    for env in envelopes:
        next(keys for types, keys in by_type.items() if env.type in types).append(env.partitionkey)
    students = await _rows(session, tables.students, by_type[readmodel.STUDENT_TYPES],
                           lambda r: r["student_key"])
    aid = await _rows(session, tables.aid_records, by_type[readmodel.AID_TYPES],
                      lambda r: (r["list_id"], r["student_key"]))
    reasons = await _rows(session, tables.unfunded_reasons, by_type[readmodel.REASON_TYPES],
                          lambda r: (r["student_key"], r["period"]))
    changed_students, changed_aid, changed_reasons, entries = readmodel.fold(envelopes, students, aid, reasons)
    await _upsert(session, tables.students, [students[k] for k in sorted(changed_students)])
    await _upsert(session, tables.aid_records, [aid[k] for k in sorted(changed_aid)])
    await _upsert(session, tables.unfunded_reasons, [reasons[k] for k in sorted(changed_reasons)])
    if entries:
        await session.execute(pg_insert(tables.timeline).on_conflict_do_nothing(), entries)


async def _rows(session: AsyncSession, table: Table, keys: list[str], key_of) -> dict:
    """The rows of these students, locked for this transaction, by their primary key."""
    if not keys:
        return {}
    stmt = select(table).where(table.c.student_key.in_(sorted(set(keys)))).with_for_update()
    return {key_of(row): row for row in (dict(r._mapping) for r in await session.execute(stmt))}


async def _upsert(session: AsyncSession, table: Table, rows: list[dict]) -> None:
    if not rows:
        return
    stmt = pg_insert(table)
    keys = [c.name for c in table.primary_key.columns]
    await session.execute(stmt.on_conflict_do_update(
        index_elements=keys, set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}), rows)


