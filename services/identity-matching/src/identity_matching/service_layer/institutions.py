"""Institutions (机构): the schools, by stage. The roster brings the schools it enrols; a county
bureau adds a school the roster lacks (a preschool without a code, FAQ Q5) — its code is the
bureau's 8 digits (county code + "00") and a 4-digit sequence — names its schools, and may remove
one that has no students (FAQ Q21). Every change is audited and published (``institution-changed``)."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis import bulk, outbox
from aid_chassis.auth import Principal
from aid_contracts import Envelope, InstitutionChanged
from identity_matching.adapters import tables
from identity_matching.service_layer.trail import log

I, R = tables.institutions.c, tables.roster_schools.c
SOURCE = "identity-matching"


class InstitutionRefused(ValueError):
    """A change the rules do not allow, with a code and a message a bureau official understands."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _event(row) -> tuple[str, Envelope]:
    event = InstitutionChanged(code=row["code"], stage=row["stage"], name=row["name"], county=row["county"],
                               source=row["source"], active=row["active"], changed_at=row["changed_at"])
    return event.TOPIC, Envelope.wrap(event, source=SOURCE, key=row["code"])


async def _publish(session: AsyncSession, rows) -> None:
    await outbox.add_many(session, tables.chassis.outbox, [_event(r) for r in rows])


async def from_roster(session: AsyncSession, students: pl.DataFrame) -> int:
    """The roster's schools not known yet become institutions, and removed ones it enrols again come
    back (known, active ones are left as they are: their names stay). A new school's county is the
    enrolment region of most of its students (of those tied, the lowest code)."""
    counts = students.group_by("school_code", "stage", "enrolment_region").len("students")
    await _count_students(session, counts)
    schools = (counts.sort("students", "enrolment_region", descending=[True, False])
               .unique(subset=["school_code", "stage"], keep="first", maintain_order=True)
               .select(code="school_code", stage="stage", county="enrolment_region"))
    new = (await session.execute(FROM_ROSTER, {"schools": schools.write_json()})).mappings().all()
    await _publish(session, sorted(new, key=lambda row: (row["code"], row["stage"])))
    return len(new)


FROM_ROSTER = text("""
    INSERT INTO institutions AS i (code, stage, county, source, changed_by)
    SELECT code, stage, county, 'roster', 'system' FROM json_to_recordset(CAST(:schools AS json))
                                                   AS s(code text, stage text, county text)
    ON CONFLICT (code, stage) DO UPDATE SET active = true, changed_by = 'system', changed_at = now()
    WHERE NOT i.active
    RETURNING i.*""")  # one statement for a province's schools (a VALUES list of 5,000 took 0.5 s to compile)


def _checked_name(name: str) -> str:
    name = name.strip()
    if not 0 < len(name) <= 100 or not name.isprintable():
        raise InstitutionRefused("bad_name", "学校名称须为 1-100 个可打印字符 (the name must be 1-100 printable characters)")
    return name


async def add_school(session: AsyncSession, who: Principal, *, name: str, stage: str) -> dict:
    """A county bureau's new school: code = the bureau's 8 digits + the next free 4-digit number."""
    county = who.region_prefix or ""
    if len(county) != 6:
        raise InstitutionRefused("no_county", "账号未设置所属区县 (the account has no county code)")
    prefix = county + "00"
    name = _checked_name(name)
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext("institution-codes:" + prefix))))
    last = await session.scalar(select(func.max(I.code)).where(I.code.like(prefix + "____"), func.length(I.code) == 12))
    number = int(last[-4:]) + 1 if last else 1
    if number > 9999:
        raise InstitutionRefused("codes_exhausted", "本县学校代码已用完 (the county has no free school codes)")
    row = {"code": f"{prefix}{number:04d}", "stage": stage, "name": name, "county": county, "source": "added",
           "active": True, "changed_by": who.subject, "changed_at": datetime.now(UTC)}
    await session.execute(pg_insert(tables.institutions).values(row))
    await log(session, "institution", f"{row['code']}/{stage}", "added", who, {"name": name, "stage": stage})
    await _publish(session, [row])
    return _shown(row, students=0)


async def _own(session: AsyncSession, who: Principal, code: str, stage: str):
    row = (await session.execute(select(tables.institutions).where(I.code == code, I.stage == stage)
                                 .with_for_update())).mappings().first()
    if row is None or not row["active"] or not who.covers_region(row["county"]):
        raise LookupError(f"辖区内没有这个机构 (no institution {code}/{stage} in your county)")
    return row


async def _count_students(session: AsyncSession, counts: pl.DataFrame) -> None:
    """The roster's students per school, stage and enrolment region (replacing the last roster's)."""
    await session.execute(delete(tables.roster_schools))
    await bulk.copy_in(session, tables.roster_schools.name, counts)


async def _students(session: AsyncSession, code: str, stage: str) -> int:
    return await session.scalar(select(func.coalesce(func.sum(R.students), 0)).where(R.school_code == code,
                                                                                     R.stage == stage))


async def rename(session: AsyncSession, who: Principal, code: str, stage: str, name: str) -> dict:
    row = await _own(session, who, code, stage)
    changed = {**row, "name": _checked_name(name), "changed_by": who.subject, "changed_at": datetime.now(UTC)}
    await session.execute(update(tables.institutions).where(I.code == code, I.stage == stage).values(
        name=changed["name"], changed_by=who.subject, changed_at=changed["changed_at"]))
    await log(session, "institution", f"{code}/{stage}", "renamed", who, {"name": changed["name"], "was": row["name"]})
    await _publish(session, [changed])
    return _shown(changed, students=await _students(session, code, stage))


async def remove(session: AsyncSession, who: Principal, code: str, stage: str) -> dict:
    """Remove a school without students (a school with students cannot be deleted, FAQ Q21)."""
    row = await _own(session, who, code, stage)
    students = await _students(session, code, stage)
    if students:
        raise InstitutionRefused("has_students", f"该学校有 {students} 名在籍学生，不能删除 (the school has {students} "
                                                 "students on the roster: it cannot be removed)")
    changed = {**row, "active": False, "changed_by": who.subject, "changed_at": datetime.now(UTC)}
    await session.execute(update(tables.institutions).where(I.code == code, I.stage == stage).values(
        active=False, changed_by=who.subject, changed_at=changed["changed_at"]))
    await log(session, "institution", f"{code}/{stage}", "removed", who, {"name": row["name"]})
    await _publish(session, [changed])
    return _shown(changed, students=0)


async def listing(session: AsyncSession, who: Principal, *, stage: str | None, removed: bool) -> list[dict]:
    """The schools in the caller's jurisdiction with their students on the roster, by code."""
    prefix = who.region_prefix or "-"
    counts = (select(R.school_code, R.stage, func.sum(R.students).label("students"))
              .where(R.enrolment_region.startswith(prefix)).group_by(R.school_code, R.stage).subquery())
    stmt = (select(tables.institutions, func.coalesce(counts.c.students, 0).label("students"))
            .outerjoin(counts, (counts.c.school_code == I.code) & (counts.c.stage == I.stage))
            .where(I.county.startswith(prefix)).order_by(I.code, I.stage))
    if stage:
        stmt = stmt.where(I.stage == stage)
    if not removed:
        stmt = stmt.where(I.active)
    return [_shown(r, students=r["students"]) for r in (await session.execute(stmt)).mappings()]


def _shown(row, *, students: int) -> dict:
    return {"code": row["code"], "stage": row["stage"], "name": row["name"], "county": row["county"],
            "source": row["source"], "active": row["active"], "students": students}
