"""The live aggregates on a real PostgreSQL: always the sum of what every student adds, however
the events are batched, redelivered or interleaved."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from aid_contracts.events import Category, VerificationStatus as V
from reporting.adapters import tables
from reporting.domain.counts import contributions, with_totals
from reporting.domain.tasks import task_contributions
from reporting.service_layer import projections
from tests import factories as f

POOR = (Category.REGISTERED_POOR,)
HISTORY = [f.matched(1, categories=POOR), f.verified(1), f.published(1, final=False), f.published(1, final=True),
           f.payment_failed(1), f.paid(1), f.published(1, final=True, list_id="L2", amount_fen=30_000),
           f.matched(2), f.verified(2, status=V.INVALID), f.matched(3, categories=POOR), f.verified(3),
           f.unfunded_reason(3), f.matched(4), f.withdrawn(4), f.verified(5, origin="supplementary", categories=POOR),
           f.published(6, final=True),
           f.task(1, sequence=10), f.task(1, sequence=12, status="verified_unchanged"),
           f.task(1, sequence=15, status="verified_unchanged", audit_state="submitted"),
           f.task(1, sequence=20, status="verified_unchanged", audit_state="approved"),
           f.task(2, sequence=11, categories=POOR), f.task(2, sequence=16, status="invalid", audit_state="returned",
                                                          categories=POOR),
           f.task(7, sequence=13, school="5201020002", batch=None), f.task(7, sequence=18, school="5201020002",
                                                                           batch=None, open_=False),
           f.task(8, sequence=14, batch="B2", school="5201030001", region="520103", household="520102"),
           f.deadline("B1", due=date(2026, 11, 20)), f.check(sequence=30, items=3),
           f.check(sequence=31, items=3, answers={"confirmed_correct": 1})]


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
        task_rows = [dict(r._mapping) for r in await s.execute(select(tables.tasks))]
    total: Counter = Counter()
    for key, student in students.items():
        total.update(contributions(student, aid[key], reasons[key]))
    for task in task_rows:
        task_contributions(task, total)
    return Counter({k: v for k, v in total.items() if v})


async def test_the_counters_are_the_sum_of_every_student_however_batched(sessions, migrate, engine_for):
    for envelope in HISTORY:
        await _project(sessions, envelope)
    one_by_one = await _counts(sessions)
    assert one_by_one == await _recounted(sessions)
    bucket = {k[-1]: v for k, v in one_by_one.items()
              if k[:-1] == ("progress", "enrolment", "520102", "5201020001", "*", "primary")}
    assert with_totals(bucket)["students"] == 5
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


async def test_tasks_keep_their_latest_state_and_count_once_per_category(sessions):
    await _project(sessions, *HISTORY)
    counts = await _counts(sessions)
    school = ("tasks", "enrolment", "520102", "5201020001")
    assert counts[(*school, "*", "primary", "B1", "tasks")] == 2
    assert counts[(*school, "*", "primary", "B1", "answered")] == 2
    assert counts[(*school, "*", "primary", "B1", "approved")] == 1
    assert counts[(*school, "*", "primary", "B1", "returned")] == 1
    assert counts[(*school, "registered_poor", "primary", "B1", "unfinished")] == 1
    assert counts[(*school, "*", "primary", "B1", "submitted")] == 0  # a later state replaced it
    assert not any(k[4] == "5201020002" for k in counts if k[0] == "tasks")  # closed: counts nothing
    assert counts["tasks", "household", "520102", "5201030001", "*", "primary", "B2", "tasks"] == 1
    await _project(sessions, f.task(1, sequence=11, status="pending"))  # an older state, republished
    assert await _counts(sessions) == counts


async def test_deadlines_and_checks_keep_the_latest(sessions):
    await _project(sessions, *HISTORY, f.deadline("B1", due=date(2026, 12, 1), at=f.NOW.replace(hour=8)),
                   f.check(sequence=29, items=3))
    async with sessions() as s:
        due = await s.scalar(select(tables.deadlines.c.due).where(tables.deadlines.c.batch == "B1"))
        answers = await s.scalar(select(tables.check_schools.c.answers))
    assert due == date(2026, 11, 20) and answers == {"confirmed_correct": 1}  # set earlier, sent later: ignored
    await _project(sessions, f.deadline("B1", due=date(2026, 12, 1), at=f.NOW.replace(hour=10)))
    async with sessions() as s:
        assert await s.scalar(select(tables.deadlines.c.due)) == date(2026, 12, 1)
