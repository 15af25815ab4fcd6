"""Aid lists (资助名单): proposed from verified students, submitted by the school, audited by
the bureau, published for the public notice (公示), finalised when the window has closed and
every objection is decided. Eligibility is re-checked at submission and at finalisation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis import outbox
from aid_chassis.auth import Principal
from aid_contracts import Envelope, PublicationWithdrawn, Published
from aid_contracts.events import StudentFacts
from aid_chassis.audit import new_id
from publicity.adapters import tables
from publicity.domain.calendar import WorkingCalendar
from publicity.domain.notice import (DRAFT, FINAL, IN, INELIGIBLE, PUBLISHED, REMOVED, SUBMITTED, can_finalise,
                                     check_reason, check_state, ineligibility)
from publicity.domain.programmes import ELIGIBLE, ListRefused, Period, Rules
from publicity.service_layer.store import load_list, log, rules_for, tell_school

SOURCE = "publicity"
A, E, C = tables.aid_lists.c, tables.list_entries.c, tables.candidates.c


async def propose(session: AsyncSession, *, school_code: str, rules: Rules) -> list[tuple]:
    """The school's verified students who qualify, each with the amount its categories give."""
    rows = (await session.execute(select(tables.candidates).where(
        C.school_code == school_code, C.stage == rules.stage.value, C.status.in_(ELIGIBLE))
        .order_by(C.student_key))).all()
    return [(r, amount) for r in rows if (amount := rules.amount_for(set(r.categories))) is not None]


async def create_list(session: AsyncSession, who: Principal, *, programme_code: str, period: str) -> dict:
    """The school's draft list for a programme and period, from the proposal."""
    Period.parse(period)
    rules = await rules_for(session, programme_code, period)
    rules.check_period(Period.parse(period))
    existing = await session.scalar(select(A.list_id).where(
        A.school_code == who.school_code, A.programme_code == rules.code, A.period == period))
    if existing:
        raise ListRefused(f"本期名单已存在 (a list for this programme and period exists: {existing})", "list_exists")
    rows = await propose(session, school_code=who.school_code or "", rules=rules)
    if not rows:
        raise ListRefused("没有已核对的符合条件学生 (no verified students qualify for this programme)", "no_students")
    list_id = new_id("L")
    await session.execute(insert(tables.aid_lists).values(
        list_id=list_id, school_code=who.school_code, region=rows[0][0].student["enrolment_region"],
        programme_code=rules.code, rules_version=rules.version, period=period, status=DRAFT, created_by=who.subject))
    await session.execute(insert(tables.list_entries), [
        {"list_id": list_id, "student_key": r.student_key, "entry_no": n, "amount_fen": amount, "student": r.student}
        for n, (r, amount) in enumerate(rows, start=1)])
    await log(session, "aid_list", list_id, "created", who, {"students": len(rows)})
    return {"list_id": list_id, "students": len(rows), "status": DRAFT,
            "amount_fen_total": sum(amount for _, amount in rows)}


async def own_list(session: AsyncSession, who: Principal, list_id: str):
    aid_list = await load_list(session, list_id)
    if aid_list.school_code != who.school_code:
        raise LookupError(f"没有这个资助名单 (no aid list {list_id} at your school)")
    return aid_list


async def remove_entry(session: AsyncSession, who: Principal, list_id: str, entry_no: int, reason: str) -> dict:
    """The school takes a student off its draft list, with a reason (kept, not deleted)."""
    aid_list = await own_list(session, who, list_id)
    check_state(aid_list.status, (DRAFT,), "移除学生")
    text = check_reason(reason, "移除")
    result = await session.execute(update(tables.list_entries).where(
        E.list_id == list_id, E.entry_no == entry_no, E.state == IN).values(state=REMOVED, state_reason=text))
    if not result.rowcount:
        raise LookupError(f"名单中没有第 {entry_no} 号学生 (no entry {entry_no} on the list)")
    await log(session, "aid_list", list_id, "entry_removed", who, {"entry_no": entry_no, "reason": text})
    return {"list_id": list_id, "entry_no": entry_no, "state": REMOVED}


async def recheck(session: AsyncSession, aid_list, rules: Rules) -> list[dict]:
    """Flag the entries whose student no longer qualifies (they stay on record, are not paid)."""
    rows = (await session.execute(
        select(E.entry_no, E.student_key, C.status, C.school_code, C.stage, C.categories)
        .outerjoin(tables.candidates, C.student_key == E.student_key)
        .where(E.list_id == aid_list.list_id, E.state == IN))).all()
    flagged = []
    for r in rows:
        reason = ineligibility(status=r.status, school_code=r.school_code, stage=r.stage,
                               categories=set(r.categories or []), list_school=aid_list.school_code, rules=rules)
        if reason:
            await session.execute(update(tables.list_entries).where(
                E.list_id == aid_list.list_id, E.student_key == r.student_key).values(state=INELIGIBLE,
                                                                                     state_reason=reason))
            flagged.append({"entry_no": r.entry_no, "reason": reason})
    return flagged


async def submit(session: AsyncSession, who: Principal, list_id: str) -> dict:
    """The school submits its draft for audit; students who no longer qualify are flagged now."""
    aid_list = await own_list(session, who, list_id)
    check_state(aid_list.status, (DRAFT,), "上报")
    flagged = await recheck(session, aid_list, await rules_for(session, aid_list.programme_code, aid_list.period,
                                                               aid_list.rules_version))
    if not await _count_in(session, list_id):
        raise ListRefused("名单中没有符合条件的学生 (no eligible student left on the list)", "no_students")
    await session.execute(update(tables.aid_lists).where(A.list_id == list_id).values(
        status=SUBMITTED, submitted_at=datetime.now(UTC), audit_reason=None))
    await log(session, "aid_list", list_id, "submitted", who, {"flagged": len(flagged)})
    return {"list_id": list_id, "status": SUBMITTED, "students": await _count_in(session, list_id), "flagged": flagged}


async def _count_in(session: AsyncSession, list_id: str) -> int:
    return await session.scalar(select(func.count()).where(E.list_id == list_id, E.state == IN))


async def audited_list(session: AsyncSession, who: Principal, list_id: str):
    aid_list = await load_list(session, list_id)
    if not who.covers_region(aid_list.region):
        raise LookupError(f"没有这个资助名单 (no aid list {list_id} in your jurisdiction)")
    return aid_list


async def return_list(session: AsyncSession, who: Principal, list_id: str, reason: str) -> dict:
    """The bureau returns a submitted list to the school with a reason (退回)."""
    aid_list = await audited_list(session, who, list_id)
    check_state(aid_list.status, (SUBMITTED,), "退回")
    text = check_reason(reason, "退回")
    await session.execute(update(tables.aid_lists).where(A.list_id == list_id).values(status=DRAFT, audit_reason=text))
    await tell_school(session, aid_list.school_code, list_id, "list_returned", f"资助名单被退回：{text}")
    await log(session, "aid_list", list_id, "returned", who, {"reason": text})
    return {"list_id": list_id, "status": DRAFT, "audit_reason": text}


async def approve(session: AsyncSession, who: Principal, list_id: str, *, calendar: WorkingCalendar,
                  working_days: int, notice_seconds: float | None) -> dict:
    """The bureau approves a submitted list; it is published for the notice (公示)."""
    aid_list = await audited_list(session, who, list_id)
    check_state(aid_list.status, (SUBMITTED,), "审核通过")
    now = datetime.now(UTC)
    ends = (now + timedelta(seconds=notice_seconds)) if notice_seconds is not None else calendar.notice_end(now, working_days)
    await session.execute(update(tables.aid_lists).where(A.list_id == list_id).values(
        status=PUBLISHED, approved_by=who.subject, published_at=now, notice_ends_at=ends))
    count = await _emit(session, list_id, final=False)
    await log(session, "aid_list", list_id, "approved", who, {"notice_ends_at": ends.isoformat()})
    return {"list_id": list_id, "status": PUBLISHED, "notice_ends_at": ends.isoformat(), "students": count}


async def finalise_due(session: AsyncSession, now: datetime | None = None) -> int:
    """Lists whose window has closed with every objection decided become final; returns how many.
    Students who no longer qualify are flagged and left out of the final list (``publication-withdrawn``)."""
    now = now or datetime.now(UTC)
    o = tables.objections.c
    open_objections = select(func.count()).where(o.list_id == A.list_id, o.state == "open").scalar_subquery()
    due = (await session.execute(select(tables.aid_lists, open_objections.label("open_objections")).where(
        and_(A.status == PUBLISHED, A.notice_ends_at <= now)).with_for_update(skip_locked=True, of=tables.aid_lists)
        .limit(50))).all()
    finalised = 0
    for row in due:
        if not can_finalise(status=row.status, notice_ends_at=row.notice_ends_at, now=now,
                            open_objections=row.open_objections):
            continue
        rules = await rules_for(session, row.programme_code, row.period, row.rules_version)
        flagged = await recheck(session, row, rules)
        await emit_withdrawn(session, row, rules, {entry["entry_no"]: entry["reason"] for entry in flagged},
                             "ineligible")
        for entry in flagged:
            await tell_school(session, row.school_code, row.list_id, "entry_ineligible",
                              f"第 {entry['entry_no']} 号学生不再符合条件，未列入最终名单：{entry['reason']}")
        await session.execute(update(tables.aid_lists).where(A.list_id == row.list_id).values(
            status=FINAL, finalised_at=now))
        await _emit(session, row.list_id, final=True)
        finalised += 1
    return finalised


async def _emit(session: AsyncSession, list_id: str, *, final: bool) -> int:
    """``published`` for every student still on the list."""
    aid_list = (await session.execute(select(tables.aid_lists).where(A.list_id == list_id))).one()
    rules = await rules_for(session, aid_list.programme_code, aid_list.period, aid_list.rules_version)
    entries = (await session.execute(select(tables.list_entries).where(E.list_id == list_id, E.state == IN)
                                     .order_by(E.entry_no))).all()
    events = [(Published.TOPIC, Envelope.wrap(Published(
        list_id=list_id, programme_code=rules.code, programme_name=rules.name, period=aid_list.period,
        amount_fen=e.amount_fen, student=StudentFacts(**e.student), published_at=aid_list.published_at,
        notice_ends_at=aid_list.notice_ends_at, final=final), source=SOURCE, key=e.student_key)) for e in entries]
    await outbox.add_many(session, tables.chassis.outbox, events)
    return len(events)


async def emit_withdrawn(session: AsyncSession, aid_list, rules: Rules, reasons: dict[int, str], code: str) -> None:
    """``publication-withdrawn`` for entries (number → reason) taken off a list under notice (its
    programme's ``rules``): the read models stop showing them as published, and they are never paid."""
    if not reasons:
        return
    entries = (await session.execute(select(E.entry_no, E.student_key, E.amount_fen).where(
        E.list_id == aid_list.list_id, E.entry_no.in_(list(reasons))).order_by(E.entry_no))).all()
    now = datetime.now(UTC)
    await outbox.add_many(session, tables.chassis.outbox, [(PublicationWithdrawn.TOPIC, Envelope.wrap(
        PublicationWithdrawn(list_id=aid_list.list_id, programme_code=rules.code, programme_name=rules.name,
                             period=aid_list.period, amount_fen=e.amount_fen, reason_code=code,
                             reason=reasons[e.entry_no], withdrawn_at=now), source=SOURCE, key=e.student_key))
        for e in entries])
