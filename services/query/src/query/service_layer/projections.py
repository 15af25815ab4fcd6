"""Projecting a batch of events into query's read models at once.

The rows the batch touches are read (locked) in three statements, the events are folded over
them in memory (``domain/readmodel.fold``), and the changed rows go back in one upsert per
table, the timeline in one insert. A burst of a hundred thousand matches is a few hundred
statements, not a few hundred thousand.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis.projection import insert_new, rows_by_key, upsert
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
    students = await rows_by_key(session, tables.students, by_type[readmodel.STUDENT_TYPES],
                                 lambda r: r["student_key"])
    aid = await rows_by_key(session, tables.aid_records, by_type[readmodel.AID_TYPES],
                            lambda r: (r["list_id"], r["student_key"]))
    reasons = await rows_by_key(session, tables.unfunded_reasons, by_type[readmodel.REASON_TYPES],
                                lambda r: (r["student_key"], r["period"]))
    stored = set(students), set(aid), set(reasons)  # new rows are inserted, not merged (``upsert``)
    changed_students, changed_aid, changed_reasons, entries = readmodel.fold(envelopes, students, aid, reasons)
    await upsert(session, tables.students, [students[k] for k in sorted(changed_students)], stored=stored[0],
                 keep=("first_line",))  # a stored row's line is never rewritten
    await upsert(session, tables.aid_records, [aid[k] for k in sorted(changed_aid)], stored=stored[1])
    await upsert(session, tables.unfunded_reasons, [reasons[k] for k in sorted(changed_reasons)], stored=stored[2])
    await insert_new(session, tables.timeline, entries)
