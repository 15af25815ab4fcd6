"""Persistence helpers shared by publicity's use cases."""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis import audit
from publicity.adapters import tables
from publicity.domain.programmes import ListRefused, Period, Rules, rules_of, version_for

V = tables.programme_versions.c


log = audit.logger(tables.audit_log, tables.chassis.outbox, "publicity")  # the chained audit trail of people's writes


async def tell_school(session: AsyncSession, school_code: str, list_id: str, kind: str, message: str) -> None:
    await session.execute(insert(tables.school_messages).values(school_code=school_code, list_id=list_id, kind=kind,
                                                                message=message[:500]))


async def messages(session: AsyncSession, school_code: str) -> list:
    """What a school has been told, oldest first; reading marks nothing (``mark_read``)."""
    m = tables.school_messages.c
    return (await session.execute(select(tables.school_messages).where(m.school_code == school_code)
                                  .order_by(m.id))).all()


async def mark_read(session: AsyncSession, school_code: str, ids: list[int]) -> int:
    """Mark read the school's messages it was shown (named by id: ids are not in commit order, so
    one that arrived meanwhile stays unread); returns how many changed."""
    m = tables.school_messages.c
    result = await session.execute(update(tables.school_messages).where(
        m.school_code == school_code, m.id.in_(ids), ~m.read).values(read=True))
    return result.rowcount


async def versions(session: AsyncSession, code: str) -> list[Rules]:
    rows = await session.execute(select(V.version, V.rules).where(V.code == code).order_by(V.version))
    found = [rules_of(code, r.version, r.rules) for r in rows]
    if not found:
        raise ListRefused(f"没有这个资助项目 (no such programme: {code})", "unknown_programme")
    return found


async def rules_for(session: AsyncSession, code: str, period: str, version: int | None = None) -> Rules:
    """The rules a list uses: its own version, or the version in force for the period."""
    found = await versions(session, code)
    if version is not None:
        return next(v for v in found if v.version == version)
    return version_for(found, Period.parse(period))


async def load_list(session: AsyncSession, list_id: str, *, lock: bool = True):
    stmt = select(tables.aid_lists).where(tables.aid_lists.c.list_id == list_id)
    row = (await session.execute(stmt.with_for_update() if lock else stmt)).first()
    if row is None:
        raise LookupError(f"没有这个资助名单 (no aid list {list_id})")
    return row
