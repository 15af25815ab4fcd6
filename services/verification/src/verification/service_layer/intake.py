"""The worker's events a whole batch at a time (a comparison round arrives as a burst).

What one event does to a student whose tasks are all matched tasks at one school — nearly every
student of a round — is planned in memory with the batch's other such students and written in a
few statements for the whole batch: new students' tasks created, a newer match re-matching or
re-opening the school's task (``distribution.rematch``), a withdrawal closing it
(``distribution.closing``), each with its history entry and its ``task-progressed`` event. A
student with several events in the batch (a match and its revision a second apart, more of them
the further the worker is behind) has them taken in turns: every student's first event, then
every second one, each turn planned on the tasks as the turn before left them. Every other event
(a student at several schools, or with a supplement, and payments) goes through its one-at-a-time
handler (~2 ms an event, where a planned one is ~0.1 ms); a student's events keep their order.
Redelivered events are absorbed as there: a match no newer than the tasks' revision changes nothing.
"""

from __future__ import annotations

from functools import partial

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis import bulk, outbox
from aid_chassis.audit import new_ids
from aid_chassis.consumer import by_key
from aid_chassis.fields import FieldCipher
from aid_chassis.projection import among, insert_rows
from aid_contracts import Envelope, Paid, StudentMatched, StudentMatchWithdrawn, TaskProgressed
from verification.adapters import tables
from verification.domain.audit import UNSUBMITTED
from verification.domain.tasks import PENDING, is_newer
from verification.service_layer import distribution, followups
from verification.service_layer.store import SOURCE, SYSTEM, T, now, progressed

ONE_AT_A_TIME = {StudentMatched.EVENT_TYPE: distribution.on_student_matched,
                 StudentMatchWithdrawn.EVENT_TYPE: distribution.on_match_withdrawn,
                 Paid.EVENT_TYPE: followups.on_paid}
TYPES = frozenset(ONE_AT_A_TIME)
TASKS_GROWTH = bulk.Growth(tables.tasks.name, ("student_key",))  # a round's tasks looked up a batch at a time (``apply``)


async def apply(session: AsyncSession, envelopes: list[Envelope], fields: FieldCipher | None = None) -> None:
    """A batch of events (``fields`` opens sealed names and ID numbers to tell a real change), in
    turns: each student's n-th event in the n-th (a student's events stay in their order)."""
    students = by_key(envelopes)
    for turn in range(max(map(len, students.values()), default=0)):
        await _apply_turn(session, {key: events[turn] for key, events in students.items() if len(events) > turn}, fields)


async def _apply_turn(session: AsyncSession, students: dict[str, Envelope], fields: FieldCipher | None) -> None:
    """One event of each student: planned together where they can be, else one at a time."""
    stmt = select(tables.tasks).where(among(T.student_key, students)).order_by(T.task_id).with_for_update()
    known: dict[str, list] = {}
    for task in await session.execute(stmt):
        known.setdefault(task.student_key, []).append(task)
    fresh, changes = [], []
    one_at_a_time = {**ONE_AT_A_TIME, StudentMatched.EVENT_TYPE: partial(distribution.on_student_matched, fields=fields)}
    for key, envelope in students.items():
        plan = _plan(envelope, known.get(key, []), fields)
        if isinstance(plan, StudentMatched):
            fresh.append((key, plan))
        elif plan is not None:
            changes += plan
        else:
            await one_at_a_time[envelope.type](session, envelope)
    if fresh:
        await _create(session, fresh)
    if changes:
        await _change(session, changes)


def _plan(envelope: Envelope, tasks: list, fields: FieldCipher | None = None) -> StudentMatched | list | None:
    """A new student's match to create, or the changes (task, values, action, detail) one event
    makes to a student whose tasks are matched tasks at one school; None: one at a time."""
    if envelope.type == Paid.EVENT_TYPE or any(t.origin != "matched" for t in tasks) or len(
            {t.school_code for t in tasks}) > 1:
        return None
    newest = max((t.match_revision for t in tasks), default=None)
    if envelope.type == StudentMatchWithdrawn.EVENT_TYPE:
        withdrawal = envelope.parse(StudentMatchWithdrawn)
        if not is_newer(withdrawal.revision, newest):
            return []
        closing = distribution.closing(distribution.withdrawn_reason(withdrawal), withdrawal.revision)
        return [(t, *closing) for t in tasks if t.open]
    match = envelope.parse(StudentMatched)
    school = match.student.school_code
    if any(code != school for code in match.other_school_codes) or len(tasks) > 1:
        return None
    if not tasks:
        return match
    if not is_newer(match.revision, newest):
        return []
    return [(tasks[0], *distribution.rematch(tasks[0], match, school, fields))] if tasks[0].school_code == school \
        else None


async def _create(session: AsyncSession, fresh: list[tuple[str, StudentMatched]]) -> None:
    """The tasks of new students, their ``created`` history and their ``task-progressed`` events."""
    stamp = now()
    rows = [{"task_id": task_id, "student_key": key, "origin": "matched", "status": PENDING, "open": True,
             "audit_state": UNSUBMITTED, "updated_at": stamp,
             **distribution.task_values(match, match.student.school_code)}
            for task_id, (key, match) in zip(new_ids("T", len(fresh)), fresh, strict=True)]
    await insert_rows(session, tables.tasks, rows)
    await TASKS_GROWTH.added_rows(session, len(rows))
    await _progressed(session, [(row, "created", {"match_revision": row["match_revision"]}) for row in rows])


async def _change(session: AsyncSession, changes: list[tuple]) -> None:
    """Tasks updated in one statement per set of columns, then their history and events."""
    stamp, by_columns = now(), {}
    for task, values, _, _ in changes:
        by_columns.setdefault(tuple(sorted(values)), []).append(
            {"_id": task.task_id, "_updated_at": stamp, **{f"_{k}": v for k, v in values.items()}})
    for columns, rows in by_columns.items():
        stmt = update(tables.tasks).where(T.task_id == bindparam("_id")).values(
            {c: bindparam(f"_{c}", type_=tables.tasks.c[c].type) for c in (*columns, "updated_at")})
        await session.execute(stmt, rows)
    await _progressed(session, [({**task._mapping, **values, "updated_at": stamp}, action, detail)
                                for task, values, action, detail in changes])


async def _progressed(session: AsyncSession, entries: list[tuple[dict, str, dict]]) -> None:
    """Each task's history entry (its state as written, action, detail) and the ``task-progressed``
    event of that state for reporting, in one statement each."""
    sequences = dict(await insert_rows(session, tables.task_history, [
        {"task_id": task["task_id"], "action": action, "actor": SYSTEM, "detail": detail}
        for task, action, detail in entries], returning=("task_id", "id")))
    await outbox.add_many(session, tables.chassis.outbox, [
        (TaskProgressed.TOPIC, Envelope.wrap(progressed(task, sequences[task["task_id"]]), source=SOURCE,
                                             key=task["student_key"])) for task, _, _ in entries])
