"""Typo'd ID numbers (录入错误): the valid numbers within one edit of a refused one.

One edit is one character replaced or two neighbouring characters swapped. A candidate
must itself be a valid number; the roster then decides which of them, if any, is a student
with the same name (and region) — a review candidate, never an automatic match.
"""

from __future__ import annotations

from datetime import date

from aid_contracts.keys import check_digit, normalise_id_number
from identity_matching.domain.id_numbers import InvalidIdNumber, validate

TYPO_CODES = {"bad_check_digit", "bad_birth_date"}
_ALPHABET = "0123456789"


def one_edit_away(raw: str, *, today: date | None = None) -> set[str]:
    """Every valid 18-character number one replacement or one neighbour swap from ``raw``."""
    value = normalise_id_number(raw)
    if len(value) != 18:
        return set()
    found = set()
    for i in range(18):
        for c in (_ALPHABET + "X" if i == 17 else _ALPHABET):
            if c != value[i]:
                found.add(value[:i] + c + value[i + 1:])
    for i in range(17):
        found.add(value[:i] + value[i + 1] + value[i] + value[i + 2:])
    return {v for v in found if v != value and _valid(v, today)}


def _valid(value: str, today: date | None) -> bool:
    if not value[:17].isdigit() or check_digit(value[:17]) != value[17]:
        return False
    try:
        validate(value, today=today)
    except InvalidIdNumber:
        return False
    return True


def score(*, same_region: bool) -> float:
    """How sure a suggestion is (the name always agrees): 1.0 when the household region agrees too."""
    return 1.0 if same_region else 0.8
