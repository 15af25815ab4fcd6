"""Use cases of publicity: candidates from ``verified``, aid lists, notice and finalisation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis import outbox
from aid_contracts import Envelope, Published, Verified
from aid_contracts.events import StudentFacts
from publicity.adapters import tables
from publicity.domain.programmes import ELIGIBLE, ListRefused, notice_end, programme

SOURCE = "publicity"


async def on_verified(session: AsyncSession, envelope: Envelope) -> None:
    """Keep the newest verification of each student as a candidate (version-checked upsert)."""
    event: Verified = envelope.parse(Verified)
    values = {"student_key": envelope.partitionkey, "school_code": event.student.school_code,
              "stage": event.student.stage.value, "status": event.status.value,
              "match_revision": event.match_revision, "student": event.student.model_dump(mode="json"),
              "verified_at": event.verified_at}
    stmt = pg_insert(tables.candidates).values(values)
    c = tables.candidates.c
    newer = stmt.excluded.verified_at >= c.verified_at
    # a student handed to two schools: one school's "not here" must not cancel the other's verification
    same_school_or_valid = or_(stmt.excluded.status != "invalid", stmt.excluded.school_code == c.school_code)
    await session.execute(stmt.on_conflict_do_update(index_elements=["student_key"], set_=values,
                                                     where=and_(newer, same_school_or_valid)))


async def propose(session: AsyncSession, *, school_code: str, programme_code: str) -> list:
    """The school's verified students who qualify for a programme (the proposed list)."""
    prog = programme(programme_code)
    c = tables.candidates.c
    return (await session.execute(select(tables.candidates).where(
        c.school_code == school_code, c.stage == prog.stage.value, c.status.in_(ELIGIBLE))
        .order_by(c.student_key))).all()


async def create_list(session: AsyncSession, *, school_code: str, programme_code: str, period: str, actor: str) -> dict:
    """The school's list for a programme and period, from the proposal."""
    prog = programme(programme_code)
    a = tables.aid_lists.c
    existing = await session.scalar(select(a.list_id).where(
        a.school_code == school_code, a.programme_code == prog.code, a.period == period))
    if existing:
        raise ListRefused(f"本期名单已存在 (a list for this programme and period exists: {existing})")
    rows = await propose(session, school_code=school_code, programme_code=programme_code)
    if not rows:
        raise ListRefused("没有已核对的符合条件学生 (no verified students qualify for this programme)")
    list_id = f"L{uuid.uuid4().hex[:20]}"
    await session.execute(insert(tables.aid_lists).values(
        list_id=list_id, school_code=school_code, region=rows[0].student["enrolment_region"],
        programme_code=prog.code, period=period, status="draft", created_by=actor))
    await session.execute(insert(tables.list_entries), [
        {"list_id": list_id, "student_key": r.student_key, "amount_fen": prog.amount_fen, "student": r.student}
        for r in rows])
    return {"list_id": list_id, "students": len(rows), "status": "draft"}


async def load_list(session: AsyncSession, list_id: str):
    row = (await session.execute(select(tables.aid_lists).where(tables.aid_lists.c.list_id == list_id)
                                 .with_for_update())).first()
    if row is None:
        raise LookupError("没有这个资助名单 (no such aid list)")
    return row


async def approve_and_publish(session: AsyncSession, *, aid_list, actor: str, working_days: int,
                              notice_seconds: float | None) -> dict:
    """The bureau approves a draft list; it is published for public notice (公示)."""
    if aid_list.status != "draft":
        raise ListRefused("只能审核草稿名单 (only a draft list can be approved)")
    dropped = await _drop_ineligible(session, aid_list.list_id)
    now = datetime.now(UTC)
    ends = notice_end(now, working_days=working_days, seconds=notice_seconds)
    await session.execute(update(tables.aid_lists).where(tables.aid_lists.c.list_id == aid_list.list_id).values(
        status="published", approved_by=actor, published_at=now, notice_ends_at=ends))
    count = await _emit(session, aid_list.list_id, final=False)
    return {"list_id": aid_list.list_id, "status": "published", "notice_ends_at": ends.isoformat(),
            "students": count, "dropped_ineligible": dropped}


async def _drop_ineligible(session: AsyncSession, list_id: str) -> int:
    """Re-check eligibility: a student no longer verified leaves the list (flagged, not paid)."""
    e, c = tables.list_entries, tables.candidates
    stale = select(e.c.student_key).join(c, c.c.student_key == e.c.student_key).where(
        e.c.list_id == list_id, c.c.status.not_in(ELIGIBLE))
    result = await session.execute(e.delete().where(e.c.list_id == list_id, e.c.student_key.in_(stale)))
    return result.rowcount or 0


async def finalise_due(session: AsyncSession, now: datetime | None = None) -> int:
    """Lists whose notice window has closed become final; returns how many."""
    a = tables.aid_lists.c
    due = (await session.execute(select(tables.aid_lists).where(
        and_(a.status == "published", a.notice_ends_at <= (now or datetime.now(UTC))))
        .with_for_update(skip_locked=True).limit(50))).all()
    for row in due:
        await session.execute(update(tables.aid_lists).where(a.list_id == row.list_id).values(status="final"))
        await _emit(session, row.list_id, final=True)
    return len(due)


async def _emit(session: AsyncSession, list_id: str, *, final: bool) -> int:
    aid_list = (await session.execute(select(tables.aid_lists).where(tables.aid_lists.c.list_id == list_id))).one()
    prog = programme(aid_list.programme_code)
    entries = (await session.execute(select(tables.list_entries).where(tables.list_entries.c.list_id == list_id))).all()
    events = [(Published.TOPIC, Envelope.wrap(Published(
        list_id=list_id, programme_code=prog.code, programme_name=prog.name, period=aid_list.period,
        amount_fen=e.amount_fen, student=StudentFacts(**e.student), published_at=aid_list.published_at,
        notice_ends_at=aid_list.notice_ends_at, final=final), source=SOURCE, key=e.student_key)) for e in entries]
    await outbox.add_many(session, tables.chassis.outbox, events)
    return len(events)
