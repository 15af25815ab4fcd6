"""The jurisdiction views a bureau or school opens (the national system's query modules), their
filters, who sees what, and how a row reads in an export.

Two dimensions: a student belongs to the county of their school (学籍所在地, enrolment) and to
the county of their household registration (户籍所在地, household). A bureau sees the students of
its region on the dimension it chooses and may narrow it (province → city → county → school);
a school sees its own students.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Literal

from aid_chassis.auth import OutsideJurisdiction, Principal, Role, jurisdiction
from aid_chassis.fields import FieldCipher
from aid_chassis.masking import mask_id_number
from aid_contracts import labels

ViewName = Literal["key-groups", "elsewhere", "self-collected", "unfunded"]
Dimension = Literal["enrolment", "household"]
VIEWS: dict[str, tuple[str, str]] = {
    "key-groups": ("重点保障人群情况查询", "students of families in difficulty, every category"),
    "elsewhere": ("本地户籍外地就读学生查询", "household registered here, school outside the jurisdiction"),
    "self-collected": ("自主采集建档立卡学生", "registered-poor students the schools added (补录)"),
    "unfunded": ("建档立卡未资助学生", "verified registered-poor students not paid in the period, with reasons"),
}
STATUSES = (*labels.STUDENT_STATUS, "verified")  # "verified": either verified status
# The offices that verify and pay may export or reveal whole ID numbers (both audited); every page shows them masked.
SEES_ID_NUMBERS = (Role.SCHOOL, Role.COUNTY_BUREAU)


@dataclass(frozen=True)
class Scope:
    """Where a view looks: the region prefix on a dimension, or one school."""

    dimension: Dimension
    prefix: str = ""  # "" for the whole platform (never for a bureau or school)
    school_code: str | None = None
    home: str = ""  # the caller's own region prefix (for "elsewhere": outside it)


def scope_for(who: Principal, view: str, dimension: Dimension, region: str | None) -> Scope:
    """The caller's jurisdiction, narrowed to ``region`` when it lies inside it."""
    if view == "elsewhere":
        dimension = "household"
    if view == "elsewhere" and who.role is Role.SCHOOL:
        raise OutsideJurisdiction("学校不能查询本地户籍外地就读学生 (a school has no household jurisdiction)")
    prefix, school_code = jurisdiction(who, region)
    return Scope(dimension, prefix=prefix, school_code=school_code, home=who.region_prefix or "")


def check_filters(view: str, period: str | None) -> None:
    """The unfunded view is about one period; ValueError without it."""
    if view == "unfunded" and not period:
        raise ValueError("未资助学生须指定期次 period (the unfunded view needs a period, e.g. 2026-autumn)")


def encode_cursor(school_code: str, student_key: str) -> str:
    return base64.urlsafe_b64encode(f"{school_code}\x1f{student_key}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[str, str]:
    """The (school code, student key) a page ends at; ValueError when the cursor is not ours."""
    try:
        school_code, key = base64.urlsafe_b64decode(cursor.encode()).decode().split("\x1f")
    except (ValueError, UnicodeDecodeError):
        raise ValueError("翻页标记无效 (the page cursor is not valid; start from the first page)") from None
    return school_code, key


def sees_id_numbers(who: Principal) -> bool:
    return who.role in SEES_ID_NUMBERS


def exports_whole(who: Principal, dimension: str) -> bool:
    """Whole ID numbers in an export: for a school (its own students), or a county by enrolment —
    the offices that verify and pay; never a household-dimension view of students studying elsewhere."""
    return sees_id_numbers(who) and (who.role is Role.SCHOOL or dimension == "enrolment")


def item(row, fields: FieldCipher) -> dict:
    """One student as a view shows them (JSON): the name opened, the ID number masked (a reveal is
    its own, audited request)."""
    return {"student_key": row.student_key, "name": fields.shown(row.name, row.student_key, "name"),
            "id_number": mask_id_number(fields.shown(row.id_number, row.student_key, "id_number")),
            "school_code": row.school_code, "stage": row.stage, "enrolment_region": row.enrolment_region,
            "household_region": row.household_region, "categories": list(row.categories),
            "poverty_status": row.poverty_status, "status": row.status, "origin": row.origin,
            "name_mismatch": row.name_mismatch, "reason": getattr(row, "reason", None)}


EXPORT_HEADER = ["姓名", "身份证号", "学校代码", "学段", "学籍所在地", "户籍所在地", "困难类别", "脱贫状态",
                 "核对状态", "来源", "姓名不一致", "未资助原因"]


def export_row(row, whole: bool, fields: FieldCipher) -> list[str]:
    """One student as an export line, in the words of EXPORT_HEADER: the whole ID number when
    ``whole`` (see ``exports_whole``; the export is audited), masked otherwise."""
    shown = item(row, fields)
    id_number = fields.shown(row.id_number, row.student_key, "id_number") if whole else shown["id_number"]
    return [shown["name"], id_number, row.school_code, labels.label(labels.STAGE, row.stage),
            row.enrolment_region, row.household_region, labels.labels(labels.CATEGORY, row.categories),
            labels.label(labels.POVERTY_STATUS, row.poverty_status), labels.label(labels.STUDENT_STATUS, row.status),
            labels.label(labels.ORIGIN, row.origin), "是" if row.name_mismatch else "",
            labels.label(labels.UNFUNDED_REASON, shown["reason"])]
