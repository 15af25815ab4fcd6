"""Rows of the enrolment roster and of department lists, validated field by field.

A bad row is never dropped: it becomes a Rejection naming the row, the field and why.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import cache

from aid_contracts.events import Category, PovertyStatus, Stage
from aid_contracts import regions
from identity_matching.domain.id_numbers import MESSAGES as ID_MESSAGES
from identity_matching.domain.id_numbers import InvalidIdNumber, validate

HEADERS = {
    "身份证号": "id_number", "身份证号码": "id_number", "姓名": "name", "学校代码": "school_code",
    "学段": "stage", "学籍所在地": "enrolment_region", "户籍所在地": "household_region",
    "类别": "category", "困难类别": "category", "脱贫状态": "poverty_status", "脱贫年份": "exit_year",
    "年级": "grade", "班级": "class", "性别": "gender",
}
CATEGORY_NAMES = {
    "建档立卡": Category.REGISTERED_POOR, "低保": Category.MINIMUM_ALLOWANCE,
    "城乡低保": Category.MINIMUM_ALLOWANCE, "特困": Category.EXTREME_POVERTY,
    "特困救助供养": Category.EXTREME_POVERTY, "孤儿": Category.ORPHAN, "残疾": Category.DISABLED,
    "困难职工家庭": Category.NEEDY_WORKER_FAMILY, "困难职工": Category.NEEDY_WORKER_FAMILY,
}
STATUS_NAMES = {"未脱贫": PovertyStatus.NOT_OUT, "已脱贫": PovertyStatus.OUT, "返贫": PovertyStatus.BACK_IN}
STAGE_NAMES = {"学前": Stage.PRESCHOOL, "小学": Stage.PRIMARY, "初中": Stage.JUNIOR, "高中": Stage.SENIOR,
               "中职": Stage.VOCATIONAL, "高等教育": Stage.HIGHER}
ROSTER_REQUIRED = ("id_number", "name", "school_code", "stage", "enrolment_region", "household_region")
LIST_REQUIRED = ("id_number", "name", "category", "household_region")
_REGION = re.compile(r"^\d{6}$")
_SCHOOL = re.compile(r"^[0-9A-Za-z]{4,20}$")


@dataclass(frozen=True)
class Rejection:
    """A refused row: its number in the file (the header is row 1), the field, the raw value and why."""

    row: int
    field: str
    code: str
    message: str
    raw: str


@dataclass(frozen=True)
class RosterRow:
    id_number: str
    name: str
    school_code: str
    stage: Stage
    enrolment_region: str
    household_region: str


@dataclass(frozen=True)
class ListRow:
    id_number: str
    name: str
    category: Category
    household_region: str
    poverty_status: PovertyStatus | None
    exit_year: int | None


ROW_MESSAGES = {
    "missing_field": "必填项为空 (a required value is empty)",
    "too_long": "内容过长 (the value is too long)",
    "bad_name": "姓名含控制字符或不可见字符 (the name holds a control or invisible character)",
    "unknown_category": "困难类别无效 (category must be one of: {allowed})",
    "unknown_stage": "学段无效 (stage must be one of: {allowed})",
    "unknown_poverty_status": "脱贫状态无效 (poverty status must be one of: {allowed})",
    "unknown_region": "行政区划代码不存在 (not a GB/T 2260 region code)",
    "bad_region": "应为6位行政区划代码 (must be a 6-digit region code)",
    "bad_school_code": "学校代码格式错误 (4-20 letters or digits)",
    "bad_exit_year": "脱贫年份应为2013年以后的四位年份 (a four-digit year from 2013)",
    "conflicting_duplicate": "与前面的行重复但内容不同 (repeats an earlier row with different values)",
}


class RowError(ValueError):
    """A refused field: which field, the reason code and the message."""

    def __init__(self, field: str, code: str, **fmt: str) -> None:
        message = (ID_MESSAGES.get(code) or ROW_MESSAGES[code]).format(**fmt)
        super().__init__(message)
        self.field = field
        self.code = code
        self.message = message


@cache
def whitespace() -> str:
    """Every character ``str.strip()`` removes (computed once, when first needed)."""
    return "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())


def canonical_header(name: str) -> str:
    clean = name.strip().lstrip("\ufeff")
    return HEADERS.get(clean, clean.lower())


def missing_columns(headers: list[str], required: tuple[str, ...]) -> list[str]:
    return [c for c in required if c not in headers]


def _text(row: dict[str, str], field: str, max_len: int = 50) -> str:
    value = (row.get(field) or "").strip()
    if not value:
        raise RowError(field, "missing_field")
    if len(value) > max_len:
        raise RowError(field, "too_long")
    return value


INVISIBLE = r"[\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]"
"""Control and invisible characters (zero-width, direction marks): a pattern both Python's ``re``
and polars read the same way. A name holding one would print differently than it compares."""
_INVISIBLE = re.compile(INVISIBLE)


def _name(row: dict[str, str]) -> str:
    value = _text(row, "name")
    if _INVISIBLE.search(value):
        raise RowError("name", "bad_name")
    return value


def _id(row: dict[str, str]) -> str:
    try:
        return validate(row.get("id_number") or "")
    except InvalidIdNumber as exc:
        raise RowError("id_number", exc.code) from None


def _region(row: dict[str, str], field: str) -> str:
    value = _text(row, field)
    if not _REGION.match(value):
        raise RowError(field, "bad_region")
    if not regions.is_known(value):
        raise RowError(field, "unknown_region")
    return value


def _choice(row: dict[str, str], field: str, enum, names: dict, code: str):
    value = _text(row, field)
    try:
        return names.get(value) or enum(value.lower())
    except ValueError:
        raise RowError(field, code, allowed=", ".join(e.value for e in enum)) from None


def parse_roster_row(row: dict[str, str]) -> RosterRow:
    id_number = _id(row)
    school = _text(row, "school_code")
    if not _SCHOOL.match(school):
        raise RowError("school_code", "bad_school_code")
    return RosterRow(
        id_number=id_number, name=_name(row), school_code=school,
        stage=_choice(row, "stage", Stage, STAGE_NAMES, "unknown_stage"),
        enrolment_region=_region(row, "enrolment_region"), household_region=_region(row, "household_region"),
    )


def parse_list_row(row: dict[str, str]) -> ListRow:
    id_number = _id(row)
    category = _choice(row, "category", Category, CATEGORY_NAMES, "unknown_category")
    status, exit_year = None, None
    if category is Category.REGISTERED_POOR:
        status = _choice(row, "poverty_status", PovertyStatus, STATUS_NAMES, "unknown_poverty_status")
        exit_year = _exit_year(row) if status is PovertyStatus.OUT else None
    return ListRow(id_number=id_number, name=_name(row), category=category,
                   household_region=_region(row, "household_region"), poverty_status=status,
                   exit_year=exit_year)


def _exit_year(row: dict[str, str]) -> int:
    value = _text(row, "exit_year")
    if not value.isdigit() or not 2013 <= int(value) <= 2100:
        raise RowError("exit_year", "bad_exit_year")
    return int(value)


def validate_rows(rows: list[tuple[int, dict[str, str]]], parse, unique) -> tuple[list, list[Rejection], int]:
    """The rules of this module applied row by row: parsed rows (first of each ``unique`` key),
    rejections, and how many exact repeats were counted once. ``columnar`` computes the same for
    whole files; its tests hold it to this."""
    accepted, rejections, seen, repeats = [], [], {}, 0
    for number, row in rows:
        try:
            parsed = parse(row)
            earlier = seen.setdefault(unique(parsed), parsed)
            if earlier is not parsed and earlier != parsed:
                raise RowError("id_number", "conflicting_duplicate")
        except RowError as exc:
            rejections.append(Rejection(number, exc.field, exc.code, exc.message, row.get(exc.field) or ""))
            continue
        if earlier is parsed:
            accepted.append((number, parsed))
        else:
            repeats += 1
    return accepted, rejections, repeats
