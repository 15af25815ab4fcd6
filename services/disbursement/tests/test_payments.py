"""One payment per student per final list, paid once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from disbursement.adapters import tables
from disbursement.service_layer import handlers
from tests import factories as f


@pytest.fixture
async def sessions(migrate, engine_for):
    return async_sessionmaker(engine_for(migrate("disbursement")), expire_on_commit=False)


async def _count(sessions, table, *where) -> int:
    async with sessions() as s:
        return await s.scalar(select(func.count()).select_from(table).where(*where))


async def test_final_entries_are_paid_exactly_once(sessions):
    async with sessions() as s, s.begin():
        await handlers.on_published(s, f.published(1, final=False))
        await handlers.on_published(s, f.published(1, final=True))
        await handlers.on_published(s, f.published(1, final=True))  # the same entry again (a re-sent event)
        await handlers.on_published(s, f.published(2, final=True))
    assert await _count(sessions, tables.payments) == 2
    async with sessions() as s, s.begin():
        assert await handlers.settle_pending(s) == 2
    async with sessions() as s, s.begin():
        assert await handlers.settle_pending(s) == 0
    assert await _count(sessions, tables.payments, tables.payments.c.status == "paid") == 2
    assert await _count(sessions, tables.chassis.outbox) == 2
