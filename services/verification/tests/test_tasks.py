"""Tasks follow matches (version-checked) and schools' answers become ``verified`` events."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from aid_contracts.events import VerificationStatus
from tests import factories as f
from verification.adapters import tables
from verification.domain.tasks import VerificationRefused
from verification.service_layer import handlers


@pytest.fixture
async def sessions(migrate, engine_for):
    return async_sessionmaker(engine_for(migrate("verification")), expire_on_commit=False)


async def _apply(sessions, handler, envelope):
    async with sessions() as s, s.begin():
        await handler(s, envelope)


async def _task(sessions, seq=1):
    async with sessions() as s:
        return (await s.execute(select(tables.tasks).where(tables.tasks.c.student_key == f.key(seq)))).one()


async def _verify(sessions, task_id, status, reason=None, school="5201020001"):
    async with sessions() as s, s.begin():
        return await handlers.verify(s, task_id=task_id, school_code=school, actor="clerk", status=status,
                                     invalid_reason=reason)


async def test_match_creates_a_pending_task_and_an_older_revision_changes_nothing(sessions):
    await _apply(sessions, handlers.on_student_matched, f.matched(revision=2, school="5201020001"))
    await _apply(sessions, handlers.on_student_matched, f.matched(revision=1, school="5201029999"))
    task = await _task(sessions)
    assert (task.status, task.match_revision, task.school_code, task.open) == ("pending", 2, "5201020001", True)


async def test_verifying_emits_verified_and_keeps_history(sessions):
    await _apply(sessions, handlers.on_student_matched, f.matched())
    task = await _task(sessions)
    await _verify(sessions, task.task_id, VerificationStatus.VERIFIED_UNCHANGED)
    async with sessions() as s:
        out = (await s.execute(select(tables.chassis.outbox))).one()
        history = (await s.execute(select(tables.task_history.c.action).order_by(tables.task_history.c.id))).scalars().all()
    assert out.headers["ce_type"] == "verified" and out.key == f.key(1)
    assert history == ["created", "verified"]
    await _apply(sessions, handlers.on_student_matched, f.matched(revision=2))
    reopened = await _task(sessions)
    assert (reopened.status, reopened.open) == ("pending", True)


async def test_invalid_needs_a_reason_and_other_schools_cannot_answer(sessions):
    await _apply(sessions, handlers.on_student_matched, f.matched())
    task = await _task(sessions)
    with pytest.raises(VerificationRefused, match="原因"):
        await _verify(sessions, task.task_id, VerificationStatus.INVALID)
    with pytest.raises(LookupError):
        await _verify(sessions, task.task_id, VerificationStatus.VERIFIED_UNCHANGED, school="5201030001")
    await _verify(sessions, task.task_id, VerificationStatus.INVALID, reason="not_at_school")
    assert (await _task(sessions)).invalid_reason == "not_at_school"


async def test_withdrawal_closes_the_task_and_a_closed_task_cannot_be_verified(sessions):
    await _apply(sessions, handlers.on_student_matched, f.matched())
    await _apply(sessions, handlers.on_match_withdrawn, f.withdrawn(revision=2))
    task = await _task(sessions)
    assert (task.open, task.closed_reason) == (False, "gone")
    with pytest.raises(VerificationRefused, match="关闭"):
        await _verify(sessions, task.task_id, VerificationStatus.VERIFIED_UNCHANGED)
