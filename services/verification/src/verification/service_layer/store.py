"""Small persistence helpers shared by verification's use cases."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, and_, func, insert, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis import audit, outbox
from aid_chassis.auth import Principal, Role
from aid_contracts import Envelope, TaskProgressed
from aid_contracts.events import Event
from verification.adapters import tables
from verification.domain.tasks import VerificationRefused

T = tables.tasks.c
SYSTEM = "system"
SOURCE = "verification"


def now() -> datetime:
    return datetime.now(UTC)


log = audit.logger(tables.audit_log, tables.chassis.outbox, "verification")  # the chained audit trail of people's writes


async def history(session: AsyncSession, task_id: str, action: str, who: Principal | str, detail: dict) -> None:
    """Who did what to a task, when (records are never deleted; every change is kept), a person's
    action also in the chained audit trail, and the task's new state for reporting
    (``task-progressed``, its sequence the history entry's id). Called after the task's row is
    written, in the same transaction."""
    actor = who if isinstance(who, str) else who.subject
    sequence = await session.scalar(insert(tables.task_history).values(
        task_id=task_id, action=action, actor=actor, detail=detail).returning(tables.task_history.c.id))
    if not isinstance(who, str):
        await log(session, "task", task_id, action, who, detail)
    task = (await session.execute(select(tables.tasks).where(T.task_id == task_id))).one()._mapping
    await emit(session, progressed(task, sequence), task["student_key"])


def progressed(task: Mapping, sequence: int) -> TaskProgressed:
    """A task's state for reporting (its row's columns), after its history entry ``sequence``."""
    return TaskProgressed(
        task_id=task["task_id"], sequence=sequence, origin=task["origin"], school_code=task["school_code"],
        stage=task["stage"] or None, enrolment_region=task["enrolment_region"],
        household_region=task["household_region"], categories=sorted({c["category"] for c in task["categories"]}),
        batch_id=task["batch_id"], status=task["status"], audit_state=task["audit_state"], open=task["open"],
        changed_at=task["updated_at"])


async def emit(session: AsyncSession, event: Event, key: str) -> None:
    """Publish ``event`` keyed by ``key`` through the outbox, with this transaction."""
    await outbox.add(session, tables.chassis.outbox, event.TOPIC, Envelope.wrap(event, source=SOURCE, key=key))




async def set_task(session: AsyncSession, task_id: str, **values) -> None:
    await session.execute(update(tables.tasks).where(T.task_id == task_id).values(updated_at=now(), **values))


def school_scope(who: Principal) -> ColumnElement[bool]:
    """A school account's own students (of its stage, where the account is for one stage)."""
    clause = T.school_code == (who.school_code or "")
    return and_(clause, T.stage == who.stage) if who.stage else clause


DIMENSIONS = ("both", "enrolment", "household", "household_elsewhere")


def read_scope(who: Principal, dimension: str = "both") -> ColumnElement[bool]:
    """Which tasks a caller may read: its school's, or its jurisdiction's by 学籍所在地 (enrolment),
    户籍所在地 (household), both, or household here but studying elsewhere (本地户籍外地就读)."""
    if who.role is Role.SCHOOL:
        return school_scope(who)
    prefix = who.region_prefix
    if prefix:
        enrolled = func.left(T.enrolment_region, len(prefix)) == prefix
        household = func.left(T.household_region, len(prefix)) == prefix
        return {"both": or_(enrolled, household), "enrolment": enrolled, "household": household,
                "household_elsewhere": and_(household, ~enrolled)}[dimension]
    return true() if who.role is Role.OPERATOR else T.task_id.is_(None)


async def school_task(session: AsyncSession, who: Principal, task_id: str):
    """The caller's own task, locked; another school's task is reported as not found."""
    stmt = select(tables.tasks).where(T.task_id == task_id, school_scope(who)).with_for_update()
    task = (await session.execute(stmt)).first()
    if task is None:
        raise LookupError(f"没有这个核对任务 (no task {task_id} at your school)")
    return task


async def each(session: AsyncSession, items: list, apply: Callable[[object], Awaitable[dict]],
               label: Callable[[object], dict]) -> dict:
    """Apply a use case to many items, each in its own savepoint: a refused item changes nothing
    and is reported with its code and message; accepted + refused = read."""
    results = []
    for item in items:
        try:
            async with session.begin_nested():
                results.append({**label(item), "ok": True, **await apply(item)})
        except (VerificationRefused, LookupError) as exc:
            code = getattr(exc, "code", "not_found")
            results.append({**label(item), "ok": False, "code": code, "message": str(exc).strip("'\"")})
    accepted = sum(r["ok"] for r in results)
    return {"read": len(items), "accepted": accepted, "refused": len(items) - accepted, "results": results}
