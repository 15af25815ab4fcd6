"""HTTP API of disbursement: payments in a bureau's jurisdiction (发放记录)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from sqlalchemy import func, select

from aid_chassis.app import create_app, session
from aid_chassis.auth import BUREAUS, Principal, Role, allow
from aid_chassis.masking import mask_id_number, mask_name
from disbursement.adapters import tables
from disbursement.settings import Settings

router = APIRouter(prefix="/payments", tags=["资金发放 payments"])


@router.get("", summary="Payments in my jurisdiction (发放记录)")
async def list_payments(list_id: str | None = None, limit: int = Query(100, ge=1, le=1000),
                        offset: int = Query(0, ge=0), db=Depends(session),
                        who: Principal = Depends(allow(*BUREAUS, Role.OPERATOR))) -> dict:
    p = tables.payments.c
    stmt = select(tables.payments)
    if who.region_prefix:
        stmt = stmt.where(p.student["enrolment_region"].astext.startswith(who.region_prefix))
    if list_id:
        stmt = stmt.where(p.list_id == list_id)
    total = (await db.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = await db.execute(stmt.order_by(p.created_at, p.payment_id).limit(limit).offset(offset))
    return {"total": total, "items": [
        {"payment_id": r.payment_id, "list_id": r.list_id, "programme": r.programme_name, "period": r.period,
         "amount_fen": r.amount_fen, "status": r.status, "paid_on": r.paid_on, "bank_reference": r.bank_reference,
         "name": mask_name(r.student["name"]), "id_number": mask_id_number(r.student["id_number"])}
        for r in rows]}


def create(settings: Settings):
    return create_app(settings, title="disbursement 资金发放", routers=[router], outbox_table=tables.chassis.outbox)
