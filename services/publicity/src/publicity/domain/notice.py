"""Rules of the aid list (资助名单) and its public notice (公示): states, objections, finalisation."""

from __future__ import annotations

import re
from datetime import datetime

from publicity.domain.programmes import ELIGIBLE, ListRefused

DRAFT, SUBMITTED, PUBLISHED, FINAL = "draft", "submitted", "published", "final"
IN, REMOVED, UPHELD, INELIGIBLE = "in", "removed", "objection_upheld", "ineligible"  # an entry's state
_PHONE = re.compile(r"^(1\d{10}|0\d{2,3}-?\d{7,8})$")


def check_state(status: str, allowed: tuple[str, ...], action: str) -> None:
    if status not in allowed:
        raise ListRefused(f"名单当前状态为 {status}，不能{action} (the list is {status}; this needs it "
                          f"{' or '.join(allowed)})", "wrong_state")


def check_reason(reason: str | None, what: str) -> str:
    text = (reason or "").strip()
    if not text or len(text) > 200:
        raise ListRefused(f"须填写{what}原因（不超过 200 字）(a reason of 1-200 characters is required)", "missing_reason")
    return text


def check_objection(*, status: str, notice_ends_at: datetime | None, now: datetime, name: str, phone: str,
                    text: str) -> None:
    """An objection is taken only while the notice runs, with contact details (实名举报)."""
    if status != PUBLISHED or notice_ends_at is None or now >= notice_ends_at:
        raise ListRefused("公示期已结束或名单未在公示中，不能受理异议 (the notice period is over or the list is not "
                          "under notice)", "notice_closed")
    if not 0 < len(name.strip()) <= 50:
        raise ListRefused("须填写联系人姓名 (contact name is required)", "missing_contact")
    if not _PHONE.match(phone.strip()):
        raise ListRefused("联系电话格式不正确：手机 11 位或座机 区号-号码 (contact phone: 11-digit mobile or "
                          "area code-number)", "bad_phone")
    if not 5 <= len(text.strip()) <= 1000:
        raise ListRefused("异议内容 5-1000 字 (the objection text must have 5-1000 characters)", "bad_text")


def can_finalise(*, status: str, notice_ends_at: datetime | None, now: datetime, open_objections: int) -> bool:
    """Final once the window has closed and every objection is decided."""
    return status == PUBLISHED and notice_ends_at is not None and now >= notice_ends_at and open_objections == 0


def ineligibility(*, status: str | None, school_code: str | None, stage: str | None, categories: set[str],
                  list_school: str, rules) -> str | None:
    """Why a student on a list no longer qualifies (None if still eligible), checked against the
    latest verification and match at submission and again at finalisation."""
    if status is None or status == "withdrawn":
        return "比对结果已撤销 (the match was withdrawn)"
    if status not in ELIGIBLE:
        return f"核对结果为 {status} (the latest verification is {status})"
    if school_code != list_school:
        return "学生已不在本校 (the student is now at another school)"
    if stage != rules.stage.value:
        return f"学段已变为 {stage} (the stage is now {stage})"
    if rules.amount_for(categories) is None:
        return "困难类别不再符合该项目 (no qualifying category any more)"
    return None
