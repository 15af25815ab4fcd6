"""The read models follow a student from match to payment, whatever the redelivery."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from query.adapters import tables
from query.service_layer import projections as p
from tests import factories as f


@pytest.fixture
async def sessions(migrate, engine_for):
    return async_sessionmaker(engine_for(migrate("query")), expire_on_commit=False)


async def _apply(sessions, *pairs):
    async with sessions() as s, s.begin():
        for handler, env in pairs:
            await handler(s, env)


async def test_timeline_and_aid_record_from_match_to_payment(sessions):
    paid = f.paid(1)
    await _apply(sessions, (p.on_matched, f.matched(1)), (p.on_verified, f.verified(1)),
                 (p.on_published, f.published(1, final=False)), (p.on_paid, paid),
                 (p.on_published, f.published(1, final=True)))  # late final after paid: status stays paid
    async with sessions() as s:
        record = (await s.execute(select(tables.aid_records))).one()
        types = (await s.execute(select(tables.timeline.c.event_type).order_by(tables.timeline.c.occurred_at,
                                                                               tables.timeline.c.event_type))).scalars()
        student = (await s.execute(select(tables.students))).one()
    assert (record.status, record.amount_fen) == ("paid", 50_000)
    assert sorted(types) == ["paid", "published", "published", "student-matched", "verified"]
    assert student.status == "verified_unchanged"


async def test_older_match_revision_does_not_overwrite(sessions):
    await _apply(sessions, (p.on_matched, f.matched(1, revision=3, name="新名字")),
                 (p.on_matched, f.matched(1, revision=2, name="旧名字")))
    async with sessions() as s:
        assert (await s.execute(select(tables.students.c.name))).scalar_one() == "新名字"


async def test_a_supplementary_verification_creates_the_student_and_corrections_show(sessions):
    await _apply(sessions, (p.on_verified, f.verified(5, name="补录生")))
    async with sessions() as s:
        student = (await s.execute(select(tables.students))).one()
    assert (student.name, student.status, student.match_revision) == ("补录生", "verified_unchanged", 0)


async def test_another_schools_invalid_answer_does_not_replace_a_verified_student(sessions):
    from aid_contracts.events import VerificationStatus

    await _apply(sessions, (p.on_verified, f.verified(1)),
                 (p.on_verified, f.verified(1, status=VerificationStatus.INVALID, school="5201039999",
                                            at=f.NOW.replace(hour=10))))
    async with sessions() as s:
        student = (await s.execute(select(tables.students))).one()
    assert (student.school_code, student.status) == ("5201020001", "verified_unchanged")
