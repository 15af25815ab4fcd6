"""Use cases of verification: tasks follow matches; schools verify."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis import outbox
from aid_contracts import Envelope, StudentMatched, StudentMatchWithdrawn, Verified
from aid_contracts.events import StudentFacts, VerificationStatus
from verification.adapters import tables
from verification.domain.tasks import PENDING, VerificationRefused, check_verification, is_newer

SOURCE = "verification"
SYSTEM = "system"


async def _history(session: AsyncSession, task_id: str, action: str, actor: str, detail: dict) -> None:
    await session.execute(insert(tables.task_history).values(task_id=task_id, action=action, actor=actor, detail=detail))


async def _task_by_key(session: AsyncSession, key: str):
    stmt = select(tables.tasks).where(tables.tasks.c.student_key == key).with_for_update()
    return (await session.execute(stmt)).first()


async def on_student_matched(session: AsyncSession, envelope: Envelope) -> None:
    """Create or re-open the school's task; an earlier answer stays in the history."""
    event: StudentMatched = envelope.parse(StudentMatched)
    task = await _task_by_key(session, envelope.partitionkey)
    if task is not None and not is_newer(event.revision, task.match_revision):
        return
    s = event.student
    values = {"match_id": event.match_id, "match_revision": event.revision, "school_code": s.school_code,
              "enrolment_region": s.enrolment_region, "household_region": s.household_region,
              "student": s.model_dump(mode="json"), "categories": [c.model_dump(mode="json") for c in event.categories],
              "status": PENDING, "invalid_reason": None, "open": True, "closed_reason": None,
              "updated_at": datetime.now(UTC)}
    if task is None:
        task_id = f"T{uuid.uuid4().hex[:20]}"
        await session.execute(insert(tables.tasks).values(task_id=task_id, student_key=envelope.partitionkey, **values))
        await _history(session, task_id, "created", SYSTEM, {"match_revision": event.revision})
        return
    await session.execute(update(tables.tasks).where(tables.tasks.c.task_id == task.task_id).values(**values))
    await _history(session, task.task_id, "reopened", SYSTEM,
                   {"match_revision": event.revision, "previous_status": task.status})


async def on_match_withdrawn(session: AsyncSession, envelope: Envelope) -> None:
    event: StudentMatchWithdrawn = envelope.parse(StudentMatchWithdrawn)
    task = await _task_by_key(session, envelope.partitionkey)
    if task is None or not is_newer(event.revision, task.match_revision):
        return
    await session.execute(update(tables.tasks).where(tables.tasks.c.task_id == task.task_id).values(
        match_revision=event.revision, open=False, closed_reason=event.reason, updated_at=datetime.now(UTC)))
    await _history(session, task.task_id, "withdrawn", SYSTEM, {"reason": event.reason})


async def verify(session: AsyncSession, *, task_id: str, school_code: str, actor: str,
                 status: VerificationStatus, invalid_reason: str | None) -> dict:
    """A school's answer for one task; emits ``verified``."""
    stmt = select(tables.tasks).where(tables.tasks.c.task_id == task_id).with_for_update()
    task = (await session.execute(stmt)).first()
    if task is None or task.school_code != school_code:
        raise LookupError("没有这个核对任务 (no such task for your school)")
    check_verification(open_=task.open, status=status, invalid_reason=invalid_reason)
    now = datetime.now(UTC)
    await session.execute(update(tables.tasks).where(tables.tasks.c.task_id == task_id).values(
        status=status.value, invalid_reason=invalid_reason, verified_by=actor, verified_at=now, updated_at=now))
    await _history(session, task_id, "verified", actor, {"status": status.value, "invalid_reason": invalid_reason,
                                                         "previous_status": task.status})
    event = Verified(task_id=task_id, match_id=task.match_id, match_revision=task.match_revision, status=status,
                     invalid_reason=invalid_reason, student=StudentFacts(**task.student), categories=task.categories,
                     verified_by=actor, verified_at=now)
    await outbox.add(session, tables.chassis.outbox, event.TOPIC, Envelope.wrap(event, source=SOURCE, key=task.student_key))
    return {"task_id": task_id, "status": status.value}


__all__ = ["VerificationRefused", "on_match_withdrawn", "on_student_matched", "verify"]
