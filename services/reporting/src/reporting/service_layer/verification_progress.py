"""Folding verification's progress into reporting's state, a batch at a time: tasks (with the
difference they make to the task counters), task batches' deadlines, each school's part of
the abnormal-record checks, and schools' names (from identity-matching). Each keeps the later state (by sequence or time) of what it holds."""

from __future__ import annotations

from collections import Counter

from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis.projection import rows_by_key, upsert
from aid_contracts import CheckProgressed, DeadlineSet, Envelope, InstitutionChanged, TaskProgressed
from reporting.adapters import tables
from reporting.domain.counts import delta
from reporting.domain.tasks import is_later, task_contributions, task_row


async def fold_tasks(session: AsyncSession, envelopes: list[Envelope]) -> Counter:
    """Keep each task's latest state; return the change it makes to the task counters."""
    events = [(env.partitionkey, env.parse(TaskProgressed)) for env in envelopes]
    stored = await rows_by_key(session, tables.tasks, {e.task_id for _, e in events}, lambda r: r["task_id"],
                               column="task_id")
    before, changed = dict(stored), set()
    for key, event in events:
        if is_later(stored.get(event.task_id), event.sequence):
            stored[event.task_id] = task_row(key, event)
            changed.add(event.task_id)
    old, new = Counter(), Counter()
    for task_id in changed:
        task_contributions(before.get(task_id), old)
        task_contributions(stored[task_id], new)
    await upsert(session, tables.tasks, [stored[t] for t in sorted(changed)])
    return delta(old, new)


async def keep_deadlines(session: AsyncSession, envelopes: list[Envelope]) -> None:
    """The latest deadline of each task batch (by when it was set)."""
    stored = await rows_by_key(session, tables.deadlines, {env.data["batch"] for env in envelopes},
                               lambda r: (r["kind"], r["batch"]), column="batch")
    changed = set()
    for env in envelopes:
        event = env.parse(DeadlineSet)
        key = (event.kind, event.batch)
        if key not in stored or event.set_at >= stored[key]["set_at"]:
            stored[key] = {"kind": event.kind, "batch": event.batch, "due": event.due, "set_at": event.set_at}
            changed.add(key)
    await upsert(session, tables.deadlines, [stored[k] for k in sorted(changed)])


async def keep_checks(session: AsyncSession, envelopes: list[Envelope]) -> None:
    """Each school's latest records and answers of each abnormal-record check."""
    events = [env.parse(CheckProgressed) for env in envelopes]
    stored = await rows_by_key(session, tables.check_schools, {e.check_id for e in events},
                               lambda r: (r["check_id"], r["school_code"]), column="check_id")
    changed = set()
    for event in events:
        key = (event.check_id, event.school_code)
        if is_later(stored.get(key), event.sequence):
            stored[key] = {**event.model_dump(include={"check_id", "school_code", "title", "county", "items",
                                                       "answers", "sequence"})}
            changed.add(key)
    await upsert(session, tables.check_schools, [stored[k] for k in sorted(changed)])


async def keep_schools(session: AsyncSession, envelopes: list[Envelope]) -> None:
    """Each school's latest name and state (by when it changed)."""
    events = [env.parse(InstitutionChanged) for env in envelopes]
    stored = await rows_by_key(session, tables.schools, {e.code for e in events}, lambda r: (r["code"], r["stage"]),
                               column="code")
    changed = set()
    for event in events:
        key = (event.code, event.stage.value)
        if key not in stored or event.changed_at >= stored[key]["changed_at"]:
            stored[key] = {"code": event.code, "stage": event.stage.value, "name": event.name, "active": event.active,
                           "changed_at": event.changed_at}
            changed.add(key)
    await upsert(session, tables.schools, [stored[k] for k in sorted(changed)])
