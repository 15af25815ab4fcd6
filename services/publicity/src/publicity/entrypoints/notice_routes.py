"""The public notice (公示) and its objections (投诉举报); messages to schools."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from aid_chassis.app import fields, session
from aid_chassis.auth import Principal, public
from aid_chassis.fields import FieldCipher
from aid_chassis.freetext import FreeText
from aid_chassis.masking import mask_id_number, mask_name
from aid_chassis.params import INT4_MAX
from publicity.adapters import tables
from publicity.entrypoints.common import AUDITORS, SCHOOLS, refusals
from publicity.service_layer import objections
from publicity.service_layer.lists import audited_list
from publicity.service_layer import store
from publicity.service_layer.store import rules_for
from publicity.settings import Settings

notices = APIRouter(tags=["公示 public notice"])
bureau = APIRouter(tags=["异议处理 objections"])


class Objection(BaseModel):
    entry_no: int | None = Field(None, ge=1, le=INT4_MAX, description="公示名单上的序号; omit for the list as a whole")
    contact_name: str = Field(max_length=50)
    contact_phone: str = Field(max_length=20)
    text: FreeText = Field(max_length=1000)


class Decision(BaseModel):
    decision: Literal["uphold", "dismiss"]
    reason: FreeText = Field(max_length=200)


@notices.get("/notices", summary="A school's aid lists under public notice, or whose notice ended (公示名单)",
             dependencies=[Depends(public)])
async def notices_of_school(school_code: str = Query(..., pattern=r"^\d{10,12}$", description="学校代码"),
                            db=Depends(session)) -> dict:
    a = tables.aid_lists.c
    rows = (await db.execute(select(tables.aid_lists).where(a.school_code == school_code, a.status.in_(["published", "final"]))
                             .order_by(a.published_at.desc()).limit(50))).all()
    items = []
    for row in rows:
        rules = await rules_for(db, row.programme_code, row.period, row.rules_version)
        items.append({"list_id": row.list_id, "programme": rules.name, "period": row.period, "status": row.status,
                      "published_at": row.published_at, "notice_ends_at": row.notice_ends_at})
    return {"school_code": school_code, "items": items}


@notices.get("/notices/{list_id}", summary="Public notice of an aid list (公示名单)", dependencies=[Depends(public)])
async def notice(list_id: str, db=Depends(session), opener: FieldCipher = Depends(fields)) -> dict:
    a, e = tables.aid_lists.c, tables.list_entries.c
    aid_list = (await db.execute(select(tables.aid_lists).where(a.list_id == list_id,
                                                                a.status.in_(["published", "final"])))).first()
    with refusals():
        if aid_list is None:
            raise LookupError("没有这个公示名单 (no such public notice)")
        rules = await rules_for(db, aid_list.programme_code, aid_list.period, aid_list.rules_version)
    entries = await db.execute(select(tables.list_entries).where(e.list_id == list_id, e.state == "in")
                               .order_by(e.entry_no))
    return {"list_id": list_id, "school_code": aid_list.school_code, "programme": rules.name, "period": aid_list.period,
            "status": aid_list.status, "published_at": aid_list.published_at, "notice_ends_at": aid_list.notice_ends_at,
            "students": [{"entry_no": x.entry_no, **_masked(opener.shown_student(x.student, x.student_key)),
                          "amount_fen": x.amount_fen} for x in entries]}


def _masked(student: dict) -> dict:
    """A student as the public notice shows them: name and ID number masked."""
    return {"name": mask_name(student["name"]), "id_number": mask_id_number(student["id_number"])}


@notices.post("/notices/{list_id}/objections", summary="Object to a notice (投诉举报); contact details required",
              dependencies=[Depends(public)], status_code=201)
async def object_to(list_id: str, body: Objection, request: Request, db=Depends(session)) -> dict:
    settings: Settings = request.app.state.settings
    client = objections.client_hash(request.client.host if request.client else "-", settings.pseudonym_secret)
    with refusals():
        async with db.begin():
            return await objections.file_objection(db, list_id=list_id, entry_no=body.entry_no, name=body.contact_name,
                                                   phone=body.contact_phone, text=body.text, client=client,
                                                   per_hour=settings.objections_per_hour)


@bureau.get("/lists/{list_id}/objections", summary="Objections to a list, with contact details (调查用)")
async def list_objections(list_id: str, db=Depends(session), who: Principal = Depends(AUDITORS)) -> dict:
    with refusals():
        await audited_list(db, who, list_id)
    o = tables.objections.c
    rows = await db.execute(select(tables.objections).where(o.list_id == list_id).order_by(o.submitted_at))
    keys = ("objection_id", "entry_no", "contact_name", "contact_phone", "text", "submitted_at", "state",
            "decided_by", "decided_at", "decision_reason")
    return {"items": [{k: getattr(r, k) for k in keys} for r in rows]}


@bureau.post("/objections/{objection_id}/decide", summary="Uphold or dismiss an objection, with a reason")
async def decide(objection_id: str, body: Decision, db=Depends(session), who: Principal = Depends(AUDITORS)) -> dict:
    with refusals():
        async with db.begin():
            return await objections.decide(db, who, objection_id, body.decision, body.reason)


@bureau.get("/messages", summary="What my school has been told (upheld objections, returned lists)")
async def messages(db=Depends(session), who: Principal = Depends(SCHOOLS)) -> dict:
    """Reading changes nothing: a school marks what it was shown with ``POST /messages/read``."""
    rows = await store.messages(db, who.school_code or "")
    return {"items": [{"id": r.id, "list_id": r.list_id, "kind": r.kind, "message": r.message, "at": r.at,
                       "read": r.read} for r in rows], "unread": sum(not r.read for r in rows)}


class Seen(BaseModel):
    ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(
        min_length=1, max_length=1000, description="the ids of the messages the school was shown")


@bureau.post("/messages/read", summary="Mark the messages my school was shown as read (已读)")
async def mark_read(body: Seen, db=Depends(session), who: Principal = Depends(SCHOOLS)) -> dict:
    async with db.begin():
        return {"marked": await store.mark_read(db, who.school_code or "", body.ids)}


routers = [notices, bureau]
