"""Chinese resident identity numbers (GB 11643): normalise, convert 15 → 18, validate.

The full GB/T 2260 region list arrives with the complete comparison service; here a
region must be six digits under a real province-level code.
"""

from __future__ import annotations

from datetime import date

from aid_contracts.keys import check_digit, normalise_id_number

PROVINCES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82",
})


class InvalidIdNumber(ValueError):
    """Why an ID number is refused, in words a department clerk understands."""


def to_18(id15: str) -> str:
    """Convert a legacy 15-digit number (born 19xx) to 18 characters."""
    body = id15[:6] + "19" + id15[6:]
    return body + check_digit(body)


def validate(raw: str, *, today: date | None = None) -> str:
    """The normalised 18-character number, or InvalidIdNumber saying why."""
    value = normalise_id_number(raw)
    if len(value) == 15 and value.isdigit():
        value = to_18(value)
    if len(value) != 18:
        raise InvalidIdNumber("身份证号应为18位 (must be 18 characters)")
    if not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        raise InvalidIdNumber("身份证号含非法字符 (only digits and a final X are allowed)")
    if value[:2] not in PROVINCES:
        raise InvalidIdNumber("身份证号地区码不存在 (unknown region code)")
    _birth_date(value, today or date.today())
    if check_digit(value[:17]) != value[17]:
        raise InvalidIdNumber("身份证号校验位错误 (check digit is wrong)")
    return value


def _birth_date(value: str, today: date) -> date:
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidIdNumber("身份证号出生日期无效 (birth date does not exist)") from None
    if born > today or born.year < 1900:
        raise InvalidIdNumber("身份证号出生日期不合理 (birth date in the future or before 1900)")
    return born
