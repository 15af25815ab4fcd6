"""HTTP API of publicity: programmes, aid lists (资助名单) and their audit."""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from aid_chassis.app import create_app, fields, session
from aid_chassis.auth import Principal, Role, public
from aid_chassis.fields import FieldCipher
from aid_chassis.freetext import FreeText
from aid_chassis.masking import mask_id_number
from aid_chassis.params import RowNumber
from aid_contracts.events import Category, Stage
from publicity.adapters import tables
from publicity.domain.programmes import Period, Rules, rules_json
from publicity.entrypoints import notice_routes
from publicity.entrypoints.common import AUDITORS, PROVINCE, SCHOOLS, SCHOOLS_AND_AUDITORS, calendar, refusals
from publicity.service_layer import lists, programmes
from publicity.service_layer.store import rules_for, versions
from publicity.settings import Settings

router = APIRouter(tags=["资助名单 aid lists"])
PERIOD = r"^\d{4}-(spring|autumn|0[1-9]|1[0-2])$"


class NewList(BaseModel):
    programme_code: str
    period: str = Field(pattern=PERIOD, examples=["2026-autumn", "2026-11"])


class Reason(BaseModel):
    reason: FreeText = Field(max_length=200)


class ProgrammeBody(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    stage: Stage
    monthly: bool = Field(description="paid monthly (中职) or per term")
    amount_fen: int = Field(gt=0, description="per period, in fen (分)")
    categories: list[Category] = Field(min_length=1)
    amount_by_category: dict[Category, int] = Field(default_factory=dict)
    pay_months: list[int] = Field(default=[1, 2, 3, 4, 5, 6, 9, 10, 11, 12])
    effective_from: str = Field(pattern=PERIOD, description="the first period the version applies to")


def _programme(rules: Rules) -> dict:
    return {"code": rules.code, "version": rules.version, **rules_json(rules)}


@router.get("/programmes", summary="Aid programmes in force (资助项目)", dependencies=[Depends(public)])
async def list_programmes(db=Depends(session)) -> list[dict]:
    return [_programme(r) for r in await programmes.current(db, date.today())]


@router.get("/programmes/{code}/versions", summary="Every version of a programme's rules", dependencies=[Depends(public)])
async def programme_versions(code: str, db=Depends(session)) -> list[dict]:
    with refusals():
        return [_programme(r) for r in await versions(db, code)]


@router.put("/programmes/{code}", summary="A new version of a programme, from a later period (省级)")
async def put_programme(code: str, body: ProgrammeBody, db=Depends(session), who: Principal = Depends(PROVINCE)) -> dict:
    rules = Rules(code, body.name, body.stage, body.monthly, body.amount_fen, frozenset(c.value for c in body.categories),
                  {c.value: v for c, v in body.amount_by_category.items()}, tuple(body.pay_months), body.effective_from)
    with refusals():
        async with db.begin():
            return _programme(await programmes.add_version(db, who, rules, date.today()))


@router.get("/lists/proposal", summary="The proposed list: my verified students who qualify (拟资助名单)")
async def proposal(programme_code: str, period: str | None = None, db=Depends(session),
                   who: Principal = Depends(SCHOOLS), opener: FieldCipher = Depends(fields)) -> dict:
    with refusals():
        rules = await rules_for(db, programme_code, period or Period.of_month(date.today()).text)
        rows = await lists.propose(db, school_code=who.school_code or "", rules=rules)
    return {"programme_code": programme_code, "students": len(rows), "amount_fen_total": sum(a for _, a in rows),
            "items": [{**_shown(opener.shown_student(r.student, r.student_key)), "status": r.status, "amount_fen": a}
                      for r, a in rows]}


@router.post("/lists", summary="Build my school's draft list from verified students", status_code=201)
async def create_list(body: NewList, db=Depends(session), who: Principal = Depends(SCHOOLS)) -> dict:
    with refusals():
        async with db.begin():
            return await lists.create_list(db, who, programme_code=body.programme_code, period=body.period)


def _list_scope(who: Principal):
    a = tables.aid_lists.c
    if who.role is Role.SCHOOL:
        return a.school_code == (who.school_code or "")
    prefix = who.region_prefix or "-"
    return func.left(a.region, len(prefix)) == prefix


@router.get("/lists", summary="Aid lists of my school or jurisdiction")
async def list_lists(status: Literal["draft", "submitted", "published", "final"] | None = None, db=Depends(session),
                     who: Principal = Depends(SCHOOLS_AND_AUDITORS)) -> dict:
    a = tables.aid_lists.c
    stmt = select(tables.aid_lists).where(_list_scope(who)).order_by(a.created_at)
    rows = (await db.execute(stmt.where(a.status == status) if status else stmt)).all()
    return {"total": len(rows), "items": [_summary(r) for r in rows]}


def _summary(row) -> dict:
    return {k: getattr(row, k) for k in ("list_id", "school_code", "region", "programme_code", "rules_version", "period",
                                         "status", "audit_reason", "published_at", "notice_ends_at", "finalised_at")}


@router.get("/lists/{list_id}", summary="One list with every entry and its state")
async def get_list(list_id: str, db=Depends(session), who: Principal = Depends(SCHOOLS_AND_AUDITORS),
                   opener: FieldCipher = Depends(fields)) -> dict:
    a, e = tables.aid_lists.c, tables.list_entries.c
    row = (await db.execute(select(tables.aid_lists).where(a.list_id == list_id, _list_scope(who)))).first()
    with refusals():
        if row is None:
            raise LookupError(f"没有这个资助名单 (no aid list {list_id} you may see)")
    entries = await db.execute(select(tables.list_entries).where(e.list_id == list_id).order_by(e.entry_no))
    return {**_summary(row), "entries": [
        {"entry_no": x.entry_no, **_shown(opener.shown_student(x.student, x.student_key)),
         "amount_fen": x.amount_fen, "state": x.state, "state_reason": x.state_reason} for x in entries]}


def _shown(student: dict) -> dict:
    """A student as a school or bureau sees them on a list: the name, the ID number masked."""
    return {"name": student["name"], "id_number": mask_id_number(student["id_number"])}


@router.post("/lists/{list_id}/entries/{entry_no}/remove", summary="Take a student off my draft list, with a reason")
async def remove_entry(list_id: str, entry_no: RowNumber, body: Reason, db=Depends(session),
                       who: Principal = Depends(SCHOOLS)) -> dict:
    with refusals():
        async with db.begin():
            return await lists.remove_entry(db, who, list_id, entry_no, body.reason)


@router.post("/lists/{list_id}/submit", summary="Submit my list for audit (上报); eligibility is re-checked")
async def submit(list_id: str, db=Depends(session), who: Principal = Depends(SCHOOLS)) -> dict:
    with refusals():
        async with db.begin():
            return await lists.submit(db, who, list_id)


@router.post("/lists/{list_id}/approve", summary="Approve a submitted list and publish it (审核通过并公示)")
async def approve(list_id: str, request: Request, db=Depends(session), who: Principal = Depends(AUDITORS)) -> dict:
    settings: Settings = request.app.state.settings
    with refusals():
        async with db.begin():
            return await lists.approve(db, who, list_id, calendar=calendar(settings.calendar_dir),
                                       working_days=settings.notice_working_days, notice_seconds=settings.notice_seconds)


@router.post("/lists/{list_id}/return", summary="Return a submitted list to the school with a reason (退回)")
async def return_list(list_id: str, body: Reason, db=Depends(session), who: Principal = Depends(AUDITORS)) -> dict:
    with refusals():
        async with db.begin():
            return await lists.return_list(db, who, list_id, body.reason)


def create(settings: Settings):
    return create_app(settings, title="publicity 资助公示", outbox_table=tables.chassis.outbox,
                      routers=[router, *notice_routes.routers])
