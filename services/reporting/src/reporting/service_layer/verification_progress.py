"""Folding verification's progress into reporting's state, a batch at a time: tasks (with the
difference they make to the task counters), task batches' deadlines, each school's part of
the abnormal-record checks, and schools' names (from identity-matching). Each keeps the later state (by sequence or time) of what it holds."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import Table
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


async def _keep_latest(session: AsyncSession, table: Table, rows: list[dict], *, column: str, key: tuple[str, ...],
                       order: str, strictly: bool) -> None:
    """Store each row unless the stored one (found by its ``column``) is later by ``order``; rows
    that lose to what is stored, or to a later row of the same batch, change nothing."""
    stored = await rows_by_key(session, table, {r[column] for r in rows}, lambda r: tuple(r[k] for k in key),
                               column=column)
    changed = set()
    for row in rows:
        k = tuple(row[c] for c in key)
        old = stored.get(k)
        if old is None or row[order] > old[order] or (not strictly and row[order] == old[order]):
            stored[k] = row
            changed.add(k)
    await upsert(session, table, [stored[k] for k in sorted(changed)])


async def keep_deadlines(session: AsyncSession, envelopes: list[Envelope]) -> None:
    """The latest deadline of each task batch (by when it was set)."""
    rows = [env.parse(DeadlineSet).model_dump(include={"kind", "batch", "due", "set_at"}) for env in envelopes]
    await _keep_latest(session, tables.deadlines, rows, column="batch", key=("kind", "batch"), order="set_at",
                       strictly=False)


async def keep_checks(session: AsyncSession, envelopes: list[Envelope]) -> None:
    """Each school's latest records and answers of each abnormal-record check (by sequence)."""
    rows = [env.parse(CheckProgressed).model_dump(include={"check_id", "school_code", "title", "county", "items",
                                                           "answers", "sequence"}) for env in envelopes]
    await _keep_latest(session, tables.check_schools, rows, column="check_id", key=("check_id", "school_code"),
                       order="sequence", strictly=True)


async def keep_schools(session: AsyncSession, envelopes: list[Envelope]) -> None:
    """Each school's latest name and state (by when it changed)."""
    events = [env.parse(InstitutionChanged) for env in envelopes]
    rows = [{"code": e.code, "stage": e.stage.value, "name": e.name, "active": e.active, "changed_at": e.changed_at}
            for e in events]
    await _keep_latest(session, tables.schools, rows, column="code", key=("code", "stage"), order="changed_at",
                       strictly=False)
