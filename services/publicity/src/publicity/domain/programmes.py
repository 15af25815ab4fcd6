"""Aid programmes (资助项目) and the public-notice window (公示期).

The skeleton knows one programme per stage at the national standard per term; the
versioned programme rules and the holiday calendar arrive with the publicity issue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from aid_contracts.events import Stage, VerificationStatus


@dataclass(frozen=True)
class Programme:
    code: str
    name: str
    stage: Stage
    amount_fen: int  # per period


PROGRAMMES = {p.code: p for p in (
    Programme("preschool_aid", "学前教育幼儿资助", Stage.PRESCHOOL, 50_000),
    Programme("compulsory_living_subsidy_primary", "义务教育家庭经济困难学生生活补助（小学）", Stage.PRIMARY, 50_000),
    Programme("compulsory_living_subsidy_junior", "义务教育家庭经济困难学生生活补助（初中）", Stage.JUNIOR, 62_500),
    Programme("senior_national_grant", "普通高中国家助学金", Stage.SENIOR, 100_000),
    Programme("vocational_national_grant", "中等职业教育国家助学金", Stage.VOCATIONAL, 100_000),
    Programme("higher_national_grant", "高等教育国家助学金", Stage.HIGHER, 185_000),
)}
ELIGIBLE = {VerificationStatus.VERIFIED_UNCHANGED.value, VerificationStatus.VERIFIED_UPDATED.value}


class ListRefused(ValueError):
    """An aid-list action the rules do not allow."""


def programme(code: str) -> Programme:
    try:
        return PROGRAMMES[code]
    except KeyError:
        raise ListRefused(f"没有这个资助项目 (no such programme: {code})") from None


def add_working_days(start: datetime, days: int) -> datetime:
    """``days`` working days after ``start``, skipping weekends (holidays come later)."""
    current, left = start, days
    while left > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            left -= 1
    return current


def notice_end(published_at: datetime, *, working_days: int, seconds: float | None) -> datetime:
    if seconds is not None:
        return published_at + timedelta(seconds=seconds)
    return add_working_days(published_at, working_days)
