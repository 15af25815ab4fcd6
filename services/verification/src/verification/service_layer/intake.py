"""The worker's events a whole batch at a time (a comparison round arrives as a burst).

A student new to this service whose only event in the batch is a match at one school — nearly
every student of a province's first round — becomes a task together with the batch's other such
students: one statement for the tasks, one for their history, one for their ``task-progressed``
events. Every other event (a changed or withdrawn match, a student at several schools, a payment)
goes through its one-at-a-time handler, in order. Redelivered events are absorbed as before: a
match no newer than the tasks' revision changes nothing, a payment is remembered once.
"""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis import outbox
from aid_chassis.audit import new_id
from aid_chassis.consumer import by_key
from aid_contracts import Envelope, Paid, StudentMatched, StudentMatchWithdrawn, TaskProgressed
from verification.adapters import tables
from verification.domain.tasks import PENDING
from verification.service_layer import distribution, followups
from verification.service_layer.store import SOURCE, SYSTEM, T, progressed

ONE_AT_A_TIME = {StudentMatched.EVENT_TYPE: distribution.on_student_matched,
                 StudentMatchWithdrawn.EVENT_TYPE: distribution.on_match_withdrawn,
                 Paid.EVENT_TYPE: followups.on_paid}
TYPES = frozenset(ONE_AT_A_TIME)
H = tables.task_history.c


async def apply(session: AsyncSession, envelopes: list[Envelope]) -> None:
    students = by_key(envelopes)
    known = set((await session.execute(select(T.student_key).where(T.student_key.in_(list(students)))
                                       .distinct())).scalars())
    fresh = []
    for key, events in students.items():
        if key not in known and (match := _new_at_one_school(events)):
            fresh.append((key, match))
            continue
        for envelope in events:
            await ONE_AT_A_TIME[envelope.type](session, envelope)
    if fresh:
        await _create(session, fresh)


def _new_at_one_school(events: list[Envelope]) -> StudentMatched | None:
    if len(events) != 1 or events[0].type != StudentMatched.EVENT_TYPE:
        return None
    match = events[0].parse(StudentMatched)
    return match if all(code == match.student.school_code for code in match.other_school_codes) else None


async def _create(session: AsyncSession, fresh: list[tuple[str, StudentMatched]]) -> None:
    """The tasks of new students, their ``created`` history and their ``task-progressed`` events."""
    rows = [{"task_id": new_id("T"), "student_key": key, "origin": "matched", "status": PENDING, "open": True,
             **distribution.task_values(match, match.student.school_code)} for key, match in fresh]
    tasks = {t.task_id: t for t in await session.execute(insert(tables.tasks).returning(*tables.tasks.c), rows)}
    entries = [{"task_id": r["task_id"], "action": "created", "actor": SYSTEM,
                "detail": {"match_revision": r["match_revision"]}} for r in rows]
    sequences = dict((await session.execute(insert(tables.task_history).returning(H.task_id, H.id), entries)).all())
    events = [(TaskProgressed.TOPIC, Envelope.wrap(progressed(task, sequences[task_id]), source=SOURCE,
                                                   key=task.student_key)) for task_id, task in tasks.items()]
    await outbox.add_many(session, tables.chassis.outbox, events)
