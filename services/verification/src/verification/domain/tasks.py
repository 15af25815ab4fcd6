"""Verification tasks (核对任务): statuses and the rules of verifying."""

from __future__ import annotations

from aid_contracts.events import VerificationStatus

PENDING = "pending"  # 待核对
INVALID_REASONS = {"not_at_school", "duplicate", "transferred", "graduated", "deceased", "other"}


class VerificationRefused(ValueError):
    """A verification the rules do not allow, in words a school clerk understands."""


def check_verification(*, open_: bool, status: VerificationStatus, invalid_reason: str | None) -> None:
    if not open_:
        raise VerificationRefused("该任务已关闭，无需核对 (this task is closed)")
    if status is VerificationStatus.INVALID and invalid_reason not in INVALID_REASONS:
        allowed = ", ".join(sorted(INVALID_REASONS))
        raise VerificationRefused(f"标记无效须选择原因 (an invalid record needs a reason: {allowed})")
    if status is not VerificationStatus.INVALID and invalid_reason:
        raise VerificationRefused("仅无效数据可填写无效原因 (only invalid records take a reason)")


def is_newer(event_revision: int, stored_revision: int | None) -> bool:
    """Version check: apply a match event only if it is newer than what the task holds."""
    return stored_revision is None or event_revision > stored_revision
