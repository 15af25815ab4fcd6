"""Submission (上报) by schools and audit (审核) by bureaus; approval emits ``verified``."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis.auth import Principal
from aid_contracts import Verified
from aid_contracts.events import StudentFacts, VerificationStatus
from verification.adapters import tables
from verification.domain.audit import (APPROVED, RETURNED, SUBMITTED, UNSUBMITTED, audits, check_decision,
                                       check_submittable)
from verification.domain.tasks import VerificationRefused, corrected
from verification.service_layer.store import T, each, emit, history, now, school_task, school_scope, set_task


async def submit(session: AsyncSession, who: Principal, task_ids: list[str] | None) -> dict:
    """Submit answered records for audit: the given ones, or every answered one not yet submitted."""
    if task_ids is None:
        task_ids = list((await session.execute(select(T.task_id).where(
            school_scope(who), T.open, T.status != "pending", T.audit_state.in_((UNSUBMITTED, RETURNED)))
            .order_by(T.task_id))).scalars())

    async def one(task_id: str) -> dict:
        task = await school_task(session, who, task_id)
        check_submittable(status=task.status, audit_state=task.audit_state, open_=task.open)
        await set_task(session, task_id, audit_state=SUBMITTED, submitted_at=now())
        await history(session, task_id, "submitted", who, {"status": task.status})
        return {"audit_state": SUBMITTED}

    return await each(session, task_ids, one, lambda task_id: {"task_id": task_id})


async def decide(session: AsyncSession, who: Principal, decisions: list[tuple[str, str, str | None]]) -> dict:
    """A bureau approves or returns (with a reason) each submitted record in its enrolment jurisdiction."""
    async def one(item: tuple[str, str, str | None]) -> dict:
        task_id, decision, reason = item
        task = (await session.execute(select(tables.tasks).where(T.task_id == task_id).with_for_update())).first()
        if task is None or not audits(who, task.enrolment_region):
            raise LookupError(f"辖区内没有这个核对任务 (no task {task_id} in your jurisdiction)")
        check_decision(decision, reason, audit_state=task.audit_state)
        state = APPROVED if decision == "approve" else RETURNED
        at = now()
        await set_task(session, task_id, audit_state=state, audit_reason=reason, audited_by=who.subject, audited_at=at)
        await history(session, task_id, "approved" if state == APPROVED else "returned", who, {"reason": reason})
        if state == APPROVED:
            await emit_verified(session, task, approved_by=who.subject, approved_at=at)
        return {"audit_state": state}

    return await each(session, decisions, one, lambda item: {"task_id": item[0]})


async def emit_verified(session: AsyncSession, task, *, approved_by: str, approved_at) -> None:
    """``verified`` for an approved record, with the school's corrections applied to the facts."""
    if task.status == VerificationStatus.INVALID.value and task.invalid_reason == "duplicate":
        return  # the student's valid record is another task's; this one is bookkeeping
    if task.status == "pending" or task.verified_at is None:
        raise VerificationRefused("not_answered", "该记录尚未核对 (the record is not answered)")
    facts, _ = corrected(task.student, {k: v["new"] for k, v in (task.corrections or {}).items()})
    event = Verified(task_id=task.task_id, match_id=task.match_id, match_revision=task.match_revision,
                     status=VerificationStatus(task.status), invalid_reason=task.invalid_reason,
                     invalid_text=task.invalid_text, student=StudentFacts(**facts), categories=task.categories,
                     verified_by=task.verified_by, verified_at=task.verified_at, origin=task.origin,
                     corrections=task.corrections or {}, approved_by=approved_by, approved_at=approved_at)
    await emit(session, event, task.student_key)
