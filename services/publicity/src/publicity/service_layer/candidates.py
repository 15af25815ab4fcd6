"""Candidates: the newest approved verification of each student, kept up to date by matches."""

from __future__ import annotations

from sqlalchemy import and_, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from aid_contracts import Envelope, StudentMatched, StudentMatchWithdrawn, Verified
from publicity.adapters import tables

C = tables.candidates.c


async def on_verified(session: AsyncSession, envelope: Envelope) -> None:
    """Keep the newest verification of each student (version-checked upsert)."""
    event: Verified = envelope.parse(Verified)
    values = {"student_key": envelope.partitionkey, "school_code": event.student.school_code,
              "stage": event.student.stage.value, "status": event.status.value,
              "match_revision": event.match_revision, "student": event.student.model_dump(mode="json"),
              "categories": sorted({c.category.value for c in event.categories}), "verified_at": event.verified_at}
    stmt = pg_insert(tables.candidates).values(values)
    newer = stmt.excluded.verified_at > C.verified_at  # the same verification sent again changes nothing
    # a student handed to two schools: one school's "not here" must not cancel the other's verification
    same_school_or_valid = or_(stmt.excluded.status != "invalid", stmt.excluded.school_code == C.school_code)
    await session.execute(stmt.on_conflict_do_update(index_elements=["student_key"], set_=values,
                                                     where=and_(newer, same_school_or_valid)))


async def on_matched(session: AsyncSession, envelope: Envelope) -> None:
    """A re-comparison's categories become the candidate's (eligibility is re-checked against them)."""
    event: StudentMatched = envelope.parse(StudentMatched)
    await session.execute(update(tables.candidates).where(
        C.student_key == envelope.partitionkey, C.match_revision < event.revision).values(
        categories=sorted({c.category.value for c in event.categories}), match_revision=event.revision))


async def on_withdrawn(session: AsyncSession, envelope: Envelope) -> None:
    """A withdrawn match makes the candidate ineligible until verified again."""
    event: StudentMatchWithdrawn = envelope.parse(StudentMatchWithdrawn)
    await session.execute(update(tables.candidates).where(
        C.student_key == envelope.partitionkey, C.match_revision < event.revision).values(
        status="withdrawn", match_revision=event.revision))
