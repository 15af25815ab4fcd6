"""Region codes of GB/T 2260 with the years each was in use, from python-stdnum's table.

An ID number's first six digits name the county where it was issued; a code retired
since (宣武区 110104 until 2010) is still right for someone born while it was in use.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_RANGE = re.compile(r"^\[(\d*)-(\d*)\]")
Span = tuple[int, int]  # first and last year in use (inclusive); open ends are 0 and 9999


@cache
def _table() -> dict[str, tuple[Span, ...]]:
    """Six-digit code → the spans of years it was in use."""
    text = resources.files("stdnum.cn").joinpath("loc.dat").read_text(encoding="utf-8")
    table: dict[str, list[Span]] = {}
    province = ""
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if not line.startswith(" "):
            province = line.split()[0]
            continue
        suffix, _, rest = line.strip().partition(" ")
        names = rest.removeprefix('county="').removesuffix('"').split(",")
        table.setdefault(province + suffix, []).extend(_span(name) for name in names)
    return {code: tuple(spans) for code, spans in table.items()}


def _span(name: str) -> Span:
    match = _RANGE.match(name)
    if not match:
        return (0, 9999)
    return (int(match.group(1) or 0), int(match.group(2) or 9999))


def is_known(code: str) -> bool:
    """A code that is or was a region of GB/T 2260."""
    return code in _table()


def valid_in(code: str, year: int) -> bool:
    """Whether the code was in use in that year (an ID issued then may carry it)."""
    return any(start <= year <= end for start, end in _table().get(code, ()))


def codes() -> list[str]:
    """Every code that is or was in use."""
    return sorted(_table())
