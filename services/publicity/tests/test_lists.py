"""Aid lists on a real PostgreSQL: proposal, removal, submission, audit, notice, objections,
finalisation with eligibility re-checked, programme versions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from aid_chassis.auth import Principal, Role
from aid_contracts.events import Category, Stage, VerificationStatus
from publicity.adapters import tables
from publicity.domain.calendar import WorkingCalendar
from publicity.domain.programmes import ListRefused, Rules
from publicity.service_layer import candidates, lists, objections, programmes
from tests import factories as f

PROGRAMME = "compulsory_living_subsidy_primary"
SCHOOL = Principal("clerk", Role.SCHOOL, school_code="5201020001")
COUNTY = Principal("county", Role.COUNTY_BUREAU, region="520102")
PROVINCE = Principal("province", Role.PROVINCE_BUREAU, region="520000")
CALENDAR = WorkingCalendar.load()


@pytest.fixture
async def sessions(migrate, engine_for):
    return async_sessionmaker(engine_for(migrate("publicity")), expire_on_commit=False)


async def _run(sessions, fn, *args, **kwargs):
    async with sessions() as s, s.begin():
        return await fn(s, *args, **kwargs)


async def _apply(sessions, *pairs):
    async with sessions() as s, s.begin():
        for handler, env in pairs:
            await handler(s, env)


async def _on_topic(sessions, event_type: str) -> list[tuple[str, dict]]:
    async with sessions() as s:
        o = tables.chassis.outbox.c
        rows = (await s.execute(select(o.key, o.headers, o.value).where(o.topic == "aid.published.v1")
                                .order_by(o.id))).all()
    return [(key, orjson.loads(value)) for key, headers, value in rows if headers["ce_type"] == event_type]


async def _published(sessions) -> list[tuple[str, bool]]:
    return [(key, data["final"]) for key, data in await _on_topic(sessions, "published")]


async def _withdrawn(sessions) -> list[tuple[str, str, int]]:
    """(student, reason code, amount) of each ``publication-withdrawn``."""
    return [(key, data["reason_code"], data["amount_fen"]) for key, data in
            await _on_topic(sessions, "publication-withdrawn")]


async def _list_with(sessions, *seqs) -> str:
    await _apply(sessions, *[(candidates.on_verified, f.verified(n)) for n in seqs])
    created = await _run(sessions, lists.create_list, SCHOOL, programme_code=PROGRAMME, period="2026-autumn")
    return created["list_id"]


async def _approve(sessions, list_id: str):
    return await _run(sessions, lists.approve, COUNTY, list_id, calendar=CALENDAR, working_days=5, notice_seconds=None)


async def test_proposal_takes_verified_students_of_the_stage_with_a_qualifying_category(sessions):
    await _apply(sessions, (candidates.on_verified, f.verified(1)), (candidates.on_verified, f.verified(2, stage=Stage.JUNIOR)),
                 (candidates.on_verified, f.verified(3, status=VerificationStatus.INVALID)),
                 (candidates.on_verified, f.verified(4, categories=())))
    created = await _run(sessions, lists.create_list, SCHOOL, programme_code=PROGRAMME, period="2026-autumn")
    assert (created["students"], created["amount_fen_total"]) == (1, 50_000)
    with pytest.raises(ListRefused) as caught:
        await _run(sessions, lists.create_list, SCHOOL, programme_code=PROGRAMME, period="2026-autumn")
    assert caught.value.code == "list_exists"
    with pytest.raises(ListRefused) as caught:
        await _run(sessions, lists.create_list, SCHOOL, programme_code=PROGRAMME, period="2026-11")
    assert caught.value.code == "bad_period"  # a per-term programme


async def test_submit_audit_notice_and_final(sessions):
    list_id = await _list_with(sessions, 1, 2, 3)
    await _run(sessions, lists.remove_entry, SCHOOL, list_id, 3, "已转学")
    with pytest.raises(ListRefused):
        await _approve(sessions, list_id)  # a draft is not audited
    await _run(sessions, lists.submit, SCHOOL, list_id)
    with pytest.raises(LookupError):
        await _run(sessions, lists.approve, Principal("x", Role.COUNTY_BUREAU, region="520103"), list_id,
                   calendar=CALENDAR, working_days=5, notice_seconds=None)
    result = await _approve(sessions, list_id)
    assert result["students"] == 2 and datetime.fromisoformat(result["notice_ends_at"]) > datetime.now(UTC) + timedelta(days=5)
    assert await _run(sessions, lists.finalise_due, datetime.now(UTC)) == 0
    assert await _run(sessions, lists.finalise_due, datetime.now(UTC) + timedelta(days=20)) == 1
    assert [final for _, final in await _published(sessions)] == [False, False, True, True]


async def test_a_returned_list_goes_back_to_draft_and_the_school_is_told(sessions):
    list_id = await _list_with(sessions, 1)
    await _run(sessions, lists.submit, SCHOOL, list_id)
    with pytest.raises(ListRefused) as caught:
        await _run(sessions, lists.return_list, COUNTY, list_id, " ")
    assert caught.value.code == "missing_reason"
    await _run(sessions, lists.return_list, COUNTY, list_id, "金额有误")
    async with sessions() as s:
        row = (await s.execute(select(tables.aid_lists))).one()
        message = (await s.execute(select(tables.school_messages))).one()
    assert (row.status, row.audit_reason, message.kind) == ("draft", "金额有误", "list_returned")
    await _run(sessions, lists.submit, SCHOOL, list_id)  # resubmitted


async def test_a_student_withdrawn_meanwhile_is_flagged_at_finalisation_not_paid(sessions):
    list_id = await _list_with(sessions, 1, 2)
    await _run(sessions, lists.submit, SCHOOL, list_id)
    await _approve(sessions, list_id)
    await _apply(sessions, (candidates.on_withdrawn, f.withdrawn(2, revision=2)))
    await _run(sessions, lists.finalise_due, datetime.now(UTC) + timedelta(days=20))
    finals = [key for key, final in await _published(sessions) if final]
    assert finals == [f.key(1)]
    assert await _withdrawn(sessions) == [(f.key(2), "ineligible", 50_000)]  # published before: no longer shown
    async with sessions() as s:
        entry = (await s.execute(select(tables.list_entries).where(tables.list_entries.c.student_key == f.key(2)))).one()
        told = (await s.execute(select(tables.school_messages.c.kind))).scalars().all()
    assert entry.state == "ineligible" and "撤销" in entry.state_reason and told == ["entry_ineligible"]


async def test_a_student_whose_match_lost_its_category_is_flagged_at_submission(sessions):
    await _run(sessions, programmes.add_version, PROVINCE, Rules(
        "poor_primary", "建档立卡小学生补助", Stage.PRIMARY, False, 30_000, frozenset({"registered_poor"}),
        effective_from="2027-spring"), date(2026, 11, 24))
    poor = (Category.REGISTERED_POOR,)
    await _apply(sessions, (candidates.on_verified, f.verified(1, categories=poor)),
                 (candidates.on_verified, f.verified(2, categories=poor)))
    created = await _run(sessions, lists.create_list, SCHOOL, programme_code="poor_primary", period="2027-spring")
    assert created["students"] == 2
    await _apply(sessions, (candidates.on_matched, f.matched(2, revision=2)))  # now only an orphan
    result = await _run(sessions, lists.submit, SCHOOL, created["list_id"])
    assert result["students"] == 1 and [x["entry_no"] for x in result["flagged"]] == [2]
    assert "类别" in result["flagged"][0]["reason"]


async def _objection(sessions, list_id, entry_no=1, client="c1"):
    return await _run(sessions, objections.file_objection, list_id=list_id, entry_no=entry_no, name="李四",
                      phone="13800138000", text="该生家庭条件较好，不应资助", client=client, per_hour=2)


async def test_an_upheld_objection_takes_the_student_off_and_final_waits_for_every_decision(sessions):
    list_id = await _list_with(sessions, 1, 2)
    with pytest.raises(ListRefused) as caught:
        await _objection(sessions, list_id)
    assert caught.value.code == "notice_closed"  # not under notice yet
    await _run(sessions, lists.submit, SCHOOL, list_id)
    await _approve(sessions, list_id)
    upheld = await _objection(sessions, list_id, 1)
    pending = await _objection(sessions, list_id, None)
    with pytest.raises(objections.TooMany):
        await _objection(sessions, list_id, 2)
    later = datetime.now(UTC) + timedelta(days=20)
    assert await _run(sessions, lists.finalise_due, later) == 0  # objections undecided
    await _run(sessions, objections.decide, COUNTY, upheld["objection_id"], "uphold", "经调查家庭收入超标")
    with pytest.raises(ListRefused):
        await _run(sessions, objections.decide, COUNTY, upheld["objection_id"], "dismiss", "重复处理")
    await _run(sessions, objections.decide, COUNTY, pending["objection_id"], "dismiss", "经核实情况属实，符合条件")
    assert await _withdrawn(sessions) == [(f.key(1), "objection_upheld", 50_000)]
    assert await _run(sessions, lists.finalise_due, later) == 1
    finals = [key for key, final in await _published(sessions) if final]
    assert finals == [f.key(2)]
    assert len(await _withdrawn(sessions)) == 1
    async with sessions() as s:
        told = (await s.execute(select(tables.school_messages.c.message))).scalars().all()
    assert any("异议成立" in m for m in told)


async def test_a_second_objection_upheld_on_the_same_student_changes_nothing_more(sessions):
    list_id = await _list_with(sessions, 1, 2)
    await _run(sessions, lists.submit, SCHOOL, list_id)
    await _approve(sessions, list_id)
    first, second = await _objection(sessions, list_id, 1, "c1"), await _objection(sessions, list_id, 1, "c2")
    await _run(sessions, objections.decide, COUNTY, first["objection_id"], "uphold", "经调查家庭收入超标")
    await _run(sessions, objections.decide, COUNTY, second["objection_id"], "uphold", "同一学生再次举报属实")
    assert await _withdrawn(sessions) == [(f.key(1), "objection_upheld", 50_000)]
    async with sessions() as s:
        told = (await s.execute(select(tables.school_messages.c.kind))).scalars().all()
        entry = (await s.execute(select(tables.list_entries).where(tables.list_entries.c.entry_no == 1))).one()
    assert told == ["objection_upheld"] and entry.state_reason == "经调查家庭收入超标"


async def test_an_objection_after_the_window_changes_nothing(sessions):
    list_id = await _list_with(sessions, 1)
    await _run(sessions, lists.submit, SCHOOL, list_id)
    await _run(sessions, lists.approve, COUNTY, list_id, calendar=CALENDAR, working_days=5, notice_seconds=0)
    with pytest.raises(ListRefused) as caught:
        await _objection(sessions, list_id)
    assert caught.value.code == "notice_closed"
    async with sessions() as s:
        assert (await s.execute(select(tables.objections))).all() == []


async def test_programme_versions_apply_to_later_periods_and_lists_keep_theirs(sessions):
    await _run(sessions, programmes.add_version, PROVINCE, Rules(
        PROGRAMME, "生活补助（小学）", Stage.PRIMARY, False, 62_500, frozenset({"orphan", "registered_poor"}),
        {"registered_poor": 75_000}, effective_from="2027-spring"), date(2026, 11, 24))
    await _apply(sessions, (candidates.on_verified, f.verified(1)),
                 (candidates.on_verified, f.verified(2, categories=(Category.REGISTERED_POOR,))))
    autumn = await _run(sessions, lists.create_list, SCHOOL, programme_code=PROGRAMME, period="2026-autumn")
    spring = await _run(sessions, lists.create_list, SCHOOL, programme_code=PROGRAMME, period="2027-spring")
    assert (autumn["amount_fen_total"], spring["amount_fen_total"]) == (100_000, 137_500)
    async with sessions() as s:
        current = {r.code: r for r in await programmes.current(s, date(2026, 11, 24))}
    assert current[PROGRAMME].version == 1
    with pytest.raises(ListRefused):
        await _run(sessions, programmes.add_version, PROVINCE, Rules(
            PROGRAMME, "x", Stage.PRIMARY, False, 1, effective_from="2026-12"), date(2026, 11, 24))


async def test_another_schools_invalid_answer_does_not_cancel_a_verified_student(sessions):
    await _apply(sessions, (candidates.on_verified, f.verified(1, at=f.NOW)),
                 (candidates.on_verified, f.verified(1, status=VerificationStatus.INVALID, school="5201039999",
                                                     at=f.NOW + timedelta(hours=1))))
    created = await _run(sessions, lists.create_list, SCHOOL, programme_code=PROGRAMME, period="2026-autumn")
    assert created["students"] == 1


async def test_an_older_verification_does_not_overwrite_a_newer_one(sessions):
    await _apply(sessions, (candidates.on_verified, f.verified(1, status=VerificationStatus.INVALID,
                                                               at=f.NOW + timedelta(hours=1))),
                 (candidates.on_verified, f.verified(1, at=f.NOW)))
    with pytest.raises(ListRefused):
        await _run(sessions, lists.create_list, SCHOOL, programme_code=PROGRAMME, period="2026-autumn")
