"""The live aggregates on a real PostgreSQL: always the sum of what every student adds, however
the events are batched, redelivered or interleaved."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from aid_contracts.events import Category, VerificationStatus as V
from reporting.adapters import tables
from reporting.domain.counts import contributions
from reporting.service_layer import projections
from tests import factories as f

POOR = (Category.REGISTERED_POOR,)
HISTORY = [f.matched(1, categories=POOR), f.verified(1), f.published(1, final=False), f.published(1, final=True),
           f.payment_failed(1), f.paid(1), f.published(1, final=True, list_id="L2", amount_fen=30_000),
           f.matched(2), f.verified(2, status=V.INVALID), f.matched(3, categories=POOR), f.verified(3),
           f.unfunded_reason(3), f.matched(4), f.withdrawn(4), f.verified(5, origin="supplementary", categories=POOR),
           f.published(6, final=True)]


@pytest.fixture
async def sessions(migrate, engine_for):
    return async_sessionmaker(engine_for(migrate("reporting")), expire_on_commit=False)


async def _project(sessions, *envelopes):
    async with sessions() as s, s.begin():
        await projections.project(s, list(envelopes))


async def _counts(sessions) -> Counter:
    found: Counter = Counter()
    async with sessions() as s:
        for family, table in tables.COUNTS.items():
            for row in await s.execute(select(table)):
                *key, value = tuple(row)
                if value:
                    found[(family, *key)] = value
    return found


async def _recounted(sessions) -> Counter:
    """The aggregates computed from scratch from the stored state."""
    async with sessions() as s:
        students = {r.student_key: dict(r._mapping) for r in await s.execute(select(tables.students))}
        aid, reasons = defaultdict(list), defaultdict(list)
        for r in await s.execute(select(tables.aid_records)):
            aid[r.student_key].append(dict(r._mapping))
        for r in await s.execute(select(tables.unfunded_reasons)):
            reasons[r.student_key].append(dict(r._mapping))
    total: Counter = Counter()
    for key, student in students.items():
        total.update(contributions(student, aid[key], reasons[key]))
    return Counter({k: v for k, v in total.items() if v})


async def test_the_counters_are_the_sum_of_every_student_however_batched(sessions, migrate, engine_for):
    for envelope in HISTORY:
        await _project(sessions, envelope)
    one_by_one = await _counts(sessions)
    assert one_by_one == await _recounted(sessions)
    assert one_by_one["progress", "enrolment", "520102", "5201020001", "*", "primary", "students"] == 5
    assert one_by_one["progress", "enrolment", "520102", "5201020001", "*", "primary", "paid_fen"] == 50_000
    assert one_by_one["funding", "enrolment", "520102", "5201020001", "compulsory_living_subsidy_primary",
                      "2026-autumn", "listed"] == 2
    other = async_sessionmaker(engine_for(migrate("reporting")), expire_on_commit=False)
    await _project(other, *HISTORY)
    assert await _counts(other) == one_by_one


async def test_a_redelivered_or_reordered_batch_changes_nothing(sessions):
    await _project(sessions, *HISTORY)
    before = await _counts(sessions)
    await _project(sessions, *HISTORY[5:])
    await _project(sessions, *reversed(HISTORY))  # a replay in any order: every event already seen
    assert await _counts(sessions) == before == await _recounted(sessions)
