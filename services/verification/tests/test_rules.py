"""The rules of verifying, auditing, supplementing and proving — no database."""

from datetime import date

import pytest
from hypothesis import given, strategies as st

from aid_chassis.auth import Principal, Role
from aid_contracts.events import Category, PovertyStatus, Stage, VerificationStatus as V
from tests import factories as f
from verification.domain import audit
from verification.domain.followups import UNFUNDED_REASONS, check_coded
from verification.domain.proofs import MAX_PROOF_BYTES, ProofRefused, check_proof
from verification.domain.supplements import Supplement, check_id_number, checked
from verification.domain.tasks import (INVALID_REASONS, Answer, VerificationRefused, check_answer, check_duplicates,
                                       corrected, match_changes)
from tests.images import jpeg, png

TODAY = date(2026, 11, 24)


def _refused(code: str, fn, *args, **kwargs) -> None:
    with pytest.raises(VerificationRefused) as caught:
        fn(*args, **kwargs)
    assert caught.value.code == code, str(caught.value)


@pytest.mark.parametrize("reason", sorted(INVALID_REASONS))
def test_every_invalid_reason_is_accepted_with_text_where_needed(reason):
    check_answer(Answer(V.INVALID, reason, "说明" if reason == "other" else None), open_=True)


@pytest.mark.parametrize(("answer", "code"), [
    (Answer(V.INVALID), "unknown_reason"),
    (Answer(V.INVALID, "moved_abroad"), "unknown_reason"),
    (Answer(V.INVALID, "other"), "missing_text"),
    (Answer(V.VERIFIED_UNCHANGED, "duplicate"), "reason_not_allowed"),
    (Answer(V.VERIFIED_UPDATED), "missing_corrections"),
    (Answer(V.VERIFIED_UNCHANGED, corrections={"name": "李四"}), "corrections_not_allowed"),
    (Answer(V.VERIFIED_UPDATED, corrections={"id_number": "x"}), "field_not_correctable"),
    (Answer(V.VERIFIED_UPDATED, corrections={"stage": "kindergarten"}), "bad_stage"),
    (Answer(V.VERIFIED_UPDATED, corrections={"enrolment_region": "52010"}), "bad_region"),
    (Answer(V.VERIFIED_UPDATED, corrections={"name": "张\x00三"}), "bad_name"),
    (Answer(V.INVALID, "other", "x" * 201), "text_too_long"),
])
def test_an_answer_breaking_a_rule_is_refused_with_its_code(answer, code):
    _refused(code, check_answer, answer, open_=True)


def test_a_closed_task_takes_no_answer():
    _refused("task_closed", check_answer, Answer(V.VERIFIED_UNCHANGED), open_=False)


def test_only_one_record_of_a_student_may_be_verified():
    _refused("duplicate_verified", check_duplicates, V.VERIFIED_UNCHANGED, verified_elsewhere=True)
    _refused("duplicate_verified", check_duplicates, V.VERIFIED_UPDATED, verified_elsewhere=True)
    check_duplicates(V.INVALID, verified_elsewhere=True)
    check_duplicates(V.VERIFIED_UNCHANGED, verified_elsewhere=False)


def test_corrections_keep_the_old_values_and_skip_unchanged_fields():
    student = f.student(1).model_dump(mode="json")
    facts, changed = corrected(student, {"name": "张晓三", "stage": student["stage"]})
    assert facts["name"] == "张晓三" and changed == {"name": {"old": "张小三", "new": "张晓三"}}


def test_match_changes_name_the_changed_facts_and_categories():
    old = f.student(1).model_dump(mode="json")
    new = {**old, "school_code": "5201029999"}
    cats = [{"category": "orphan"}]
    assert match_changes(old, cats, new, cats) == {"school_code": {"old": "5201020001", "new": "5201029999"}}
    assert set(match_changes(old, cats, old, [*cats, {"category": "disabled"}])) == {"categories"}
    assert match_changes(old, cats, old, cats) == {}


@pytest.mark.parametrize(("state", "status", "open_", "code"), [
    ("unsubmitted", "pending", True, "not_answered"),
    ("submitted", "invalid", True, "not_submittable"),
    ("approved", "invalid", True, "not_submittable"),
    ("unsubmitted", "invalid", False, "task_closed"),
])
def test_what_cannot_be_submitted(state, status, open_, code):
    _refused(code, audit.check_submittable, status=status, audit_state=state, open_=open_)


def test_submission_cycle_returned_records_can_be_resubmitted():
    audit.check_submittable(status="verified_unchanged", audit_state="returned", open_=True)
    audit.check_submittable(status="invalid", audit_state="unsubmitted", open_=True)
    _refused("under_audit", audit.check_answerable, "submitted")
    audit.check_answerable("approved")  # a later correction starts a new submission (FAQ Q32)


def test_audit_decisions():
    audit.check_decision("approve", None, audit_state="submitted")
    _refused("missing_reason", audit.check_decision, "return", " ", audit_state="submitted")
    _refused("not_submitted", audit.check_decision, "approve", None, audit_state="unsubmitted")
    _refused("unknown_decision", audit.check_decision, "maybe", None, audit_state="submitted")


@pytest.mark.parametrize(("regions", "prefix"), [
    ({"520102"}, "520102"), ({"520102", "520103"}, "5201"), ({"520102", "520302"}, "52"), ({"520102", "110101"}, ""),
])
def test_the_resolver_of_a_repeated_student_is_the_smallest_common_jurisdiction(regions, prefix):
    assert audit.resolver_prefix(regions) == prefix


def test_who_resolves_and_who_audits():
    county = Principal("c", Role.COUNTY_BUREAU, region="520102")
    city = Principal("m", Role.CITY_BUREAU, region="520100")
    assert audit.resolves(county, {"520102"}) and not audit.resolves(city, {"520102"})
    assert audit.resolves(city, {"520102", "520103"}) and not audit.resolves(county, {"520102", "520103"})
    assert audit.audits(county, "520102") and not audit.audits(county, "520103") and audit.audits(city, "520103")


def test_a_real_jpeg_is_accepted_and_its_checksum_returned():
    content = jpeg()
    assert len(check_proof(content)) == 64


@pytest.mark.parametrize(("content", "code"), [
    (b"", "proof_empty"),
    (png(), "proof_not_jpeg"),
    (b"%PDF-1.7 not an image", "proof_not_jpeg"),
    (jpeg()[:-200], "proof_not_jpeg"),
    (b"\xff\xd8\xff" + b"\0" * (MAX_PROOF_BYTES - 2), "proof_too_large"),
])
def test_proofs_are_judged_by_content_and_size(content, code):
    with pytest.raises(ProofRefused) as caught:
        check_proof(content)
    assert caught.value.code == code


def test_a_jpeg_of_exactly_2mb_passes_the_size_rule():
    content = jpeg((32, 32))
    padded = content + b"\0" * (MAX_PROOF_BYTES - len(content))
    assert len(padded) == MAX_PROOF_BYTES and check_proof(padded)


def _supplement(**over) -> Supplement:
    base = {"id_number": f.id_number(7), "name": " 王五 ", "stage": Stage.PRIMARY, "category": Category.REGISTERED_POOR,
            "reason": "扶贫系统漏录", "poverty_status": PovertyStatus.NOT_OUT, "enrolment_region": "520102"}
    return Supplement(**{**base, **over})


def test_a_supplement_is_normalised_and_takes_its_household_region_from_the_id():
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in f.id_number(7))
    s = checked(_supplement(id_number=full_width), today=TODAY)
    assert s.id_number == f.id_number(7)
    assert (s.name, s.household_region) == ("王五", f.id_number(7)[:6])
    other_province = checked(_supplement(id_number=f.id_number(8, "110101")), today=TODAY)  # FAQ Q29
    assert other_province.household_region == "110101"


@pytest.mark.parametrize(("over", "code"), [
    ({"id_number": ""}, "empty_id"),
    ({"id_number": "52010220140101"}, "bad_length"),
    ({"id_number": "5201022014010100AB"}, "bad_characters"),
    ({"id_number": "520102201402300011"}, "bad_birth_date"),
    ({"poverty_status": None}, "missing_poverty_status"),
    ({"category": Category.ORPHAN}, "poverty_status_not_allowed"),
    ({"poverty_status": PovertyStatus.OUT}, "missing_exit_year"),
    ({"reason": " "}, "bad_reason"),
    ({"enrolment_region": None}, "bad_region"),
])
def test_a_bad_supplement_names_its_field(over, code):
    _refused(code, checked, _supplement(**over), today=TODAY)


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_check_id_number_accepts_exactly_the_right_check_digit(first17):
    from aid_contracts.keys import check_digit
    try:
        date(int(first17[6:10]), int(first17[10:12]), int(first17[12:14]))
    except ValueError:
        return
    if not 1900 <= int(first17[6:10]) <= 2025:
        return
    right = check_digit(first17)
    assert check_id_number(first17 + right, today=TODAY) == first17 + right
    wrong = next(c for c in "0123456789X" if c != right)
    _refused("bad_check_digit", check_id_number, first17 + wrong, today=TODAY)


def test_unfunded_reason_codes():
    for code in UNFUNDED_REASONS:
        check_coded(code, "说明", UNFUNDED_REASONS, "reason")
    _refused("unknown_reason", check_coded, "lazy", None, UNFUNDED_REASONS, "reason")
    _refused("missing_text", check_coded, "other", "", UNFUNDED_REASONS, "reason")
