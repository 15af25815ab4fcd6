"""Supplementary records (补录): a school adds a student the comparison missed.

Allowed without enrolment (FAQ Q4/Q19) and for students from other provinces (FAQ Q29), so
the household region may be any province's; the ID number must still be a real one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from aid_contracts.events import Category, PovertyStatus, Stage
from aid_contracts.keys import check_digit, normalise_id_number
from verification.domain.tasks import MAX_TEXT, VerificationRefused


@dataclass(frozen=True)
class Supplement:
    id_number: str
    name: str
    stage: Stage
    category: Category
    reason: str
    poverty_status: PovertyStatus | None = None
    exit_year: int | None = None
    household_region: str | None = None
    enrolment_region: str | None = None


def checked(s: Supplement, *, today: date) -> Supplement:
    """The supplement with its ID normalised, or VerificationRefused naming the field."""
    number = check_id_number(s.id_number, today=today)
    if not 0 < len(s.name.strip()) <= 50 or not s.name.isprintable():
        raise VerificationRefused("bad_name", "姓名不能为空、不超过 50 字且不含控制字符 (name must be 1-50 printable characters)")
    if not s.reason.strip() or len(s.reason) > MAX_TEXT:
        raise VerificationRefused("bad_reason", f"须填写补录原因，不超过 {MAX_TEXT} 字 (reason: 1-{MAX_TEXT} characters)")
    poor = s.category is Category.REGISTERED_POOR
    if poor and s.poverty_status is None:
        raise VerificationRefused("missing_poverty_status", "建档立卡学生须填写脱贫状态 (registered_poor needs poverty_status)")
    if not poor and (s.poverty_status or s.exit_year):
        raise VerificationRefused("poverty_status_not_allowed",
                                  "仅建档立卡学生填写脱贫状态 (only registered_poor takes poverty_status/exit_year)")
    if s.poverty_status is PovertyStatus.OUT and not (s.exit_year and 2000 <= s.exit_year <= today.year):
        raise VerificationRefused("missing_exit_year", "已脱贫须填写脱贫年份 (an out-of-poverty family needs exit_year)")
    region = s.household_region or number[:6]
    for name, value in (("household_region", region), ("enrolment_region", s.enrolment_region or "")):
        if not re.fullmatch(r"[0-9]{6}", value):
            raise VerificationRefused("bad_region", f"{name} 须为 6 位行政区划代码 ({name} must be a 6-digit county code)")
    return Supplement(**{**s.__dict__, "id_number": number, "name": s.name.strip(), "household_region": region})


def check_id_number(raw: str, *, today: date) -> str:
    """The normalised 18-character resident ID, or VerificationRefused with the reason."""
    number = normalise_id_number(raw or "")
    if not number:
        raise VerificationRefused("empty_id", "身份证号为空 (id_number is empty)")
    if len(number) != 18:
        raise VerificationRefused("bad_length", f"身份证号须为 18 位（现为 {len(number)} 位）(id_number must have 18 characters)")
    if not re.fullmatch(r"[0-9]{17}[0-9X]", number):
        raise VerificationRefused("bad_characters", "身份证号含非法字符 (id_number has characters other than digits and a final X)")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise VerificationRefused("bad_birth_date", "身份证号中的出生日期不存在 (the birth date in id_number does not exist)") from None
    if born > today or born.year < 1900:
        raise VerificationRefused("bad_birth_date", "身份证号中的出生日期不合理 (the birth date in id_number is out of range)")
    if check_digit(number[:17]) != number[17]:
        raise VerificationRefused("bad_check_digit", "身份证号校验位错误 (the check digit of id_number is wrong)")
    return number
