"""Abnormal-record checks (数据核查, seed 001 §3): a bureau uploads the national centre's list of
abnormal aid records; it is split by school; schools answer each; a summary by county follows.

A record's ID number and name are stored sealed (``aid_chassis.fields`` tokens bound to the
item, ``<check_id>/<row>``) and opened only to be shown: the ID number masked, the name as the
school needs it to find the student. Records stored plain before sealing began open as they are."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis.auth import Principal
from aid_chassis.fields import FieldCipher
from aid_chassis.masking import mask_id_number
from aid_chassis.uploads import read_csv
from aid_chassis.audit import new_id
from aid_contracts import CheckProgressed
from verification.adapters import tables
from verification.domain.followups import CHECK_ANSWERS, check_coded
from verification.domain.tasks import VerificationRefused
from verification.service_layer.followups import deadline
from verification.service_layer.store import emit, log, now

A = tables.abnormal_items.c
HEADERS = {"身份证号": "id_number", "姓名": "name", "学校代码": "school_code", "学校所在地": "county",
           "资助项目": "programme", "异常情况": "issue"}
REQUIRED = ("id_number", "name", "school_code", "county", "issue")


def _refusal(row: int, fields: dict[str, str], who: Principal) -> dict | None:
    for name in REQUIRED:
        if not fields.get(name):
            return {"row": row, "field": name, "code": "missing_field", "message": f"{name} 为空 ({name} is empty)"}
    county = fields["county"]
    if not re.fullmatch(r"[0-9]{6}", county):  # ASCII digits only (isdigit takes ² too)
        return {"row": row, "field": "county", "code": "bad_region", "raw": county,
                "message": "学校所在地须为 6 位行政区划代码 (county must be a 6-digit code)"}
    if not who.covers_region(county):
        return {"row": row, "field": "county", "code": "outside_jurisdiction", "raw": county,
                "message": "学校不在本辖区 (the school is outside your jurisdiction)"}
    return None


def _shown(record: dict[str, str], owner: str, cipher: FieldCipher) -> dict[str, str]:
    opened = cipher.open_student(record, owner)
    return {**opened, "id_number": mask_id_number(opened["id_number"])}


async def upload(session: AsyncSession, who: Principal, title: str, content: bytes, cipher: FieldCipher) -> dict:
    """Store a check's rows split by school, ID numbers and names sealed; every rejected row says
    which field and why."""
    rows = read_csv(content, HEADERS, needs=[{name} for name in REQUIRED])
    check_id, accepted, rejected = new_id("C"), [], []
    for row in rows:
        refusal = _refusal(row.row, row.fields, who)
        if refusal:
            rejected.append(refusal)
        else:
            record = {k: row.fields.get(k, "") for k in ("id_number", "name", "programme", "issue")}
            accepted.append({"check_id": check_id, "row": row.row, "school_code": row.fields["school_code"],
                             "county": row.fields["county"],
                             "record": cipher.seal_student(record, f"{check_id}/{row.row}")})
    if not accepted:
        raise VerificationRefused("no_rows", f"没有可导入的记录（{len(rejected)} 行有误）(no acceptable rows)")
    await session.execute(insert(tables.abnormal_checks).values(check_id=check_id, title=title,
                                                                region_prefix=who.region_prefix, items=len(accepted),
                                                                uploaded_by=who.subject))
    await session.execute(insert(tables.abnormal_items), accepted)
    sequence = await log(session, "abnormal_check", check_id, "uploaded", who, {"items": len(accepted)})
    schools = sorted({a["school_code"] for a in accepted})
    for school in schools:
        await _progressed(session, check_id, title, school, sequence)
    return {"check_id": check_id, "read": len(rows), "accepted": len(accepted), "rejected": len(rejected),
            "schools": len(schools), "rejections": rejected}


async def _progressed(session: AsyncSession, check_id: str, title: str, school: str, sequence: int) -> None:
    """``check-progressed``: this school's records of the check and its answers so far, for reporting."""
    rows = (await session.execute(select(A.county, A.answer, func.count()).where(
        A.check_id == check_id, A.school_code == school).group_by(A.county, A.answer))).all()
    answers: dict[str, int] = {}
    for _, code, n in rows:
        if code:
            answers[code] = answers.get(code, 0) + n  # a school's rows may name more than one county
    event = CheckProgressed(check_id=check_id, title=title, school_code=school, county=min(c for c, _, _ in rows),
                            items=sum(n for _, _, n in rows), answers=answers, sequence=sequence, changed_at=now())
    await emit(session, event, f"{check_id}/{school}")


async def answer(session: AsyncSession, who: Principal, check_id: str, row: int, code: str, text: str | None) -> dict:
    """A school's answer to one record; the check is locked so each school's counts are emitted in order."""
    title = await session.scalar(select(tables.abnormal_checks.c.title).where(
        tables.abnormal_checks.c.check_id == check_id).with_for_update())
    item = (await session.execute(select(tables.abnormal_items).where(
        A.check_id == check_id, A.row == row, A.school_code == (who.school_code or "")).with_for_update())).first()
    if item is None:
        raise LookupError(f"本校没有这条核查记录 (no record {check_id}/{row} at your school)")
    check_coded(code, text, CHECK_ANSWERS, "answer")
    await session.execute(tables.abnormal_items.update().where(A.check_id == check_id, A.row == row).values(
        answer=code, answer_text=text, answered_by=who.subject, answered_at=now()))
    sequence = await log(session, "abnormal_item", f"{check_id}/{row}", "answered", who,
                         {"answer": code, "previous": item.answer})
    await _progressed(session, check_id, title, item.school_code, sequence)
    return {"check_id": check_id, "row": row, "answer": code}


def item_scope(who: Principal):
    if who.school_code:
        return A.school_code == who.school_code
    prefix = who.region_prefix or ""
    return func.left(A.county, len(prefix)) == prefix if prefix else A.row.is_(None)


async def summary(session: AsyncSession, who: Principal, check_id: str, today: date) -> dict:
    """汇总表: per county in the caller's jurisdiction, records, answered, each answer's count, and
    the unanswered ones once the check's deadline has passed."""
    due = await deadline(session, "abnormal_check", check_id)
    rows = await session.execute(select(A.county, A.answer, func.count()).where(A.check_id == check_id, item_scope(who))
                                 .group_by(A.county, A.answer).order_by(A.county))
    table: dict[str, dict] = {}
    for county, code, n in rows:
        entry = table.setdefault(county, {"county": county, "records": 0, "answered": 0, **dict.fromkeys(CHECK_ANSWERS, 0)})
        entry["records"] += n
        if code:
            entry["answered"] += n
            entry[code] += n
    late = due is not None and today > due
    for entry in table.values():
        entry["overdue"] = entry["records"] - entry["answered"] if late else 0
    return {"check_id": check_id, "due": due, "counties": list(table.values())}


async def items(session: AsyncSession, who: Principal, check_id: str | None, cipher: FieldCipher) -> list[dict]:
    stmt = select(tables.abnormal_items).where(item_scope(who))
    if check_id:
        stmt = stmt.where(A.check_id == check_id)
    rows = await session.execute(stmt.order_by(A.check_id, A.row))
    return [{"check_id": r.check_id, "row": r.row, "school_code": r.school_code, "county": r.county,
             "record": _shown(r.record, f"{r.check_id}/{r.row}", cipher), "answer": r.answer,
             "answer_text": r.answer_text} for r in rows]


def resealed(row: dict, cipher: FieldCipher) -> dict:
    """A stored item's record sealed again under the ring's first key (``python -m verification rekey``)."""
    owner = f"{row['check_id']}/{row['row']}"
    return {"record": cipher.seal_student(cipher.open_student(row["record"], owner), owner)}
