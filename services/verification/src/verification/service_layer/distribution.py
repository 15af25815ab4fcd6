"""Distribution (数据分发): every match becomes the school's task automatically (FAQ Q9).

A match is handed to its school and to every other school enrolling the same ID number; a
student handed to more than one school opens a repeated-student check (重复学生核查). A
re-comparison that changes what a school sees re-opens its task showing what changed; the
earlier answer stays in the task's history.
"""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from aid_contracts import Envelope, StudentMatched, StudentMatchWithdrawn
from aid_chassis.audit import new_id
from aid_chassis.fields import PERSONAL, FieldCipher, ShreddedFieldError
from verification.adapters import tables
from verification.domain.audit import UNSUBMITTED, resolver_prefix
from verification.domain.tasks import PENDING, is_newer, match_changes
from verification.service_layer.store import SYSTEM, T, history, now, set_task

MOVED = "学籍已不在本校 (the roster no longer enrols the student at this school)"


async def tasks_of(session: AsyncSession, key: str) -> list:
    """Every task of one student, locked, oldest first."""
    stmt = select(tables.tasks).where(T.student_key == key).order_by(T.task_id).with_for_update()
    return (await session.execute(stmt)).all()


async def on_student_matched(session: AsyncSession, envelope: Envelope, fields: FieldCipher | None = None) -> None:
    """Create or update the task of each school enrolling the student; close the ones it left
    (``fields`` opens sealed names and ID numbers to tell a real change)."""
    event: StudentMatched = envelope.parse(StudentMatched)
    key = envelope.partitionkey
    existing = await tasks_of(session, key)
    if not is_newer(event.revision, max((t.match_revision for t in existing if t.origin == "matched"), default=None)):
        return
    by_school = {t.school_code: t for t in existing}
    schools = [event.student.school_code, *[c for c in event.other_school_codes if c != event.student.school_code]]
    for school in schools:
        await _hand_to(session, key, event, school, by_school.get(school), fields)
    for task in existing:
        if task.origin == "matched" and task.open and task.school_code not in schools:
            await _close(session, task, MOVED, event.revision)
    if len(schools) > 1 or any(t.school_code not in schools for t in existing):
        await refresh_repeated(session, key)  # only a student at several schools can be a repeated one


def task_values(event: StudentMatched, school: str) -> dict:
    student = event.student.model_dump(mode="json") | {"school_code": school}
    return {"match_id": event.match_id, "match_revision": event.revision, "batch_id": event.batch_id,
            "school_code": school, "stage": student["stage"], "enrolment_region": student["enrolment_region"],
            "household_region": student["household_region"], "student": student,
            "categories": [c.model_dump(mode="json") for c in event.categories],
            "review": sorted({*event.review, *(["name_mismatch"] if event.name_mismatch else [])})}


async def _hand_to(session: AsyncSession, key: str, event: StudentMatched, school: str, task,
                   fields: FieldCipher | None) -> None:
    if task is None:
        task_id = new_id("T")
        await session.execute(insert(tables.tasks).values(
            task_id=task_id, student_key=key, origin="matched", status=PENDING, open=True,
            **task_values(event, school)))
        await history(session, task_id, "created", SYSTEM, {"match_revision": event.revision})
        return
    values, action, detail = rematch(task, event, school, fields)
    await set_task(session, task.task_id, **values)
    await history(session, task.task_id, action, SYSTEM, detail)


def rematch(task, event: StudentMatched, school: str, fields: FieldCipher | None = None) -> tuple[dict, str, dict]:
    """A newer match of a school's task: the task's new values, and the history entry (action, detail)."""
    values = task_values(event, school)
    changes = match_changes(task.student, task.categories, values["student"], values["categories"],
                            _same_for(fields, task.student_key))
    if task.open and not changes:  # what the school sees is the same; the batch or review flags may move
        return values, "rematched", {"match_revision": event.revision}
    reopened = values | {"changes": changes, "status": PENDING, "invalid_reason": None, "invalid_text": None,
                         "corrections": {}, "open": True, "closed_reason": None, "audit_state": UNSUBMITTED,
                         "audit_reason": None}
    return reopened, "reopened", {
        "match_revision": event.revision, "changed": sorted(changes), "previous_status": task.status,
        "previous_invalid_reason": task.invalid_reason, "previous_audit_state": task.audit_state}


def _same_for(fields: FieldCipher | None, key: str):
    """Equality of two stored facts of a student: sealed names and ID numbers compared opened."""
    if fields is None:
        return None

    def same(field: str, old, new) -> bool:
        if old == new:
            return True
        if field not in PERSONAL or not isinstance(old, str) or not isinstance(new, str):
            return False
        try:
            return fields.open_text(old, key, field) == fields.open_text(new, key, field)
        except ShreddedFieldError:  # a key not here (yet): counted as a change, the school looks again
            return False
    return same


def closing(reason: str, revision: int) -> tuple[dict, str, dict]:
    """A task closed by the match's change: its new values, and the history entry (action, detail)."""
    return {"open": False, "closed_reason": reason, "match_revision": revision}, "closed", {
        "reason": reason, "match_revision": revision}


async def _close(session: AsyncSession, task, reason: str, revision: int) -> None:
    values, action, detail = closing(reason, revision)
    await set_task(session, task.task_id, **values)
    await history(session, task.task_id, action, SYSTEM, detail)


def withdrawn_reason(event: StudentMatchWithdrawn) -> str:
    return f"比对结果撤销 (match withdrawn): {event.reason}"


async def on_match_withdrawn(session: AsyncSession, envelope: Envelope) -> None:
    """A withdrawn match closes its schools' tasks with the reason; the answers stay."""
    event: StudentMatchWithdrawn = envelope.parse(StudentMatchWithdrawn)
    existing = await tasks_of(session, envelope.partitionkey)
    if not is_newer(event.revision, max((t.match_revision for t in existing if t.origin == "matched"), default=None)):
        return
    for task in existing:
        if task.origin == "matched" and task.open:
            await _close(session, task, withdrawn_reason(event), event.revision)
    await refresh_repeated(session, envelope.partitionkey)


async def refresh_repeated(session: AsyncSession, key: str) -> None:
    """Open (or re-open) the repeated-student check when a student's open tasks span schools."""
    open_tasks = [t for t in await tasks_of(session, key) if t.open]
    stored = (await session.execute(select(tables.repeated_checks).where(
        tables.repeated_checks.c.student_key == key).with_for_update())).first()
    if len({t.school_code for t in open_tasks}) < 2:
        return
    kept = stored.kept_task_id if stored else None
    if stored and stored.state == "resolved" and kept in {t.task_id for t in open_tasks} and not any(
            t.status == PENDING for t in open_tasks):
        return
    prefix = resolver_prefix({t.enrolment_region for t in open_tasks})
    stmt = pg_insert(tables.repeated_checks).values(student_key=key, state="open", resolver_prefix=prefix,
                                                    opened_at=now())
    await session.execute(stmt.on_conflict_do_update(index_elements=["student_key"], set_={
        "state": "open", "resolver_prefix": prefix, "kept_task_id": None, "resolved_by": None, "resolved_at": None}))
