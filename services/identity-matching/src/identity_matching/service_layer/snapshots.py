"""Replace a snapshot (the roster, or one department's list) by touching only what changed."""

from __future__ import annotations

from sqlalchemy import Table, delete, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

IGNORED = {"batch_id", "updated_at"}  # bookkeeping, not content
CHUNK = 5000


async def replace(session: AsyncSession, table: Table, rows: list[dict], *, scope=None) -> set[str]:
    """Make ``table`` (within ``scope``) hold exactly ``rows``; returns the student keys that changed."""
    pk = [c.name for c in table.primary_key.columns]
    content = [c.name for c in table.columns if c.name not in IGNORED]
    query = select(*[table.c[n] for n in content])
    if scope is not None:
        query = query.where(scope)
    old = {tuple(r[n] for n in pk): tuple(r[n] for n in content) for r in (await session.execute(query)).mappings()}
    new = {tuple(r[n] for n in pk): r for r in rows}
    gone = [k for k in old if k not in new]
    changed = [r for k, r in new.items() if old.get(k) != tuple(_db_value(r[n]) for n in content)]
    for start in range(0, len(gone), CHUNK):
        part = gone[start:start + CHUNK]
        await session.execute(delete(table).where(tuple_(*[table.c[n] for n in pk]).in_(part)))
    if changed:
        stmt = pg_insert(table)
        update = {c: stmt.excluded[c] for c in changed[0] if c not in pk}
        await session.execute(stmt.on_conflict_do_update(index_elements=pk, set_=update), changed)
    key = pk.index("student_key")
    return {k[key] for k in gone} | {r["student_key"] for r in changed}


def _db_value(value):
    """A Python value as it reads back from the database (enums as their text)."""
    return getattr(value, "value", value)
