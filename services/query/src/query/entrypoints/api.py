"""HTTP API of query: student timelines for bureaus and the public personal lookup (个人查询)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from aid_chassis.app import create_app, session
from aid_chassis.auth import BUREAUS, Principal, Role, allow, public
from aid_chassis.masking import mask_id_number, mask_name
from aid_contracts import student_key
from query.adapters import tables
from query.settings import Settings

router = APIRouter(tags=["查询 query"])
NOT_FOUND = "未查询到资助信息，请核对姓名、身份证号和学校 (no record matches this name, ID number and school)"


class Lookup(BaseModel):
    name: str = Field(min_length=1, max_length=50)
    id_number: str = Field(min_length=15, max_length=40)
    school_code: str = Field(min_length=1, max_length=20)


@router.get("/students/{key}/timeline", summary="A student's timeline: matched → verified → published → paid")
async def timeline(key: str, db=Depends(session), who: Principal = Depends(allow(*BUREAUS, Role.OPERATOR))) -> dict:
    student = (await db.execute(select(tables.students).where(tables.students.c.student_key == key))).first()
    if student is None or not (who.role is Role.OPERATOR or who.covers_region(student.enrolment_region)
                               or who.covers_region(student.household_region)):
        raise HTTPException(404, "没有这个学生 (no such student in your jurisdiction)")
    t = tables.timeline.c
    events = await db.execute(select(tables.timeline).where(t.student_key == key).order_by(t.occurred_at))
    return {"student_key": key, "name": mask_name(student.name), "id_number": mask_id_number(student.id_number),
            "school_code": student.school_code, "status": student.status,
            "events": [{"type": e.event_type, "at": e.occurred_at, **e.summary} for e in events]}


@router.post("/public/lookup", summary="Personal lookup: name + ID number + school (个人资助查询)",
             dependencies=[Depends(public)])
async def lookup(body: Lookup, request: Request, db=Depends(session)) -> dict:
    """All three must match; a wrong name and an unknown ID get the same answer."""
    settings: Settings = request.app.state.settings
    key = student_key(body.id_number, settings.pseudonym_secret)
    student = (await db.execute(select(tables.students).where(tables.students.c.student_key == key))).first()
    a = tables.aid_records.c
    records = (await db.execute(select(tables.aid_records).where(a.student_key == key)
                                .order_by(a.published_at))).all()
    if student is None or student.name != body.name.strip() or student.school_code != body.school_code.strip():
        raise HTTPException(404, NOT_FOUND)
    return {"name": mask_name(student.name), "id_number": mask_id_number(student.id_number),
            "school_code": student.school_code,
            "aid": [{"programme": r.programme_name, "period": r.period, "amount_fen": r.amount_fen,
                     "amount_yuan": f"{r.amount_fen / 100:.2f}", "status": r.status, "paid_on": r.paid_on}
                    for r in records]}


def create(settings: Settings):
    return create_app(settings, title="query 资助查询", routers=[router], outbox_table=tables.chassis.outbox)
