"""Follow-up work: unfunded reasons (未资助原因上报), abnormal-record checks (数据核查), deadlines
and progress (进度) by school."""

from __future__ import annotations

from datetime import date

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis.auth import Principal
from aid_contracts import DeadlineSet, Envelope, Paid, UnfundedReasonReported
from verification.adapters import tables
from verification.domain.audit import APPROVED
from verification.domain.followups import UNFUNDED_REASONS, check_coded
from verification.domain.tasks import PENDING, VERIFIED
from verification.service_layer.store import T, emit, log, now, read_scope, school_scope

P, U, D = tables.payments.c, tables.unfunded_reports.c, tables.deadlines.c
POOR = [{"category": "registered_poor"}]


async def on_paid(session: AsyncSession, envelope: Envelope) -> None:
    """Remember that a student was paid in a period (a replayed event changes nothing)."""
    event: Paid = envelope.parse(Paid)
    await session.execute(pg_insert(tables.payments).values(
        student_key=envelope.partitionkey, period=event.period, paid_at=event.paid_at).on_conflict_do_nothing())


def _unfunded(period: str):
    """Approved, verified registered-poor students with no payment in the period, and any reason reported."""
    paid = select(P.student_key).where(P.student_key == T.student_key, P.period == period).exists()
    return (select(T.task_id, T.school_code, T.student_key, T.student, U.reason, U.text, U.reported_at)
            .outerjoin(tables.unfunded_reports, and_(U.task_id == T.task_id, U.period == period))
            .where(T.open, T.audit_state == APPROVED, T.status.in_(VERIFIED), T.categories.contains(POOR), ~paid))


async def unfunded(session: AsyncSession, who: Principal, period: str) -> list:
    return (await session.execute(_unfunded(period).where(read_scope(who)).order_by(T.task_id))).all()


async def report_unfunded(session: AsyncSession, who: Principal, task_id: str, period: str, reason: str,
                          text: str | None) -> dict:
    """A school's reason why a registered-poor student was not funded in the period."""
    task = (await session.execute(_unfunded(period).where(T.task_id == task_id, school_scope(who))
                                  .with_only_columns(T.student_key, T.school_code))).first()
    if task is None:
        raise LookupError(f"本校该学期没有需上报未资助原因的学生 {task_id} (no unfunded registered-poor student {task_id} "
                          f"at your school in {period})")
    check_coded(reason, text, UNFUNDED_REASONS, "reason")
    values = {"reason": reason, "text": text, "reported_by": who.subject, "reported_at": now()}
    await session.execute(pg_insert(tables.unfunded_reports).values(task_id=task_id, period=period, **values)
                          .on_conflict_do_update(index_elements=["task_id", "period"], set_=values))
    await log(session, "unfunded_report", f"{task_id}/{period}", "reported", who, {"reason": reason})
    event = UnfundedReasonReported(task_id=task_id, period=period, reason=reason, school_code=task.school_code,
                                   reported_by=who.subject, reported_at=values["reported_at"])
    await emit(session, event, task.student_key)
    return {"task_id": task_id, "period": period, "reason": reason}


async def deadline(session: AsyncSession, kind: str, batch: str) -> date | None:
    return await session.scalar(select(D.due).where(D.kind == kind, D.batch == batch))


async def unfunded_completion(session: AsyncSession, who: Principal, period: str, today: date) -> dict:
    """Per school: students needing a reason, how many are reported, and whether it is overdue."""
    due = await deadline(session, "unfunded", period)
    sub = _unfunded(period).where(read_scope(who)).subquery()
    rows = await session.execute(select(sub.c.school_code, func.count(), func.count(sub.c.reason))
                                 .group_by(sub.c.school_code).order_by(sub.c.school_code))
    late = due is not None and today > due
    return {"period": period, "due": due, "schools": [
        {"school_code": s, "needed": n, "reported": r, "complete": n == r, "overdue": late and n > r}
        for s, n, r in rows]}


async def set_deadline(session: AsyncSession, who: Principal, kind: str, batch: str, due: date) -> dict:
    values = {"due": due, "set_by": who.subject}
    await session.execute(pg_insert(tables.deadlines).values(kind=kind, batch=batch, **values)
                          .on_conflict_do_update(index_elements=["kind", "batch"], set_=values))
    await log(session, "deadline", f"{kind}/{batch}", "set", who, {"due": due.isoformat()})
    await emit(session, DeadlineSet(kind=kind, batch=batch, due=due, set_at=now()), f"{kind}/{batch}")
    return {"kind": kind, "batch": batch, "due": due.isoformat()}


async def progress(session: AsyncSession, who: Principal, today: date) -> list[dict]:
    """Per school: tasks by answer and audit state, and how many are overdue (核对进度)."""
    due = select(D.due).where(D.kind == "verification", D.batch == T.batch_id).scalar_subquery()
    overdue = and_(T.open, T.audit_state != APPROVED, func.coalesce(due, literal(date.max)) < today)

    def count(condition) -> object:
        return func.count(case((condition, 1)))

    rows = await session.execute(select(
        T.school_code, func.count(), count(T.status == PENDING), count(T.status.in_(VERIFIED)),
        count(T.status == "invalid"), count(T.origin == "supplementary"), count(T.audit_state == "submitted"),
        count(T.audit_state == APPROVED), count(T.audit_state == "returned"), count(overdue))
        .where(read_scope(who), T.open).group_by(T.school_code).order_by(T.school_code))
    names = ("school_code", "tasks", "pending", "verified", "invalid", "supplementary", "submitted", "approved",
             "returned", "overdue")
    return [dict(zip(names, row, strict=True)) for row in rows]
