"""Money is integer fen (分); yuan text only at the edges, never a float."""

from __future__ import annotations

import re

_YUAN = re.compile(r"^(\d{1,13})(?:\.(\d{1,2}))?$")


def yuan(fen: int) -> str:
    """``12345`` → ``"123.45"``."""
    if fen < 0:
        raise ValueError("amounts are never negative")
    return f"{fen // 100}.{fen % 100:02d}"


def fen_of_yuan(text: str) -> int:
    """``"123.4"`` → ``12340``; refuses anything but digits with at most two decimals."""
    found = _YUAN.match(text.strip())
    if not found:
        raise ValueError(f"not an amount in yuan with at most 2 decimals: {text!r}")
    return int(found[1]) * 100 + int((found[2] or "0").ljust(2, "0"))


def fen(text: str) -> int:
    """A whole number of fen from a file field; refuses signs, decimals and blanks."""
    value = text.strip()
    if not value.isdigit() or len(value) > 15:
        raise ValueError(f"not a whole number of fen: {text!r}")
    return int(value)
