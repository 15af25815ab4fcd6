"""Per-student progress from events; idempotent through the inbox and version checks."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from aid_contracts import Envelope, Paid, Published, StudentMatched, StudentMatchWithdrawn, Verified
from reporting.adapters import tables

p = tables.progress


async def on_matched(session: AsyncSession, env: Envelope) -> None:
    event: StudentMatched = env.parse(StudentMatched)
    s = event.student
    facts = {"enrolment_region": s.enrolment_region, "household_region": s.household_region,
             "stage": s.stage.value, "match_revision": event.revision, "matched": True}
    stmt = pg_insert(p).values(student_key=env.partitionkey, verification="pending", published=False,
                               paid_count=0, paid_fen=0, **facts)
    await session.execute(stmt.on_conflict_do_update(index_elements=["student_key"], set_=facts,
                                                     where=p.c.match_revision < event.revision))


async def on_withdrawn(session: AsyncSession, env: Envelope) -> None:
    event: StudentMatchWithdrawn = env.parse(StudentMatchWithdrawn)
    await session.execute(update(p).where(p.c.student_key == env.partitionkey, p.c.match_revision < event.revision)
                          .values(matched=False, match_revision=event.revision))


async def on_verified(session: AsyncSession, env: Envelope) -> None:
    event: Verified = env.parse(Verified)
    await session.execute(update(p).where(p.c.student_key == env.partitionkey).values(verification=event.status.value))


async def on_published(session: AsyncSession, env: Envelope) -> None:
    env.parse(Published)
    await session.execute(update(p).where(p.c.student_key == env.partitionkey).values(published=True))


async def on_paid(session: AsyncSession, env: Envelope) -> None:
    event: Paid = env.parse(Paid)
    await session.execute(update(p).where(p.c.student_key == env.partitionkey).values(
        paid_count=p.c.paid_count + 1, paid_fen=p.c.paid_fen + event.amount_fen))
