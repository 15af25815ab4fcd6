"""Verification tasks (核对任务): statuses, answers and the rules of verifying.

A task is one student handed to one school. The school answers it: 已核对未更新数据
(verified_unchanged), 已核对更新了部分数据 (verified_updated, with corrected enrolment
fields) or 无效数据 (invalid, with a reason). Nothing here touches a database.
"""

from __future__ import annotations

from collections.abc import Callable

import re
from dataclasses import dataclass, field

from aid_contracts.events import Stage, VerificationStatus

PENDING = "pending"  # 待核对
STATUSES = (PENDING, *(s.value for s in VerificationStatus))
VERIFIED = frozenset({VerificationStatus.VERIFIED_UNCHANGED.value, VerificationStatus.VERIFIED_UPDATED.value})
INVALID_REASONS = {  # 无效原因
    "not_at_school": "不在本校就读 (not at this school)",
    "duplicate": "重复数据 (duplicate)",
    "transferred": "已转学 (transferred)",
    "graduated": "已毕业 (graduated)",
    "deceased": "已死亡 (deceased)",
    "other": "其他 (other, explained in text)",
}
CORRECTABLE = ("name", "stage", "enrolment_region", "household_region")  # 可更新的学籍字段
MAX_TEXT = 200


class VerificationRefused(ValueError):
    """A verification the rules do not allow, in words a school clerk understands."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Answer:
    """A school's answer for one task."""

    status: VerificationStatus
    invalid_reason: str | None = None
    invalid_text: str | None = None
    corrections: dict[str, str] = field(default_factory=dict)


def check_answer(answer: Answer, *, open_: bool) -> None:
    """Refuse an answer that breaks a rule; the message names the field and why."""
    if not open_:
        raise VerificationRefused("task_closed", "该任务已关闭，无需核对 (this task is closed)")
    _check_invalid(answer)
    _check_corrections(answer)


def _check_invalid(answer: Answer) -> None:
    if answer.status is VerificationStatus.INVALID:
        if answer.invalid_reason not in INVALID_REASONS:
            allowed = ", ".join(INVALID_REASONS)
            raise VerificationRefused("unknown_reason",
                                      f"无效原因不在代码表中 (invalid_reason must be one of: {allowed})")
        if answer.invalid_reason == "other" and not (answer.invalid_text or "").strip():
            raise VerificationRefused("missing_text", "原因为“其他”时须填写说明 (invalid_text is required for other)")
    elif answer.invalid_reason or answer.invalid_text:
        raise VerificationRefused("reason_not_allowed", "仅无效数据可填写无效原因 (only invalid records take a reason)")
    if len(answer.invalid_text or "") > MAX_TEXT:
        raise VerificationRefused("text_too_long", f"说明不超过 {MAX_TEXT} 字 (invalid_text is at most {MAX_TEXT} characters)")


def _check_corrections(answer: Answer) -> None:
    updated = answer.status is VerificationStatus.VERIFIED_UPDATED
    if updated and not answer.corrections:
        raise VerificationRefused("missing_corrections",
                                  "“已核对更新了部分数据”须填写更正的学籍字段 (verified_updated needs corrections)")
    if not updated and answer.corrections:
        raise VerificationRefused("corrections_not_allowed",
                                  "仅“已核对更新了部分数据”可更正学籍字段 (only verified_updated takes corrections)")
    for name, value in answer.corrections.items():
        _check_field(name, value)


def _check_field(name: str, value: str) -> None:
    if name not in CORRECTABLE:
        raise VerificationRefused("field_not_correctable",
                                  f"字段 {name} 不可更正 (correctable fields: {', '.join(CORRECTABLE)})")
    if name == "stage" and value not in {s.value for s in Stage}:
        raise VerificationRefused("bad_stage", f"学段 {value!r} 不在代码表中 (stage must be one of: "
                                               f"{', '.join(s.value for s in Stage)})")
    if name.endswith("_region") and not re.fullmatch(r"[0-9]{6}", value):
        raise VerificationRefused("bad_region", f"{name} 须为 6 位行政区划代码 ({name} must be a 6-digit county code)")
    if name == "name" and (not 0 < len(value.strip()) <= 50 or not value.isprintable()):
        raise VerificationRefused("bad_name", "姓名不能为空、不超过 50 字且不含控制字符 (name must be 1-50 printable characters)")


def corrected(student: dict, corrections: dict[str, str]) -> tuple[dict, dict[str, dict[str, str]]]:
    """The student's facts with corrections applied, and each changed field's old and new value."""
    changed = {k: {"old": student[k], "new": v} for k, v in corrections.items() if student.get(k) != v}
    return {**student, **{k: v for k, v in corrections.items()}}, changed


def check_duplicates(status: VerificationStatus, *, verified_elsewhere: bool) -> None:
    """Of one student handed out more than once, exactly one record may be verified (FAQ Q6)."""
    if status.value in VERIFIED and verified_elsewhere:
        raise VerificationRefused(
            "duplicate_verified",
            "该学生已有一条记录核对通过，其余记录须核对为无效数据（重复）"
            " (this student is already verified in another record; mark this one invalid as duplicate)")


def match_changes(old_student: dict, old_categories: list, new_student: dict, new_categories: list,
                  same: Callable[[str, object, object], bool] | None = None) -> dict:
    """What a re-comparison changed in a task: each changed fact's old and new value (as stored:
    a name or ID number sealed). ``same(field, old, new)`` tells equal values apart from equal text
    (a sealed and a plain name, or names sealed under two keys)."""
    same = same or (lambda _, old, new: old == new)
    changes = {k: {"old": old_student.get(k), "new": v} for k, v in new_student.items()
               if not same(k, old_student.get(k), v)}
    if _category_set(old_categories) != _category_set(new_categories):
        changes["categories"] = {"old": sorted(_category_set(old_categories)), "new": sorted(_category_set(new_categories))}
    return changes


def _category_set(categories: list) -> set[str]:
    return {f"{c['category']}:{c.get('poverty_status') or ''}" for c in categories}


def is_newer(event_revision: int, stored_revision: int | None) -> bool:
    """Version check: apply a match event only if it is newer than what the task holds."""
    return stored_revision is None or event_revision > stored_revision
