"""Chinese resident identity numbers (GB 11643): normalise, convert 15 → 18, validate.

Each refusal carries a reason code (for the department's correction list and for
statistics) and a message in Chinese and English.
"""

from __future__ import annotations

from datetime import date

from aid_contracts.keys import born_on, check_digit, normalise_id_number
from aid_contracts import regions

MESSAGES = {
    "empty_id": "身份证号为空 (the ID number is empty)",
    "bad_length": "身份证号应为18位或15位 (must be 18 characters, or 15 digits for an old number)",
    "bad_characters": "身份证号含非法字符 (only digits and a final X are allowed)",
    "bad_check_digit": "身份证号校验位错误 (the check digit is wrong)",
    "bad_birth_date": "身份证号出生日期无效 (the birth date does not exist or is in the future)",
    "unknown_region": "身份证号地区码不存在 (the region code was not in use in the birth year)",
}


class InvalidIdNumber(ValueError):
    """Why an ID number is refused: ``code`` from MESSAGES."""

    def __init__(self, code: str) -> None:
        super().__init__(MESSAGES[code])
        self.code = code


def to_18(id15: str) -> str:
    """Convert a legacy 15-digit number (born 19xx) to 18 characters."""
    body = id15[:6] + "19" + id15[6:]
    return body + check_digit(body)


def validate(raw: str, *, today: date | None = None) -> str:
    """The normalised 18-character number, or InvalidIdNumber with the first reason found."""
    value = normalise_id_number(raw or "")
    if not value:
        raise InvalidIdNumber("empty_id")
    if len(value) == 15 and value.isdigit():
        value = to_18(value)
    if len(value) != 18:
        raise InvalidIdNumber("bad_length")
    if not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        raise InvalidIdNumber("bad_characters")
    if check_digit(value[:17]) != value[17]:
        raise InvalidIdNumber("bad_check_digit")
    born = birth_date(value, today or date.today())
    if not regions.valid_in(value[:6], born.year):
        raise InvalidIdNumber("unknown_region")
    return value


def birth_date(value: str, today: date) -> date:
    """The birth date in an 18-character number; InvalidIdNumber if impossible."""
    born = born_on(value, today)
    if born is None:
        raise InvalidIdNumber("bad_birth_date")
    return born
