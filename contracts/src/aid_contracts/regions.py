"""Region codes of GB/T 2260 (行政区划代码) with their names and the years each was in use, from
python-stdnum's table.

An ID number's first six digits name the county where it was issued; a code retired
since (宣武区 110104 until 2010) is still right for someone born while it was in use. A
province is ``XX0000``, a city (地级) ``XXXX00``, a county (县级) the whole six digits.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_RANGE = re.compile(r"^\[(\d*)-(\d*)\]")
Span = tuple[int, int]  # first and last year in use (inclusive); open ends are 0 and 9999


@cache
def _table() -> dict[str, tuple[tuple[Span, str], ...]]:
    """Six-digit code → (years in use, name) of each name it had."""
    text = resources.files("stdnum.cn").joinpath("loc.dat").read_text(encoding="utf-8")
    table: dict[str, list[tuple[Span, str]]] = {}
    province = ""
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if not line.startswith(" "):
            province = line.split()[0]
            continue
        suffix, _, rest = line.strip().partition(" ")
        names = rest.removeprefix('county="').removesuffix('"').split(",")
        table.setdefault(province + suffix, []).extend(_named(name) for name in names)
    return {code: tuple(entries) for code, entries in table.items()}


def _named(entry: str) -> tuple[Span, str]:
    match = _RANGE.match(entry)
    if not match:
        return (0, 9999), entry
    return (int(match.group(1) or 0), int(match.group(2) or 9999)), entry[match.end():]


@cache
def spans() -> dict[str, tuple[Span, ...]]:
    """Six-digit code → the spans of years it was in use (for checks done on whole columns)."""
    return {code: tuple(span for span, _ in entries) for code, entries in _table().items()}


def is_known(code: str) -> bool:
    """A code that is or was a region of GB/T 2260."""
    return code in _table()


def valid_in(code: str, year: int) -> bool:
    """Whether the code was in use in that year (an ID issued then may carry it)."""
    return any(start <= year <= end for (start, end), _ in _table().get(code, ()))


def codes() -> list[str]:
    """Every code that is or was in use."""
    return sorted(_table())


_GROUPS = ("市辖区", "县", "省直辖县级行政单位", "自治区直辖县级行政单位")  # city-level codes with no city


def name(code: str, year: int | None = None) -> str | None:
    """The name of a province (2 digits or ``XX0000``), city (4 or ``XXXX00``) or county (6 digits)
    in ``year`` (default: its latest name); None for a code the table does not know. A city-level
    code with no name of its own (a municipality's 市辖区 or 县) is named with its province's."""
    full = code.ljust(6, "0")
    entries = _table().get(full) if code.isdigit() and len(code) in (2, 4, 6) else None
    if not entries:
        return None
    named = [n for (start, end), n in entries if year is not None and start <= year <= end]
    found = named[-1] if named else max(entries, key=lambda entry: entry[0][1])[1]
    if found in _GROUPS and full.endswith("00") and not full.endswith("0000"):
        return f"{name(code[:2], year)}{found}"
    return found


def names(codes_: list[str]) -> dict[str, str]:
    """Names of the codes the table knows (for the rows of a drill-down or a report)."""
    return {code: n for code in codes_ if (n := name(code)) is not None}
