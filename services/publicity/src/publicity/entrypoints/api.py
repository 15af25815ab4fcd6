"""HTTP API of publicity: aid lists (资助名单), approval, and the public notice (公示)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from aid_chassis.app import create_app, session
from aid_chassis.auth import BUREAUS, Principal, Role, allow, public
from aid_chassis.masking import mask_id_number, mask_name
from publicity.adapters import tables
from publicity.domain.programmes import PROGRAMMES, ListRefused, programme
from publicity.service_layer import handlers
from publicity.settings import Settings

router = APIRouter(tags=["资助名单与公示 aid lists and notice"])


class NewList(BaseModel):
    programme_code: str
    period: str = Field(pattern=r"^\d{4}-(spring|autumn|\d{2})$", examples=["2026-autumn"])


@router.get("/programmes", summary="Aid programmes (资助项目)", dependencies=[Depends(public)])
async def programmes() -> list[dict]:
    return [{"code": p.code, "name": p.name, "stage": p.stage.value, "amount_fen": p.amount_fen}
            for p in PROGRAMMES.values()]


@router.get("/lists/proposal", summary="The proposed list: my verified students who qualify (拟资助名单)")
async def proposal(programme_code: str, db=Depends(session), who: Principal = Depends(allow(Role.SCHOOL))) -> dict:
    try:
        rows = await handlers.propose(db, school_code=who.school_code or "", programme_code=programme_code)
    except ListRefused as exc:
        raise HTTPException(422, str(exc)) from None
    amount = programme(programme_code).amount_fen
    return {"programme_code": programme_code, "students": len(rows), "amount_fen_total": amount * len(rows),
            "items": [{"name": r.student["name"], "id_number": mask_id_number(r.student["id_number"]),
                       "status": r.status, "amount_fen": amount} for r in rows]}


@router.post("/lists", summary="Build my school's aid list from verified students")
async def create_list(body: NewList, db=Depends(session), who: Principal = Depends(allow(Role.SCHOOL))) -> dict:
    try:
        async with db.begin():
            return await handlers.create_list(db, school_code=who.school_code or "", actor=who.subject,
                                              programme_code=body.programme_code, period=body.period)
    except ListRefused as exc:
        raise HTTPException(422, str(exc)) from None


@router.post("/lists/{list_id}/approve", summary="Approve and publish a list for public notice (审核并公示)")
async def approve(list_id: str, request: Request, db=Depends(session),
                  who: Principal = Depends(allow(*BUREAUS))) -> dict:
    settings: Settings = request.app.state.settings
    try:
        async with db.begin():
            aid_list = await handlers.load_list(db, list_id)
            if not who.covers_region(aid_list.region):
                raise LookupError("没有这个资助名单 (no such aid list in your jurisdiction)")
            return await handlers.approve_and_publish(db, aid_list=aid_list, actor=who.subject,
                                                      working_days=settings.notice_working_days,
                                                      notice_seconds=settings.notice_seconds)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    except ListRefused as exc:
        raise HTTPException(409, str(exc)) from None


@router.get("/notices/{list_id}", summary="Public notice of an aid list (公示名单)", dependencies=[Depends(public)])
async def notice(list_id: str, db=Depends(session)) -> dict:
    a = tables.aid_lists.c
    aid_list = (await db.execute(select(tables.aid_lists).where(a.list_id == list_id,
                                                                a.status.in_(["published", "final"])))).first()
    if aid_list is None:
        raise HTTPException(404, "没有这个公示名单 (no such public notice)")
    entries = await db.execute(select(tables.list_entries).where(tables.list_entries.c.list_id == list_id))
    return {"list_id": list_id, "school_code": aid_list.school_code,
            "programme": programme(aid_list.programme_code).name, "period": aid_list.period,
            "status": aid_list.status, "notice_ends_at": aid_list.notice_ends_at,
            "students": [{"name": mask_name(e.student["name"]), "id_number": mask_id_number(e.student["id_number"]),
                          "amount_fen": e.amount_fen} for e in entries]}


def create(settings: Settings):
    return create_app(settings, title="publicity 资助公示", routers=[router], outbox_table=tables.chassis.outbox)
