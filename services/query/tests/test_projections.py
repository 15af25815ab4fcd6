"""Projecting batches into the read models on a real PostgreSQL, whatever the redelivery."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from aid_contracts.events import Category
from query.adapters import tables
from query.domain import readmodel
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
    first = [c.name for c in tables.students.c].index("first_line")
    assert [len(whole[t.name]) for t in tables.READ_MODELS] == [2, 1, len(HISTORY) - 2, 1]
    assert all(row[first] is not None for row in whole["students"])  # each student's first line is in the row
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


async def test_the_event_that_made_a_row_keeps_its_line_there_once(sessions):
    """The match that makes a student's row leaves its timeline line in the row; published again
    (the same event id at a later offset) it adds no second line, and later events add theirs to
    the timeline table."""
    match = f.matched(1)
    await _project(sessions, match)
    await _project(sessions, match, f.verified(1))
    async with sessions() as s:
        row = (await s.execute(select(tables.students).where(tables.students.c.student_key == f.key(1)))).one()
        rest = (await s.execute(select(tables.timeline))).all()
    assert row.first_line["event_id"] == match.id and row.first_line["event_type"] == "student-matched"
    assert [line.event_type for line in rest] == ["verified"]
    assert [line["type"] for line in readmodel.lines(row.first_line, rest)] == ["student-matched", "verified"]


def test_a_timeline_reads_the_rows_line_with_the_others_in_time_order_and_once():
    """Lines stored before migration 0008 are all in the timeline table (the row's is None); a
    row's line that is also there (never written so, but harmless) shows once."""
    class Line:
        def __init__(self, event_id, event_type, at):
            self.event_id, self.event_type, self.occurred_at, self.summary = event_id, event_type, at, {"n": event_id}

    at = [datetime(2026, 3, d, tzinfo=UTC) for d in (1, 2, 3)]
    first = {"event_id": "e2", "event_type": "student-matched", "occurred_at": at[1].isoformat(), "summary": {"n": "e2"}}
    shown = readmodel.lines(first, [Line("e3", "paid", at[2]), Line("e1", "published", at[0])])
    assert [(line["type"], line["at"], line["n"]) for line in shown] == [
        ("published", at[0], "e1"), ("student-matched", at[1], "e2"), ("paid", at[2], "e3")]
    assert [line["n"] for line in readmodel.lines(None, [Line("e1", "published", at[0])])] == ["e1"]
    assert len(readmodel.lines(first, [Line("e2", "student-matched", at[1])])) == 1


async def test_a_verification_read_before_its_match_keeps_its_line_in_the_row(sessions):
    """Topics interleave: a verification may make the row; the match's line then goes to the
    timeline table, and a later change to the row leaves the row's line as it was."""
    verified, match = f.verified(1), f.matched(1)
    await _project(sessions, verified)
    await _project(sessions, match)
    await _project(sessions, f.withdrawn(1, revision=2))
    async with sessions() as s:
        row = (await s.execute(select(tables.students).where(tables.students.c.student_key == f.key(1)))).one()
        rest = (await s.execute(select(tables.timeline))).all()
    assert row.first_line["event_id"] == verified.id and row.status == "withdrawn"
    assert sorted(line.event_type for line in rest) == ["student-match-withdrawn", "student-matched"]
    assert len(readmodel.lines(row.first_line, rest)) == 3
