"""Verification's use cases on a real PostgreSQL: distribution, answers, audit, supplements,
repeated students, unfunded reasons, abnormal-record checks and progress."""

from __future__ import annotations

from datetime import date
from functools import partial

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from aid_chassis import outbox
from aid_chassis.auth import Principal, Role
from aid_chassis.fields import FieldCipher, new_key_text
from aid_chassis.masking import mask_id_number
from aid_chassis.rekey import rekey_rows
from aid_contracts import CheckProgressed, DeadlineSet, Envelope, StudentMatched, TaskProgressed, Verified
from aid_contracts.events import Category, PovertyStatus, Stage, VerificationStatus as V
from aid_contracts.keys import student_key
from tests import factories as f
from tests.images import jpeg
from verification.adapters import tables
from verification.domain.supplements import Supplement
from verification.entrypoints.common import task_view
from verification.domain.tasks import Answer, VerificationRefused
from verification.service_layer import answers, checks, distribution, followups, review, supplements
from verification.service_layer.store import read_scope

SECRET = b"test-secret-of-sixteen+"
SCHOOL_A, SCHOOL_B = "5201020001", "5201030001"
A = Principal("clerk-a", Role.SCHOOL, school_code=SCHOOL_A)
B = Principal("clerk-b", Role.SCHOOL, school_code=SCHOOL_B)
COUNTY = Principal("county", Role.COUNTY_BUREAU, region="520102")
CITY = Principal("city", Role.CITY_BUREAU, region="520100")
PROVINCE = Principal("province", Role.PROVINCE_BUREAU, region="520000")
T = tables.tasks.c


@pytest.fixture
async def sessions(migrate, engine_for):
    return async_sessionmaker(engine_for(migrate("verification")), expire_on_commit=False)


async def _run(sessions, fn, *args, **kwargs):
    async with sessions() as s, s.begin():
        return await fn(s, *args, **kwargs)


async def _tasks(sessions, seq=1) -> list:
    async with sessions() as s:
        return (await s.execute(select(tables.tasks).where(T.student_key == f.key(seq)).order_by(T.task_id))).all()


async def _events(sessions, model):
    async with sessions() as s:
        return [env.parse(model) for _, env in await outbox.pending(s, tables.chassis.outbox)
                if env.type == model.EVENT_TYPE]


async def _verified_events(sessions) -> list[Verified]:
    return await _events(sessions, Verified)


def _matched(seq=1, *, revision=1, other_schools=(), **facts) -> Envelope:
    env = f.matched(seq, revision=revision, **facts)
    event = env.parse(StudentMatched).model_copy(update={"other_school_codes": list(other_schools)})
    return Envelope.wrap(event, source="test", key=f.key(seq))


async def _answer(sessions, who, task_id, answer):
    return await _run(sessions, answers.answer, who, task_id, answer, f.FIELDS)


async def test_a_match_becomes_a_pending_task_and_an_older_revision_changes_nothing(sessions):
    await _run(sessions, distribution.on_student_matched, _matched(revision=2))
    await _run(sessions, distribution.on_student_matched, _matched(revision=1, school="5201029999"))
    [task] = await _tasks(sessions)
    assert (task.status, task.match_revision, task.school_code, task.open, task.audit_state) == (
        "pending", 2, SCHOOL_A, True, "unsubmitted")


async def test_a_changed_match_reopens_the_task_showing_what_changed_and_keeps_the_answer_in_history(sessions):
    await _run(sessions, distribution.on_student_matched, _matched())
    [task] = await _tasks(sessions)
    await _answer(sessions, A, task.task_id, Answer(V.VERIFIED_UNCHANGED))
    await _run(sessions, distribution.on_student_matched, _matched(revision=2, household="520103"))
    [task] = await _tasks(sessions)
    assert task.status == "pending" and task.changes["household_region"] == {"old": "520102", "new": "520103"}
    async with sessions() as s:
        h = tables.task_history.c
        steps = (await s.execute(select(h.action, h.detail).order_by(h.id))).all()
    assert [a for a, _ in steps] == ["created", "answered", "reopened"]
    assert steps[2].detail["previous_status"] == "verified_unchanged"


async def test_an_unchanged_rematch_keeps_the_answer(sessions):
    await _run(sessions, distribution.on_student_matched, _matched())
    [task] = await _tasks(sessions)
    await _answer(sessions, A, task.task_id, Answer(V.VERIFIED_UNCHANGED))
    await _run(sessions, distribution.on_student_matched, _matched(revision=2))
    assert (await _tasks(sessions))[0].status == "verified_unchanged"


async def test_a_sealed_name_compares_by_its_value_and_a_changed_one_shows_opened(sessions):
    """The same name plain before and sealed now is no change; a new name is, shown opened to the school."""
    rematched = partial(distribution.on_student_matched, fields=f.FIELDS)
    await _run(sessions, rematched, _matched())  # stored plain (as before sealing)
    [task] = await _tasks(sessions)
    await _answer(sessions, A, task.task_id, Answer(V.VERIFIED_UNCHANGED))
    await _run(sessions, rematched, f.sealed(_matched(revision=2)))
    assert (await _tasks(sessions))[0].status == "verified_unchanged"
    await _run(sessions, rematched, f.sealed(_matched(revision=3, name="张晓三")))
    [task] = await _tasks(sessions)
    assert task.status == "pending" and set(task.changes) == {"name"} and "张晓三" not in str(task.changes)
    shown = task_view(task, f.FIELDS)["changes"]["name"]
    assert shown == {"old": "张小三", "new": "张晓三"}


async def test_withdrawal_and_a_school_change_close_tasks_with_a_reason(sessions):
    await _run(sessions, distribution.on_student_matched, _matched())
    await _run(sessions, distribution.on_student_matched, _matched(revision=2, school=SCHOOL_B))
    old, new = await _tasks(sessions)
    assert (old.school_code, old.open, new.school_code, new.open) == (SCHOOL_A, False, SCHOOL_B, True)
    assert "学籍" in old.closed_reason
    await _run(sessions, distribution.on_match_withdrawn, f.withdrawn(revision=3))
    assert [t.open for t in await _tasks(sessions)] == [False, False]
    with pytest.raises(VerificationRefused, match="关闭"):
        await _answer(sessions, B, new.task_id, Answer(V.VERIFIED_UNCHANGED))


async def test_a_student_at_two_schools_gets_two_tasks_and_only_one_may_be_verified(sessions):
    await _run(sessions, distribution.on_student_matched, _matched(other_schools=[SCHOOL_B]))
    a, b = await _tasks(sessions)
    assert {a.school_code, b.school_code} == {SCHOOL_A, SCHOOL_B}
    mine = {t.school_code: t for t in (a, b)}
    await _answer(sessions, A, mine[SCHOOL_A].task_id, Answer(V.VERIFIED_UNCHANGED))
    with pytest.raises(VerificationRefused) as caught:
        await _answer(sessions, B, mine[SCHOOL_B].task_id, Answer(V.VERIFIED_UNCHANGED))
    assert caught.value.code == "duplicate_verified"
    await _answer(sessions, B, mine[SCHOOL_B].task_id, Answer(V.INVALID, "duplicate"))
    async with sessions() as s:
        check = (await s.execute(select(tables.repeated_checks))).one()
    # the match names only the other school's code, so both records carry the match's enrolment county
    assert (check.state, check.resolver_prefix) == ("open", "520102")


async def test_a_school_cannot_answer_another_schools_task(sessions):
    await _run(sessions, distribution.on_student_matched, _matched())
    [task] = await _tasks(sessions)
    with pytest.raises(LookupError):
        await _answer(sessions, B, task.task_id, Answer(V.VERIFIED_UNCHANGED))
    assert (await _tasks(sessions))[0].status == "pending"


async def _answered_and_submitted(sessions, answer: Answer):
    await _run(sessions, distribution.on_student_matched, _matched())
    [task] = await _tasks(sessions)
    await _answer(sessions, A, task.task_id, answer)
    result = await _run(sessions, review.submit, A, None)
    assert (result["read"], result["accepted"]) == (1, 1)
    return task.task_id


async def test_approval_emits_verified_with_the_corrected_facts(sessions):
    task_id = await _answered_and_submitted(sessions, Answer(V.VERIFIED_UPDATED, corrections={"name": "张晓三"}))
    assert await _verified_events(sessions) == []  # nothing leaves before the audit
    result = await _run(sessions, review.decide, COUNTY, [(task_id, "approve", None)])
    assert result["accepted"] == 1
    [event] = await _verified_events(sessions)
    [task] = await _tasks(sessions)  # the corrected name travels sealed for the student, old and new
    name = f.FIELDS.open_text(event.student.name, task.student_key, "name")
    assert event.student.name.startswith("pd1:") and "张晓三" not in str(event.corrections)
    assert (event.status, name, event.approved_by) == (V.VERIFIED_UPDATED, "张晓三", "county")
    assert {k: f.FIELDS.open_text(v, task.student_key, "name") for k, v in event.corrections["name"].items()} == {
        "old": "张小三", "new": "张晓三"}


async def test_a_returned_record_goes_back_to_the_school_and_can_be_resubmitted(sessions):
    task_id = await _answered_and_submitted(sessions, Answer(V.VERIFIED_UNCHANGED))
    with pytest.raises(VerificationRefused, match="审核"):
        await _answer(sessions, A, task_id, Answer(V.INVALID, "graduated"))
    refused = await _run(sessions, review.decide, COUNTY, [(task_id, "return", "")])
    assert refused["results"][0]["code"] == "missing_reason"
    await _run(sessions, review.decide, COUNTY, [(task_id, "return", "学段有误")])
    [task] = await _tasks(sessions)
    assert (task.audit_state, task.audit_reason) == ("returned", "学段有误")
    await _answer(sessions, A, task_id, Answer(V.VERIFIED_UPDATED, corrections={"stage": "junior"}))
    await _run(sessions, review.submit, A, [task_id])
    await _run(sessions, review.decide, COUNTY, [(task_id, "approve", None)])
    [event] = await _verified_events(sessions)
    assert event.student.stage is Stage.JUNIOR


async def test_a_bureau_audits_only_its_enrolment_jurisdiction(sessions):
    task_id = await _answered_and_submitted(sessions, Answer(V.VERIFIED_UNCHANGED))
    other = Principal("other", Role.COUNTY_BUREAU, region="520103")
    result = await _run(sessions, review.decide, other, [(task_id, "approve", None)])
    assert (result["accepted"], result["results"][0]["code"]) == (0, "not_found")
    assert (await _tasks(sessions))[0].audit_state == "submitted"


def _supplement(**over) -> Supplement:
    base = {"id_number": f.id_number(1), "name": "张小三", "stage": Stage.PRIMARY, "category": Category.REGISTERED_POOR,
            "reason": "扶贫系统漏录", "poverty_status": PovertyStatus.NOT_OUT, "enrolment_region": "520103"}
    return Supplement(**{**base, **over})


async def _supplement_by(sessions, who, **over):
    return await _run(sessions, supplements.supplement, who, _supplement(**over), jpeg(), secret=SECRET,
                      fields=f.FIELDS, today=date(2026, 11, 24))


async def test_a_supplement_with_proof_and_the_same_id_at_two_schools_is_resolved_by_the_city(sessions):
    first = await _supplement_by(sessions, A, enrolment_region="520102")
    second = await _supplement_by(sessions, B)
    key = student_key(f.id_number(1), SECRET)
    async with sessions() as s:
        check = (await s.execute(select(tables.repeated_checks))).one()
        proof = await supplements.proof_of(s, A, first["task_id"])
    assert (check.student_key, check.state, check.resolver_prefix) == (key, "open", "5201")
    assert proof.sha256 == first["proof_sha256"] and proof.content[:2] == b"\xff\xd8"
    with pytest.raises(LookupError):
        await _run(sessions, supplements.resolve_repeated, COUNTY, key, first["task_id"])
    result = await _run(sessions, supplements.resolve_repeated, CITY, key, second["task_id"])
    assert result["invalidated"] == 1
    async with sessions() as s:
        rows = {r.task_id: r for r in (await s.execute(select(tables.tasks))).all()}
    assert (rows[first["task_id"]].status, rows[first["task_id"]].invalid_reason) == ("invalid", "duplicate")
    assert rows[second["task_id"]].status == "verified_unchanged"


async def test_a_supplement_for_a_student_already_listed_is_refused_and_proofs_stay_private(sessions):
    first = await _supplement_by(sessions, A)
    with pytest.raises(VerificationRefused) as caught:
        await _supplement_by(sessions, A)
    assert caught.value.code == "already_listed"
    async with sessions() as s:
        with pytest.raises(LookupError):
            await supplements.proof_of(s, B, first["task_id"])
        with pytest.raises(LookupError):
            await supplements.proof_of(s, Principal("x", Role.COUNTY_BUREAU, region="530102"), first["task_id"])
        assert (await supplements.proof_of(s, Principal("y", Role.COUNTY_BUREAU, region="520103"), first["task_id"]))


async def _approved_poor_student(sessions) -> str:
    task_id = (await _supplement_by(sessions, A, enrolment_region="520102"))["task_id"]
    await _run(sessions, review.submit, A, None)
    await _run(sessions, review.decide, COUNTY, [(task_id, "approve", None)])
    return task_id


async def test_unfunded_registered_poor_students_need_a_reason_until_paid(sessions):
    task_id = await _approved_poor_student(sessions)
    async with sessions() as s:
        assert [r.task_id for r in await followups.unfunded(s, A, "2026-autumn")] == [task_id]
        assert (await followups.unfunded_completion(s, COUNTY, "2026-autumn", date(2026, 7, 11)))["schools"] == [
            {"school_code": SCHOOL_A, "needed": 1, "reported": 0, "complete": False, "overdue": False}]
    await _run(sessions, followups.set_deadline, PROVINCE, "unfunded", "2026-autumn", date(2026, 7, 10))
    async with sessions() as s:
        late = await followups.unfunded_completion(s, COUNTY, "2026-autumn", date(2026, 7, 11))
        assert (late["due"], late["schools"][0]["overdue"]) == (date(2026, 7, 10), True)
    with pytest.raises(VerificationRefused):
        await _run(sessions, followups.report_unfunded, A, task_id, "2026-autumn", "other", None)
    await _run(sessions, followups.report_unfunded, A, task_id, "2026-autumn", "family_declined", None)
    async with sessions() as s:
        queued = (await s.execute(select(tables.chassis.outbox).where(
            tables.chassis.outbox.c.topic == "aid.unfunded-reasons.v1"))).one()
        assert queued.headers["ce_type"] == "unfunded-reason-reported"
        assert b'"family_declined"' in queued.value and queued.key == student_key(f.id_number(1), SECRET)
        done = (await followups.unfunded_completion(s, COUNTY, "2026-autumn", date(2026, 7, 11)))["schools"][0]
        assert (done["complete"], done["overdue"]) == (True, False)
    key = student_key(f.id_number(1), SECRET)
    paid = f.paid(1)
    await _run(sessions, followups.on_paid, Envelope.wrap(paid.parse(f.Paid), source="test", key=key))
    await _run(sessions, followups.on_paid, Envelope.wrap(paid.parse(f.Paid), source="test", key=key))  # replay
    async with sessions() as s:
        assert await followups.unfunded(s, A, "2026-autumn") == []
        assert len(await followups.unfunded(s, A, "2027-spring")) == 1


CHECK_CSV = ("身份证号,姓名,学校代码,学校所在地,资助项目,异常情况\n"
             f"{f.id_number(1)},张小三,{SCHOOL_A},520102,中职助学金,年龄异常\n"
             f"{f.id_number(2)},李四,{SCHOOL_B},520103,中职助学金,重复资助\n"
             f"{f.id_number(3)},王五,{SCHOOL_B},,中职助学金,重复资助\n"
             f"{f.id_number(4)},赵六,5301020001,530102,中职助学金,重复资助\n")


async def test_an_abnormal_record_check_is_split_by_school_answered_and_summarised(sessions):
    city = Principal("city", Role.CITY_BUREAU, region="520100")
    report = await _run(sessions, checks.upload, city, "2026 第一次核查", CHECK_CSV.encode("gb18030"), f.FIELDS)
    assert (report["read"], report["accepted"], report["rejected"], report["schools"]) == (4, 2, 2, 2)
    assert [(r["row"], r["field"], r["code"]) for r in report["rejections"]] == [
        (4, "county", "missing_field"), (5, "county", "outside_jurisdiction")]
    async with sessions() as s:
        mine = await checks.items(s, A, report["check_id"], f.FIELDS)
        stored = (await s.execute(select(tables.abnormal_items.c.record))).scalars().all()
    assert [i["row"] for i in mine] == [2]
    assert mine[0]["record"]["id_number"] == mask_id_number(f.id_number(1)) and mine[0]["record"]["name"] == "张小三"
    assert stored and not {f.id_number(1), f.id_number(2), "张小三", "李四"} & {v for r in stored for v in r.values()}
    with pytest.raises(LookupError):
        await _run(sessions, checks.answer, A, report["check_id"], 3, "confirmed_correct", None)
    await _run(sessions, checks.answer, A, report["check_id"], 2, "wrongly_funded", None)
    await _run(sessions, followups.set_deadline, PROVINCE, "abnormal_check", report["check_id"], date(2026, 12, 1))
    async with sessions() as s:
        table = (await checks.summary(s, city, report["check_id"], date(2026, 12, 2)))["counties"]
    assert [(r["county"], r["records"], r["answered"], r["wrongly_funded"], r["overdue"]) for r in table] == [
        ("520102", 1, 1, 1, 0), ("520103", 1, 0, 0, 1)]


async def test_a_check_record_stored_before_sealing_is_shown_as_it_was(sessions):
    report = await _run(sessions, checks.upload, CITY, "2026 第一次核查", CHECK_CSV.encode("gb18030"), f.FIELDS)
    async with sessions() as s, s.begin():
        await s.execute(tables.abnormal_items.update().where(tables.abnormal_items.c.row == 2).values(
            record={"id_number": f.id_number(1), "name": "张小三", "programme": "", "issue": "年龄异常"}))
    async with sessions() as s:
        [mine] = await checks.items(s, A, report["check_id"], f.FIELDS)
    assert (mine["record"]["id_number"], mine["record"]["name"]) == (mask_id_number(f.id_number(1)), "张小三")


async def test_rekey_seals_every_check_record_under_the_new_key_plain_ones_too(sessions):
    report = await _run(sessions, checks.upload, CITY, "2026 第一次核查", CHECK_CSV.encode("gb18030"), f.FIELDS)
    async with sessions() as s, s.begin():  # row 2 as stored before sealing began
        await s.execute(tables.abnormal_items.update().where(tables.abnormal_items.c.row == 2).values(
            record={"id_number": f.id_number(1), "name": "张小三", "programme": "", "issue": "年龄异常"}))
    key = new_key_text()
    rotated, only_new = FieldCipher.from_text(f"k2={key},{f.FIELD_KEYS}"), FieldCipher.from_text(f"k2={key}")
    done = await rekey_rows(sessions, tables.abnormal_items, checks.resealed, rotated, lambda line: None)
    assert done == {"resealed": 2, "unopened": 0}
    async with sessions() as s:
        [mine] = await checks.items(s, A, report["check_id"], only_new)
        stored = (await s.execute(select(tables.abnormal_items.c.record))).scalars().all()
    assert (mine["record"]["id_number"], mine["record"]["name"]) == (mask_id_number(f.id_number(1)), "张小三")
    assert not {f.id_number(1), "张小三"} & {v for r in stored for v in r.values()}
    assert await rekey_rows(sessions, tables.abnormal_items, checks.resealed, rotated, lambda line: None) == {
        "resealed": 0, "unopened": 0}


async def test_progress_counts_overdue_tasks_after_the_batch_deadline(sessions):
    await _run(sessions, distribution.on_student_matched, _matched(1))
    await _run(sessions, distribution.on_student_matched, _matched(2))
    await _run(sessions, followups.set_deadline, PROVINCE, "verification", "B1", date(2026, 6, 30))
    async with sessions() as s:
        [before] = await followups.progress(s, COUNTY, date(2026, 6, 30))
        [after] = await followups.progress(s, COUNTY, date(2026, 7, 1))
    assert (before["tasks"], before["pending"], before["overdue"], after["overdue"]) == (2, 2, 0, 2)


async def test_bulk_csv_answers_report_each_row(sessions):
    for seq in (1, 2, 3):
        await _run(sessions, distribution.on_student_matched, _matched(seq))
    key_of = {seq: student_key(f.id_number(seq), SECRET) for seq in (1, 2, 3)}
    async with sessions() as s, s.begin():  # the test events use stand-in keys; align them with the secret
        for seq, key in key_of.items():
            await s.execute(tables.tasks.update().where(T.student_key == f.key(seq)).values(student_key=key))
    csv_text = ("身份证号,核对结果,无效原因,说明,姓名\n"
                f"{f.id_number(1)},已核对未更新数据,,,\n"
                f"{f.id_number(2)},无效数据,moved,,\n"
                f"{f.id_number(3)},已核对更新了部分数据,,,张晓三\n"
                f"{f.id_number(4)},无效数据,graduated,,\n")
    result = await _run(sessions, answers.answer_csv, A, csv_text.encode(), SECRET, f.FIELDS)
    assert (result["read"], result["accepted"], result["refused"]) == (4, 2, 2)
    assert [(r["row"], r["ok"], r.get("code")) for r in result["results"]] == [
        (2, True, None), (3, False, "unknown_reason"), (4, True, None), (5, False, "not_found")]
    assert f.id_number(4) not in str(result)


@pytest.mark.parametrize(("who", "dimension", "seen"), [
    (COUNTY, "both", {1, 2}), (COUNTY, "enrolment", {1}), (COUNTY, "household", {1, 2}),
    (COUNTY, "household_elsewhere", {2}),  # 本地户籍外地就读: household here, school in another province
    (Principal("yunnan", Role.COUNTY_BUREAU, region="530102"), "both", {2}),
    (Principal("yunnan", Role.COUNTY_BUREAU, region="530102"), "household", set()),
    (Principal("other", Role.PROVINCE_BUREAU, region="110000"), "both", set()),
    (A, "both", {1}),
])
async def test_bureaus_see_both_dimensions_and_students_studying_elsewhere(sessions, who, dimension, seen):
    await _run(sessions, distribution.on_student_matched, _matched(1))
    await _run(sessions, distribution.on_student_matched, _matched(2, region="530102", household="520102",
                                                                   school="5301020001"))
    async with sessions() as s:
        keys = set((await s.execute(select(T.student_key).where(read_scope(who, dimension)))).scalars())
    assert keys == {f.key(n) for n in seen}


async def test_every_change_of_a_task_tells_reporting_its_new_state_in_order(sessions):
    task_id = await _answered_and_submitted(sessions, Answer(V.VERIFIED_UNCHANGED))
    await _run(sessions, review.decide, COUNTY, [(task_id, "return", "补充材料")])
    await _run(sessions, distribution.on_match_withdrawn, f.withdrawn(1))
    states = await _events(sessions, TaskProgressed)
    assert [(e.status, e.audit_state, e.open) for e in states] == [
        ("pending", "unsubmitted", True), ("verified_unchanged", "unsubmitted", True),
        ("verified_unchanged", "submitted", True), ("verified_unchanged", "returned", True),
        ("verified_unchanged", "returned", False)]
    assert [e.sequence for e in states] == sorted({e.sequence for e in states})  # strictly increasing
    assert {(e.task_id, e.school_code, e.batch_id, tuple(e.categories)) for e in states} == {
        (task_id, SCHOOL_A, "B1", ("orphan",))}


async def test_deadlines_and_check_answers_are_published(sessions):
    await _run(sessions, followups.set_deadline, PROVINCE, "verification", "B1", date(2026, 6, 30))
    report = await _run(sessions, checks.upload, CITY, "2026 第一次核查", CHECK_CSV.encode("gb18030"), f.FIELDS)
    await _run(sessions, checks.answer, A, report["check_id"], 2, "wrongly_funded", None)
    [deadline] = await _events(sessions, DeadlineSet)
    assert (deadline.kind, deadline.batch, deadline.due) == ("verification", "B1", date(2026, 6, 30))
    progress = await _events(sessions, CheckProgressed)
    assert [(e.school_code, e.county, e.items, e.answers) for e in progress] == [
        (SCHOOL_A, "520102", 1, {}), (SCHOOL_B, "520103", 1, {}), (SCHOOL_A, "520102", 1, {"wrongly_funded": 1})]
    assert progress[2].sequence > progress[0].sequence
