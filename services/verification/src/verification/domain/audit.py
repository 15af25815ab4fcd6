"""Submission and audit (上报与审核) of a school's answers.

audit_state: unsubmitted (未上报) → submitted (已上报待审核) → approved (审核通过) or
returned (退回, with a reason) → the school answers again → submitted … any number of times
(FAQ Q32: every audited submission counts as reported). A new answer after approval makes
the task unsubmitted again; its next approval emits a newer ``verified``.
"""

from __future__ import annotations

from aid_chassis.auth import Principal
from verification.domain.tasks import PENDING, VerificationRefused

UNSUBMITTED, SUBMITTED, APPROVED, RETURNED = "unsubmitted", "submitted", "approved", "returned"
AUDIT_STATES = (UNSUBMITTED, SUBMITTED, APPROVED, RETURNED)
DECISIONS = ("approve", "return")


def check_answerable(audit_state: str) -> None:
    """A school may not change an answer while its bureau is auditing it."""
    if audit_state == SUBMITTED:
        raise VerificationRefused("under_audit", "该记录已上报，正在审核，审核前不能修改 (submitted: wait for the audit)")


def check_submittable(*, status: str, audit_state: str, open_: bool) -> None:
    if not open_:
        raise VerificationRefused("task_closed", "该任务已关闭 (this task is closed)")
    if status == PENDING:
        raise VerificationRefused("not_answered", "请先核对再上报 (verify the record before submitting it)")
    if audit_state not in (UNSUBMITTED, RETURNED):
        raise VerificationRefused("not_submittable", f"该记录状态为 {audit_state}，无需上报 (already {audit_state})")


def check_decision(decision: str, reason: str | None, *, audit_state: str) -> None:
    if decision not in DECISIONS:
        raise VerificationRefused("unknown_decision", "审核结论须为 approve 或 return (decision must be approve or return)")
    if audit_state != SUBMITTED:
        raise VerificationRefused("not_submitted", f"该记录未上报，不能审核 (only submitted records are audited; this one is {audit_state})")
    if decision == "return" and not (reason or "").strip():
        raise VerificationRefused("missing_reason", "退回须填写原因 (a returned record needs a reason)")


def audits(who: Principal, enrolment_region: str) -> bool:
    """A bureau audits (writes) only in its enrolment jurisdiction (学籍维度)."""
    return who.covers_region(enrolment_region)


def resolver_prefix(regions: set[str]) -> str:
    """The jurisdiction that resolves a repeated student: the county if the schools share one,
    the city across counties, the province across cities ('' = across provinces)."""
    for digits in (6, 4, 2):
        if len({r[:digits] for r in regions}) == 1:
            return next(iter(regions))[:digits]
    return ""


def resolves(who: Principal, regions: set[str]) -> bool:
    """Whether a bureau is the one to resolve a repeated-student check (重复学生核查)."""
    prefix = resolver_prefix(regions)
    return bool(prefix) and who.region_prefix == prefix
