"""HTTP API of reporting: progress in a jurisdiction (资助工作进度)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends
from sqlalchemy import Integer, cast, func, select

from aid_chassis.app import create_app, session
from aid_chassis.auth import BUREAUS, Principal, Role, allow
from reporting.adapters import tables
from reporting.settings import Settings

router = APIRouter(tags=["统计 reporting"])
p = tables.progress.c


@router.get("/progress", summary="Progress by county on one dimension (按学籍/户籍统计进度)")
async def progress(dimension: Literal["enrolment", "household"] = "enrolment", db=Depends(session),
                   who: Principal = Depends(allow(*BUREAUS, Role.OPERATOR))) -> dict:
    region = p.enrolment_region if dimension == "enrolment" else p.household_region
    stmt = select(
        region.label("region"),
        func.count().filter(p.matched).label("matched"),
        func.count().filter(p.matched, p.verification.in_(["verified_unchanged", "verified_updated"])).label("verified"),
        func.count().filter(p.verification == "invalid").label("invalid"),
        func.count().filter(p.published).label("published"),
        func.sum(cast(p.paid_count > 0, Integer)).label("paid"),
        func.coalesce(func.sum(p.paid_fen), 0).label("paid_fen"),
    ).group_by(region).order_by(region)
    if who.region_prefix:
        stmt = stmt.where(region.startswith(who.region_prefix))
    rows = [dict(r._mapping) for r in await db.execute(stmt)]
    totals = {k: sum(int(r[k] or 0) for r in rows) for k in ("matched", "verified", "invalid", "published", "paid", "paid_fen")}
    return {"dimension": dimension, "regions": rows, "totals": totals}


def create(settings: Settings):
    return create_app(settings, title="reporting 统计报表", routers=[router], outbox_table=tables.chassis.outbox)
