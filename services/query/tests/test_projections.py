"""Projecting batches into the read models on a real PostgreSQL, whatever the redelivery."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from aid_contracts.events import Category
from query.adapters import tables
from query.service_layer import projections
from tests import factories as f


@pytest.fixture
async def sessions(migrate, engine_for):
    return async_sessionmaker(engine_for(migrate("query")), expire_on_commit=False)


async def _project(sessions, *envelopes):
    async with sessions() as s, s.begin():
        await projections.project(s, list(envelopes))


async def _state(sessions) -> dict:
    async with sessions() as s:
        return {t.name: sorted(tuple(r) for r in await s.execute(select(t))) for t in tables.READ_MODELS}


HISTORY = [f.matched(1, categories=(Category.REGISTERED_POOR,)), f.matched(2), f.verified(1),
           f.published(1, final=False), f.published(1, final=True), f.payment_failed(1), f.paid(1),
           f.withdrawn(2), f.unfunded_reason(2)]


async def test_a_history_in_one_batch_or_in_many_ends_in_the_same_rows(sessions, migrate, engine_for):
    await _project(sessions, *HISTORY)
    whole = await _state(sessions)
    other = async_sessionmaker(engine_for(migrate("query")), expire_on_commit=False)
    for envelope in HISTORY:
        await _project(other, envelope)
    assert await _state(other) == whole
    assert [len(whole[t.name]) for t in tables.READ_MODELS] == [2, 1, len(HISTORY), 1]
    async with sessions() as s:
        record = (await s.execute(select(tables.aid_records))).one()
        student = (await s.execute(select(tables.students).where(tables.students.c.student_key == f.key(1)))).one()
    assert (record.status, record.programme_code) == ("paid", "compulsory_living_subsidy_primary")
    assert (student.status, student.categories) == ("verified_unchanged", ["registered_poor"])


async def test_a_redelivered_batch_changes_nothing(sessions):
    await _project(sessions, *HISTORY)
    before = await _state(sessions)
    await _project(sessions, *HISTORY[3:])  # e.g. redelivered after a rebalance, inbox bypassed
    await _project(sessions, *HISTORY)
    assert await _state(sessions) == before


async def test_nine_hundred_students_in_one_batch(sessions):
    await _project(sessions, *[f.matched(i) for i in range(1, 901)], *[f.verified(i) for i in range(1, 451)])
    async with sessions() as s:
        counts = dict((await s.execute(select(tables.students.c.status, func.count())
                                       .group_by(tables.students.c.status))).all())
    assert counts == {"matched": 450, "verified_unchanged": 450}
