"""Projections of every event into query's read models; each is idempotent on its own."""

from __future__ import annotations

from sqlalchemy import or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from aid_contracts import Envelope, Paid, Published, StudentMatched, StudentMatchWithdrawn, Verified
from query.adapters import tables

_RANK = {"published": 1, "final": 2, "paid": 3}


async def _timeline(session: AsyncSession, env: Envelope, summary: dict) -> None:
    await session.execute(pg_insert(tables.timeline).values(
        event_id=env.id, student_key=env.partitionkey, event_type=env.type, occurred_at=env.time, summary=summary,
    ).on_conflict_do_nothing())


async def on_matched(session: AsyncSession, env: Envelope) -> None:
    event: StudentMatched = env.parse(StudentMatched)
    values = {**event.student.model_dump(mode="json"), "match_revision": event.revision, "status": "matched"}
    values.pop("student_key", None)
    stmt = pg_insert(tables.students).values(student_key=env.partitionkey, **values)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["student_key"], set_=values, where=tables.students.c.match_revision < event.revision))
    await _timeline(session, env, {"categories": [c.category.value for c in event.categories],
                                   "departments": sorted({c.department for c in event.categories}),
                                   "school_code": event.student.school_code, "revision": event.revision})


async def on_withdrawn(session: AsyncSession, env: Envelope) -> None:
    event: StudentMatchWithdrawn = env.parse(StudentMatchWithdrawn)
    s = tables.students.c
    await session.execute(update(tables.students).where(s.student_key == env.partitionkey,
                                                        s.match_revision < event.revision)
                          .values(status="withdrawn", match_revision=event.revision))
    await _timeline(session, env, {"reason": event.reason, "revision": event.revision})


async def on_verified(session: AsyncSession, env: Envelope) -> None:
    """The approved verification: its status and the enrolment facts as the school confirmed or
    corrected them; a supplementary record (补录) that no match announced becomes a student here."""
    event: Verified = env.parse(Verified)
    values = {**event.student.model_dump(mode="json"), "status": event.status.value}
    stmt = pg_insert(tables.students).values(student_key=env.partitionkey, match_revision=0, **values)
    s = tables.students.c
    # a student handed to two schools: one school's "not here" must not replace the other's record
    same_school_or_valid = or_(stmt.excluded.status != "invalid", stmt.excluded.school_code == s.school_code)
    await session.execute(stmt.on_conflict_do_update(index_elements=["student_key"], set_=values,
                                                     where=same_school_or_valid))
    await _timeline(session, env, {"status": event.status.value, "verified_by": event.verified_by,
                                   "invalid_reason": event.invalid_reason, "origin": event.origin,
                                   "corrected": sorted(event.corrections), "approved_by": event.approved_by})


async def on_published(session: AsyncSession, env: Envelope) -> None:
    event: Published = env.parse(Published)
    await _aid_record(session, env.partitionkey, event.list_id, "final" if event.final else "published", {
        "programme_name": event.programme_name, "period": event.period, "amount_fen": event.amount_fen,
        "published_at": event.published_at})
    await _timeline(session, env, {"list_id": event.list_id, "programme": event.programme_name,
                                   "amount_fen": event.amount_fen, "final": event.final,
                                   "notice_ends_at": event.notice_ends_at.isoformat()})


async def on_paid(session: AsyncSession, env: Envelope) -> None:
    event: Paid = env.parse(Paid)
    await _aid_record(session, env.partitionkey, event.list_id, "paid", {
        "programme_name": event.programme_name, "period": event.period, "amount_fen": event.amount_fen,
        "published_at": event.paid_at, "paid_on": event.paid_on})
    await _timeline(session, env, {"list_id": event.list_id, "programme": event.programme_name,
                                   "amount_fen": event.amount_fen, "paid_on": event.paid_on.isoformat()})


async def _aid_record(session: AsyncSession, key: str, list_id: str, status: str, values: dict) -> None:
    """Upsert an aid record; its status only moves forward (published → final → paid)."""
    a = tables.aid_records
    stmt = pg_insert(a).values(list_id=list_id, student_key=key, status=status, **values)
    update_values = {"status": status, **{k: v for k, v in values.items() if k != "published_at"}}
    forward = a.c.status.in_([s for s, r in _RANK.items() if r < _RANK[status]])
    await session.execute(stmt.on_conflict_do_update(index_elements=["list_id", "student_key"],
                                                     set_=update_values, where=forward))
