"""Free text people type — a reason, a note, an objection — must not carry ID or bank card numbers.

Such text is kept in audit entries, published to reporting and kept for years, where nothing seals
it. A request whose free text holds a resident ID number (18 characters whose GB 11643 check digit
and birth date hold, or a 15-digit legacy one with a real birth date) or a bank card number (16–19
digits passing the Luhn check) is refused with a 422 naming the field. Full-width digits count, and
so do numbers typed in groups as people write them ("6222 0200 1234 5678 901", "520102 20120315
001X"); other numbers side by side are not joined, so a phone number and a date, a school code, an
amount or a serial number that fails the checks pass.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Annotated

from pydantic import AfterValidator

from aid_contracts.keys import born_on, check_digit

_GROUPED = re.compile(r"(?<![\dXx])\d+(?:[ \-]\d+)*[Xx]?(?![\dXx])")  # digits in groups split by one space/hyphen
_SEPARATOR = re.compile(r"[ \-]")
_ID_GROUPS = ((6, 8, 4), (6, 4, 4, 4), (3, 3, 4, 4, 4))
MESSAGE = "must not contain an ID number or bank card number (请勿填写身份证号或银行卡号)"


def holds_personal_number(text: str) -> bool:
    """Whether ``text`` holds an ID or bank card number (see the module's docstring)."""
    plain = unicodedata.normalize("NFKC", text)
    return any(_personal(number) for found in _GROUPED.finditer(plain) for number in _numbers(found.group()))


def _numbers(found: str) -> list[str]:
    """The numbers in a run of digit groups: joined when the groups are shaped like a card's (fours)
    or an ID number's, each group by itself otherwise."""
    groups = _SEPARATOR.split(found)
    sizes = tuple(len(g) for g in groups)
    card_like = len(groups) > 1 and all(n == 4 for n in sizes[:-1]) and 1 <= sizes[-1] <= 4
    return ["".join(groups)] if len(groups) == 1 or card_like or sizes in _ID_GROUPS else groups


def _personal(number: str) -> bool:
    upper, today = number.upper(), date.today()
    if len(upper) == 18 and upper[:17].isdigit():
        return check_digit(upper[:17]) == upper[17] and born_on(upper, today) is not None
    if not upper.isdigit():
        return False
    if len(upper) == 15 and born_on(f"{upper[:6]}19{upper[6:]}", today) is not None:  # legacy: 2-digit year
        return True
    return 16 <= len(upper) <= 19 and _luhn(upper)


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _refuse_personal_numbers(text: str | None) -> str | None:
    if text is not None and holds_personal_number(text):
        raise ValueError(MESSAGE)
    return text


NoPersonalNumbers = AfterValidator(_refuse_personal_numbers)
FreeText = Annotated[str, NoPersonalNumbers]  # add Field(max_length=…) beside it
