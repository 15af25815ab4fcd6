"""HTTP API of query: jurisdiction views, student timelines, and the public personal lookup (个人查询)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import select

from aid_chassis.app import create_app, session
from aid_chassis.auth import BUREAUS, Principal, Role, allow
from aid_chassis.masking import mask_id_number
from query.adapters import tables
from query.domain.views import sees_id_numbers
from query.entrypoints import lookup_routes, view_routes
from query.settings import Settings

router = APIRouter(tags=["查询 query"])


@router.get("/students/{key}/timeline", summary="A student's timeline: matched → verified → published → paid")
async def timeline(key: str, db=Depends(session), who: Principal = Depends(allow(*BUREAUS, Role.SCHOOL))) -> dict:
    student = (await db.execute(select(tables.students).where(tables.students.c.student_key == key))).first()
    if student is None or not (who.is_school(student.school_code) or who.covers_region(student.enrolment_region)
                               or who.covers_region(student.household_region)):
        raise HTTPException(404, "没有这个学生 (no such student in your jurisdiction)")
    t = tables.timeline.c
    events = await db.execute(select(tables.timeline).where(t.student_key == key).order_by(t.occurred_at, t.event_id))
    a = tables.aid_records.c
    aid = await db.execute(select(tables.aid_records).where(a.student_key == key).order_by(a.published_at))
    return {"student_key": key, "name": student.name,
            "id_number": student.id_number if sees_id_numbers(who) else mask_id_number(student.id_number),
            "school_code": student.school_code, "status": student.status, "categories": list(student.categories),
            "events": [{"type": e.event_type, "at": e.occurred_at, **e.summary} for e in events],
            "aid": [{"list_id": r.list_id, "programme": r.programme_name, "period": r.period,
                     "amount_fen": r.amount_fen, "status": r.status, "paid_on": r.paid_on} for r in aid]}


def create(settings: Settings):
    app = create_app(settings, title="query 资助查询", outbox_table=tables.chassis.outbox,
                     routers=[view_routes.router, router, lookup_routes.router], driver_pool=True)
    app.state.lookup_limits = lookup_routes.limiters(settings)
    return lookup_routes.LookupFront(app)
