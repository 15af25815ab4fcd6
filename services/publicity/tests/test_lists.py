"""Aid lists from verified students, publication for notice, finalisation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from aid_contracts.events import Stage, VerificationStatus
from publicity.adapters import tables
from publicity.domain.programmes import ListRefused, add_working_days
from publicity.service_layer import handlers
from tests import factories as f

PROGRAMME = "compulsory_living_subsidy_primary"


@pytest.fixture
async def sessions(migrate, engine_for):
    return async_sessionmaker(engine_for(migrate("publicity")), expire_on_commit=False)


async def _verified(sessions, *envelopes):
    async with sessions() as s, s.begin():
        for env in envelopes:
            await handlers.on_verified(s, env)


async def _published(sessions) -> list[bool]:
    async with sessions() as s:
        rows = (await s.execute(select(tables.chassis.outbox.c.value).order_by(tables.chassis.outbox.c.id))).scalars()
        import orjson

        return [orjson.loads(v)["final"] for v in rows]


async def test_list_publish_and_finalise(sessions):
    await _verified(sessions, f.verified(1), f.verified(2), f.verified(3, stage=Stage.JUNIOR),
                    f.verified(4, status=VerificationStatus.INVALID))
    async with sessions() as s, s.begin():
        created = await handlers.create_list(s, school_code="5201020001", programme_code=PROGRAMME,
                                             period="2026-autumn", actor="clerk")
    assert created["students"] == 2  # the junior student and the invalid record do not qualify
    with pytest.raises(ListRefused, match="已存在"):  # one list per programme and period: no one paid twice
        async with sessions() as s, s.begin():
            await handlers.create_list(s, school_code="5201020001", programme_code=PROGRAMME,
                                       period="2026-autumn", actor="clerk")
    await _verified(sessions, f.verified(2, status=VerificationStatus.INVALID, at=f.NOW + timedelta(hours=1)))
    async with sessions() as s, s.begin():
        aid_list = await handlers.load_list(s, created["list_id"])
        result = await handlers.approve_and_publish(s, aid_list=aid_list, actor="county", working_days=5,
                                                    notice_seconds=None)
    assert (result["students"], result["dropped_ineligible"]) == (1, 1)
    async with sessions() as s, s.begin():
        assert await handlers.finalise_due(s, datetime.now(UTC)) == 0
    async with sessions() as s, s.begin():
        assert await handlers.finalise_due(s, datetime.now(UTC) + timedelta(days=10)) == 1
    assert await _published(sessions) == [False, True]


async def test_an_older_verification_does_not_overwrite_a_newer_one(sessions):
    await _verified(sessions, f.verified(1, status=VerificationStatus.INVALID, at=f.NOW + timedelta(hours=1)),
                    f.verified(1, at=f.NOW))
    with pytest.raises(ListRefused):
        async with sessions() as s, s.begin():
            await handlers.create_list(s, school_code="5201020001", programme_code=PROGRAMME,
                                       period="2026-autumn", actor="clerk")



async def test_another_schools_invalid_answer_does_not_cancel_a_verified_student(sessions):
    await _verified(sessions, f.verified(1, at=f.NOW),
                    f.verified(1, status=VerificationStatus.INVALID, school="5201039999", at=f.NOW + timedelta(hours=1)))
    async with sessions() as s:
        rows = await handlers.propose(s, school_code="5201020001", programme_code=PROGRAMME)
    assert len(rows) == 1

def test_notice_window_counts_working_days():
    friday = datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert add_working_days(friday, 5) == datetime(2026, 11, 27, 10, tzinfo=UTC)
