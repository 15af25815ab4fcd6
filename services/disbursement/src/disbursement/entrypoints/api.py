"""HTTP API of disbursement (统一办卡 集中支付): cards, payment batches, bank files, returns."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from aid_chassis.app import create_app, fields, session
from aid_chassis.auth import BUREAUS, Principal, Role, allow
from aid_chassis.errors import refusals as http_refusals
from aid_chassis.fields import FieldCipher
from aid_chassis.freetext import FreeText
from aid_chassis.masking import mask_id_number, mask_name
from aid_chassis.params import INT4_MAX
from aid_chassis.uploads import UploadRefused
from disbursement.adapters import tables
from disbursement.domain.bankfile import FileRefused
from disbursement.domain.cards import CardRefused
from disbursement.service_layer import accounts, batches, notify
from disbursement.settings import Settings

router = APIRouter(tags=["资金发放 disbursement"])
AUDITORS = allow(*BUREAUS)
CARD_KEEPERS = allow(Role.SCHOOL, Role.COUNTY_BUREAU)
CONFLICTS = frozenset({"batch_stopped", "not_stopped"})


def refusals():
    return http_refusals((CardRefused, FileRefused, batches.BatchRefused, UploadRefused), conflicts=CONFLICTS,
                         statuses={"not_your_student": 404, "shredded": 410})


class CardBody(BaseModel):
    id_number: str = Field(max_length=18)
    bank: str = Field(description="ICBC, ABC, BOC, CCB, BOCOM, PSBC, RCC")
    card_number: str = Field(max_length=23)
    phone: str | None = Field(None, description="the parent's mobile, for the payment notice (发放告知)")


class BatchBody(BaseModel):
    list_id: str | None = None
    limit: int | None = Field(None, ge=1, le=INT4_MAX)


class Note(BaseModel):
    note: FreeText = Field(min_length=1, max_length=200)


def _settings(request: Request) -> Settings:
    return request.app.state.settings


@router.get("/payments", summary="Payments in my jurisdiction (发放记录)")
async def list_payments(list_id: str | None = None, status: str | None = None,
                        limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0, le=INT4_MAX), db=Depends(session),
                        who: Principal = Depends(allow(*BUREAUS, Role.OPERATOR)),
                        opener: FieldCipher = Depends(fields)) -> dict:
    p, s = tables.payments.c, tables.payment_states.c
    stmt = select(tables.payments, *(c for c in tables.payment_states.c if c.name != "payment_id")).join(
        tables.payment_states, s.payment_id == p.payment_id)
    if who.region_prefix:
        stmt = stmt.where(func.left(p.region, len(who.region_prefix)) == who.region_prefix)
    for column, value in ((p.list_id, list_id), (s.status, status)):
        if value:
            stmt = stmt.where(column == value)
    total = (await db.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = await db.execute(stmt.order_by(p.created_at, p.payment_id).limit(limit).offset(offset))
    return {"total": total, "items": [
        {"payment_id": r.payment_id, "list_id": r.list_id, "programme": r.programme_name, "period": r.period,
         "amount_fen": r.amount_fen, "status": r.status, "batch_id": r.batch_id, "attempts": r.attempts,
         "failure_code": r.failure_code, "paid_on": r.paid_on, "bank_reference": r.bank_reference,
         **_masked(opener.shown_student(r.student, r.student_key))} for r in rows]}


def _masked(student: dict) -> dict:
    return {"name": mask_name(student["name"]), "id_number": mask_id_number(student["id_number"])}


@router.post("/accounts", summary="Register or replace a student's bank card (登记银行卡)")
async def register_card(body: CardBody, request: Request, db=Depends(session),
                        who: Principal = Depends(CARD_KEEPERS)) -> dict:
    s = _settings(request)
    with refusals():
        async with db.begin():
            return await accounts.register(db, who, accounts.Card(body.id_number, body.bank, body.card_number,
                                                                  body.phone), secret=s.pseudonym_secret,
                                           cipher=s.cipher())


@router.post("/accounts/import", summary="Import cards in bulk: 身份证号,开户银行,银行卡号[,手机号]")
async def import_cards(request: Request, file: UploadFile = File(...), db=Depends(session),
                       who: Principal = Depends(CARD_KEEPERS)) -> dict:
    s = _settings(request)
    with refusals():
        async with db.begin():
            return await accounts.import_cards(db, who, await file.read(), secret=s.pseudonym_secret, cipher=s.cipher())


@router.post("/batches", summary="Collect ready payments into a batch (生成代发批次)", status_code=201)
async def create_batch(body: BatchBody, request: Request, db=Depends(session), who: Principal = Depends(AUDITORS)) -> dict:
    with refusals():
        async with db.begin():
            return await batches.create_batch(db, who, list_id=body.list_id,
                                              limit=body.limit or _settings(request).batch_max)


@router.get("/batches", summary="Batches of my jurisdiction")
async def list_batches(db=Depends(session), who: Principal = Depends(AUDITORS)) -> dict:
    b = tables.batches.c
    prefix = who.region_prefix or "-"
    rows = await db.execute(select(tables.batches).where(func.left(b.region_prefix, len(prefix)) == prefix)
                            .order_by(b.created_at))
    keys = ("batch_id", "region_prefix", "status", "count", "total_fen", "problems", "created_at", "exported_at")
    return {"items": [{k: getattr(r, k) for k in keys} for r in rows]}


@router.get("/batches/{batch_id}/file", summary="The bank payment file (CSV or fixed-width)")
async def bank_file(batch_id: str, request: Request, format: Literal["csv", "fixed"] = "csv", db=Depends(session),
                    who: Principal = Depends(AUDITORS)) -> StreamingResponse:
    with refusals():
        async with db.begin():
            settings = _settings(request)
            batch, lines = await batches.export_lines(db, who, batch_id, settings.cipher(), settings.field_cipher())
    name = f"{batch_id}.{'txt' if format == 'fixed' else 'csv'}"
    return StreamingResponse(batches.bank_file(batch, lines, format), media_type="application/octet-stream",
                             headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@router.post("/returns", summary="Import the bank's return file (回盘文件); reconciled against its batch")
async def import_return(file: UploadFile = File(...), db=Depends(session), who: Principal = Depends(AUDITORS)):
    with refusals():
        async with db.begin():
            report = await batches.import_return(db, who, await file.read())
    if report.get("stopped"):
        return JSONResponse({"detail": {"code": "reconciliation_mismatch", **report}}, status_code=409)
    return report


@router.post("/batches/{batch_id}/resume", summary="Resume a stopped batch after a person looked at it")
async def resume(batch_id: str, body: Note, db=Depends(session), who: Principal = Depends(AUDITORS)) -> dict:
    with refusals():
        async with db.begin():
            return await batches.resume(db, who, batch_id, body.note)


@router.get("/notifications", summary="Payment notices and their delivery (发放告知)")
async def notifications(payment_id: str | None = None, db=Depends(session),
                        who: Principal = Depends(allow(*BUREAUS, Role.OPERATOR)),
                        opener: FieldCipher = Depends(fields)) -> dict:
    n, p = tables.notifications.c, tables.payments.c
    stmt = select(n.payment_id, n.message, n.status, n.channel, n.attempts, n.last_error, n.sent_at, n.student_key,
                  p.student).join(tables.payments, p.payment_id == n.payment_id)
    if who.region_prefix:
        stmt = stmt.where(func.left(p.region, len(who.region_prefix)) == who.region_prefix)
    if payment_id:
        stmt = stmt.where(n.payment_id == payment_id)
    rows = await db.execute(stmt.order_by(n.id).limit(1000))
    return {"items": [{**{k: v for k, v in r._mapping.items() if k not in ("student", "student_key")},
                       "message": notify.notice_text(r.message, r.student, r.student_key, opener)} for r in rows]}


def create(settings: Settings):
    return create_app(settings, title="disbursement 资金发放", routers=[router], outbox_table=tables.chassis.outbox)
