"""Routes of the jurisdiction views: a page, the drill-down summary, and exports (CSV, XLSX)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response, StreamingResponse

from aid_chassis import exports
from aid_chassis.app import fields, session
from aid_chassis.auth import BUREAUS, Principal, Role, allow
from aid_chassis.fields import FieldCipher
from aid_contracts import labels
from query.domain import views as v
from query.service_layer import views as sql
from query.service_layer.trail import log

router = APIRouter(prefix="/views", tags=["辖区查询 jurisdiction views"])
READERS = allow(*BUREAUS, Role.SCHOOL)
Category = Literal[tuple(labels.CATEGORY)]  # type: ignore[valid-type]
Stage = Literal[tuple(labels.STAGE)]  # type: ignore[valid-type]
Status = Literal[v.STATUSES]  # type: ignore[valid-type]
REGION = r"^\d{2}(\d{2}){0,2}$"
PERIOD = r"^\d{4}-(spring|autumn|\d{2})$"


@dataclass(frozen=True)
class Asked:
    view: str
    scope: v.Scope
    filters: sql.Filters


def asked(view: v.ViewName, who: Principal = Depends(READERS),
          dimension: Annotated[v.Dimension, Query(description="学籍所在地 enrolment or 户籍所在地 household")] = "enrolment",
          region: Annotated[str | None, Query(pattern=REGION, description="narrow to a city or county")] = None,
          school_code: Annotated[str | None, Query(max_length=20)] = None,
          category: Category | None = None, stage: Stage | None = None, status: Status | None = None,
          programme: Annotated[str | None, Query(max_length=60)] = None,
          period: Annotated[str | None, Query(pattern=PERIOD, description="e.g. 2026-autumn or 2026-11")] = None,
          ) -> Asked:
    """The view, the caller's jurisdiction narrowed by the filters, checked."""
    try:
        v.check_filters(view, period)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    try:
        scope = v.scope_for(who, view, dimension, region)
    except v.OutsideJurisdiction as exc:
        raise HTTPException(403, str(exc)) from None
    return Asked(view, scope, sql.Filters(category=category, stage=stage, status=status, programme=programme,
                                          period=period, school_code=school_code))


@router.get("", summary="The views (查询模块) this platform offers")
async def catalogue(who: Principal = Depends(READERS)) -> dict:
    return {"views": [{"code": code, "name": name, "description": text} for code, (name, text) in v.VIEWS.items()]}


@router.get("/{view}", summary="A page of the view's students, in school order")
async def view_page(a: Asked = Depends(asked), who: Principal = Depends(READERS), db=Depends(session),
                    opener: FieldCipher = Depends(fields), limit: Annotated[int, Query(ge=1, le=500)] = 50, after: str | None = None) -> dict:
    try:
        cursor = v.decode_cursor(after) if after else None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    rows, total, more = await sql.page(db, a.view, a.scope, a.filters, limit=limit, after=cursor)
    return {"view": a.view, "name": v.VIEWS[a.view][0], "dimension": a.scope.dimension, "total": total,
            "items": [v.item(r, opener) for r in rows],
            "next": v.encode_cursor(rows[-1].school_code, rows[-1].student_key) if more else None}


@router.get("/{view}/summary", summary="Counts one level down, for drill-down (省 → 市 → 县 → 学校)")
async def view_summary(a: Asked = Depends(asked), db=Depends(session)) -> dict:
    level, groups = await sql.summary(db, a.view, a.scope, a.filters)
    totals = {k: sum(g[k] for g in groups) for k in ("students", "pending", "verified", "invalid", "withdrawn",
                                                      "paid")}
    return {"view": a.view, "dimension": a.scope.dimension, "level": level, "groups": groups, "totals": totals}


@router.get("/{view}/export", summary="Every student of the view as CSV or XLSX (导出)")
async def view_export(request: Request, a: Asked = Depends(asked), who: Principal = Depends(READERS),
                      db=Depends(session), opener: FieldCipher = Depends(fields),
                      format: Literal["csv", "xlsx"] = "csv") -> Response:
    rows = await sql.count(db, a.view, a.scope, a.filters)
    if format == "xlsx" and rows > exports.XLSX_MAX_ROWS:
        raise HTTPException(422, f"共 {rows} 行，超过 Excel 单表上限，请导出 CSV ({rows} rows: more than one sheet "
                                 "holds; export CSV)")
    whole = v.exports_whole(who, a.scope.dimension)
    await log(db, "view", a.view, "export", who, {
        "format": format, "rows": rows, "dimension": a.scope.dimension, "region": a.scope.prefix,
        "school_code": a.scope.school_code, "id_numbers": "whole" if whole else "masked",
        **a.filters.describe()})
    await db.commit()
    name = f"{a.view}-{date.today().isoformat()}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if format == "xlsx":
        async with request.app.state.sessions() as s:
            lines = [v.export_row(r, whole, opener) async for r in sql.every_row(s, a.view, a.scope, a.filters)]
        body = await asyncio.to_thread(exports.xlsx_bytes, v.EXPORT_HEADER, lines, sheet=v.VIEWS[a.view][0])
        return Response(body, media_type=exports.XLSX_TYPE, headers=headers)
    return StreamingResponse(_csv(request, a, whole, opener), media_type=exports.CSV_TYPE, headers=headers)


async def _csv(request: Request, a: Asked, whole: bool, opener: FieldCipher):
    """The export's lines, a thousand at a time, read with the app's own session (the request's
    session is closed once streaming starts)."""
    yield exports.csv_header(v.EXPORT_HEADER)
    async with request.app.state.sessions() as s:
        batch: list[list[str]] = []
        async for row in sql.every_row(s, a.view, a.scope, a.filters):
            batch.append(v.export_row(row, whole, opener))
            if len(batch) >= 1000:
                yield exports.csv_rows(batch)
                batch = []
        yield exports.csv_rows(batch)
