"""HTTP API of query: jurisdiction views, student timelines, and the public personal lookup (个人查询)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select

from aid_chassis.app import create_app, fields, session
from aid_chassis.auth import BUREAUS, Principal, Role, allow
from aid_chassis.fields import FieldCipher
from aid_chassis.freetext import FreeText
from aid_chassis.masking import mask_id_number
from query.adapters import tables
from query.domain import readmodel
from query.entrypoints import lookup_routes, view_routes
from query.service_layer.trail import log
from query.settings import Settings

router = APIRouter(tags=["查询 query"])


async def _student_in_reach(db, who: Principal, key: str, *, household: bool = True):
    """The student, if the caller's school or jurisdiction holds them (by enrolment, or household
    too when ``household``); else 404."""
    student = (await db.execute(select(tables.students).where(tables.students.c.student_key == key))).first()
    if student is None or not (who.is_school(student.school_code) or who.covers_region(student.enrolment_region)
                               or (household and who.covers_region(student.household_region))):
        raise HTTPException(404, "没有这个学生 (no such student in your jurisdiction)")
    return student


@router.get("/students/{key}/timeline", summary="A student's timeline: matched → verified → published → paid")
async def timeline(key: str, db=Depends(session), who: Principal = Depends(allow(*BUREAUS, Role.SCHOOL)),
                   opener: FieldCipher = Depends(fields)) -> dict:
    student = await _student_in_reach(db, who, key)
    t = tables.timeline.c
    events = await db.execute(select(tables.timeline).where(t.student_key == key))  # readmodel.lines orders
    a = tables.aid_records.c
    aid = await db.execute(select(tables.aid_records).where(a.student_key == key).order_by(a.published_at))
    return {"student_key": key, "name": opener.shown(student.name, key, "name"),
            "id_number": mask_id_number(opener.shown(student.id_number, key, "id_number")),
            "school_code": student.school_code, "status": student.status, "categories": list(student.categories),
            "events": readmodel.lines(student.first_line, events),
            "aid": [{"list_id": r.list_id, "programme": r.programme_name, "period": r.period,
                     "amount_fen": r.amount_fen, "status": r.status, "paid_on": r.paid_on} for r in aid]}


class RevealReason(BaseModel):
    reason: FreeText = Field(max_length=200, description="why the whole ID number is needed (查看原因)")

    @field_validator("reason")
    @classmethod
    def _readable(cls, value: str) -> str:
        value = value.strip()
        if len(value) < 2 or not value.isprintable():
            raise ValueError("须写明查看原因（至少 2 个可打印字符）(give a reason of at least 2 printable characters)")
        return value


@router.post("/students/{key}/reveal", summary="The whole ID number, for a stated reason (查看完整身份证号, audited)")
async def reveal(key: str, body: RevealReason, db=Depends(session),
                 who: Principal = Depends(allow(Role.SCHOOL, Role.COUNTY_BUREAU)),
                 opener: FieldCipher = Depends(fields)) -> dict:
    """The school or county that verifies and pays (by enrolment) sees the whole number; who, why
    and when go to the chained audit log first."""
    student = await _student_in_reach(db, who, key, household=False)
    await log(db, "student", key, "reveal_id_number", who, {"reason": body.reason})
    await db.commit()
    return {"student_key": key, "id_number": opener.open_text(student.id_number, key, "id_number")}


def create(settings: Settings):
    app = create_app(settings, title="query 资助查询", outbox_table=tables.chassis.outbox,
                     routers=[view_routes.router, router, lookup_routes.router], driver_pool=True)
    app.state.lookup_limits = lookup_routes.limiters(settings)
    return lookup_routes.LookupFront(app)
