"""Per-student progress from events."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from reporting.adapters import tables
from reporting.service_layer import projections as p
from tests import factories as f


@pytest.fixture
async def sessions(migrate, engine_for):
    return async_sessionmaker(engine_for(migrate("reporting")), expire_on_commit=False)


async def test_progress_follows_the_student(sessions):
    async with sessions() as s, s.begin():
        await p.on_matched(s, f.matched(1))
        await p.on_verified(s, f.verified(1))
        await p.on_published(s, f.published(1, final=True))
        await p.on_paid(s, f.paid(1, amount_fen=50_000))
        await p.on_paid(s, f.paid(1, list_id="L2", amount_fen=62_500))
        await p.on_withdrawn(s, f.withdrawn(1, revision=1))  # older than the match it would withdraw
    async with sessions() as s:
        row = (await s.execute(select(tables.progress))).one()
    assert (row.matched, row.verification, row.published, row.paid_count, row.paid_fen) == (
        True, "verified_unchanged", True, 2, 112_500)
