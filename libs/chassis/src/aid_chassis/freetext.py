"""Free text people type — a reason, a note, an objection — must not carry ID or bank card numbers.

Such text is kept in audit entries, published to reporting and kept for years, where nothing seals
it. A request whose free text holds a run of 15 to 19 digits (an 18- or 15-character ID number, a
16–19 digit card number; full-width digits and spaces between digits count too) is
refused with a 422 naming the field; a phone number (11 digits), an amount or a date passes.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator

_BETWEEN_DIGITS = re.compile(r"(?<=\d)\s+(?=[\dXx])")  # "6222 0200 …" as typed; dates keep their hyphens
_NUMBER = re.compile(r"(?<!\d)(?:\d{15,19}|\d{17}[Xx])(?![\dXx])")
MESSAGE = "must not contain an ID number or bank card number (请勿填写身份证号或银行卡号)"


def holds_personal_number(text: str) -> bool:
    """Whether ``text`` holds something shaped like an ID or bank card number."""
    plain = _BETWEEN_DIGITS.sub("", unicodedata.normalize("NFKC", text))
    return _NUMBER.search(plain) is not None


def _refuse_personal_numbers(text: str | None) -> str | None:
    if text is not None and holds_personal_number(text):
        raise ValueError(MESSAGE)
    return text


NoPersonalNumbers = AfterValidator(_refuse_personal_numbers)
FreeText = Annotated[str, NoPersonalNumbers]  # add Field(max_length=…) beside it
