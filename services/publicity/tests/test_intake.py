"""The worker's batch path (intake.apply) leaves exactly what the one-at-a-time handlers leave."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from aid_contracts import Envelope
from aid_contracts.events import Category
from publicity.adapters import tables
from publicity.service_layer import intake
from tests import factories as f
from tests import intake as both_ways

C = tables.candidates.c


@pytest.fixture
async def sessions(migrate, engine_for):
    return async_sessionmaker(engine_for(migrate("publicity")), expire_on_commit=False)


def _scenario(base: int) -> tuple[list[Envelope], list[Envelope]]:
    earlier = [f.verified(base + 3), f.verified(base + 4)]
    batch = [f.matched(base + 1), f.verified(base + 1), f.matched(base + 1, revision=2, categories=(Category.DISABLED,)),
             f.matched(base + 2), f.withdrawn(base + 2),  # not a candidate: nothing to change
             f.withdrawn(base + 3),  # a candidate: withdrawn
             f.matched(base + 4, revision=3, categories=(Category.ORPHAN, Category.DISABLED)),
             f.verified(base + 4)]  # sent again: absorbed
    return earlier, batch


async def _apply(sessions, events: list[Envelope], *, one_at_a_time: bool) -> None:
    await both_ways.apply(sessions, intake, events, one_at_a_time=one_at_a_time)


async def _state(sessions, base: int) -> list:
    keys = {f.key(base + i): i for i in range(1, 5)}
    async with sessions() as s:
        rows = (await s.execute(select(C.student_key, C.status, C.match_revision, C.categories)
                                .where(C.student_key.in_(keys)))).all()
    return sorted((keys[r.student_key], r.status, r.match_revision, tuple(r.categories)) for r in rows)


async def test_a_batch_leaves_what_one_event_at_a_time_leaves(sessions):
    for base, one_at_a_time in ((0, True), (100, False)):
        earlier, batch = _scenario(base)
        await _apply(sessions, earlier, one_at_a_time=True)
        await _apply(sessions, batch, one_at_a_time=one_at_a_time)
    expected = await _state(sessions, 0)
    assert await _state(sessions, 100) == expected
    assert expected == [(1, "verified_unchanged", 2, ("disabled",)), (3, "withdrawn", 2, ("orphan",)),
                        (4, "verified_unchanged", 3, ("disabled", "orphan"))]


async def test_a_broken_match_of_a_student_who_is_no_candidate_is_refused_not_skipped(sessions):
    broken = Envelope(source="test", type=f.matched(9).type, dataschema="x", partitionkey=f.key(9),
                      data={"match_id": "M9"})
    with pytest.raises(ValidationError):
        await _apply(sessions, [f.matched(8), broken], one_at_a_time=False)
