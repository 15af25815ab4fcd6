"""HTTP API of reporting: progress, funding and unfunded-reason reports by jurisdiction
(资助工作进度, 资金发放, 未资助原因), as JSON, CSV, XLSX or an HTML page with charts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response

from aid_chassis.app import create_app, session
from aid_chassis.auth import BUREAUS, OutsideJurisdiction, Principal, Role, allow, jurisdiction
from aid_contracts import labels
from reporting.adapters import tables
from reporting.domain import reports as r
from reporting.domain.counts import CHINA
from reporting.entrypoints import audit_routes
from reporting.entrypoints.render import bar_chart, line_chart, respond
from reporting.service_layer import reports as sql
from reporting.settings import Settings

router = APIRouter(tags=["统计报表 reporting"])
READERS = allow(*BUREAUS, Role.SCHOOL)
Format = Literal["json", "csv", "xlsx", "html"]
Dimension = Literal["enrolment", "household"]
Category = Literal[("*", *labels.CATEGORY)]  # type: ignore[valid-type]
Stage = Literal[tuple(labels.STAGE)]  # type: ignore[valid-type]
REGION = r"^\d{2}(\d{2}){0,2}$"
PERIOD = r"^\d{4}-(spring|autumn|\d{2})$"


def scope(who: Principal = Depends(READERS), dimension: Dimension = "enrolment",
          region: Annotated[str | None, Query(pattern=REGION, description="narrow to a city or county")] = None
          ) -> sql.Scope:
    """The caller's jurisdiction on a dimension: a bureau's region (narrowed), or a school."""
    try:
        prefix, school_code = jurisdiction(who, region)
    except OutsideJurisdiction as exc:
        raise HTTPException(403, str(exc)) from None
    return sql.Scope(dimension, prefix=prefix, school_code=school_code)


def _meta(where: sql.Scope, **more) -> dict:
    return {"dimension": where.dimension, "dimension_name": labels.DIMENSION[where.dimension],
            "region": where.prefix or None, "school_code": where.school_code, "level": where.level.name, **more}


@router.get("/reports/progress", summary="Progress by jurisdiction, one level down (资助工作进度)")
async def progress_report(where: sql.Scope = Depends(scope), db=Depends(session), format: Format = "json",
                          category: Category = "*", stage: Stage | None = None) -> Response:
    tasks = await sql.tasks(db, where, today=_today(), category=category, stage=stage)
    pivot = await sql.progress(db, where, category=category, stage=stage)
    rows = r.progress_rows(pivot, tasks, await sql.school_names(db, pivot.keys() | tasks.keys()))
    trend = await sql.trend(db, where)
    charts = [bar_chart("核对完成率 (%)", [x["name"] or x["code"] for x in rows], {"完成率": [x["completion"] for x in rows]}),
              line_chart("累计核对与发放人数", trend["days"], {"已核对": trend["verified"], "已发放": trend["paid"]})]
    total = r.totals(rows)
    return await respond(format, name="progress", title=r.TITLES["progress"], words=r.PROGRESS_WORDS,
                         rows=[*rows, total] if format != "json" else rows,
                         extra=_meta(where, category=category, stage=stage, totals=total, trend=trend), charts=charts)


@router.get("/reports/funding", summary="Funding by programme and period (资助资金发放)")
async def funding_report(where: sql.Scope = Depends(scope), db=Depends(session), format: Format = "json",
                         period: Annotated[str | None, Query(pattern=PERIOD)] = None,
                         programme: Annotated[str | None, Query(max_length=60)] = None) -> Response:
    pivot, names = await sql.funding(db, where, period=period, programme=programme)
    rows = r.funding_rows(pivot, names)
    charts = [bar_chart("发放金额 (元)", [f"{x['programme_name']} {x['period']}" for x in rows],
                        {"发放金额": [float(x["paid_yuan"]) for x in rows]})]
    return await respond(format, name="funding", title=r.TITLES["funding"], words=r.FUNDING_WORDS, rows=rows,
                         extra=_meta(where, period=period, programme=programme), charts=charts)


@router.get("/reports/unfunded", summary="Why registered-poor students were not funded (未资助原因)")
async def unfunded_report(period: Annotated[str, Query(pattern=PERIOD, description="e.g. 2026-autumn")],
                          where: sql.Scope = Depends(scope), db=Depends(session), format: Format = "json") -> Response:
    pivot = await sql.unfunded(db, where, period=period)
    rows = r.unfunded_rows(pivot, await sql.school_names(db, pivot))
    reasons = list(labels.UNFUNDED_REASON)
    charts = [bar_chart("未资助原因", [labels.UNFUNDED_REASON[x] for x in reasons],
                        {"人数": [sum(row[x] for row in rows) for x in reasons]})]
    return await respond(format, name="unfunded", title=r.TITLES["unfunded"], words=r.unfunded_words(), rows=rows,
                         extra=_meta(where, period=period), charts=charts)


@router.get("/reports/checks", summary="Abnormal-record checks by jurisdiction (异常数据核查汇总)")
async def checks_report(where: sql.Scope = Depends(scope), db=Depends(session), format: Format = "json",
                        check_id: Annotated[str | None, Query(max_length=40)] = None) -> Response:
    """Records, answers and overdue ones by the schools' location (学校所在地), one level down."""
    pivot = await sql.checks(db, where, today=_today(), check_id=check_id)
    rows = r.check_rows(pivot, await sql.school_names(db, pivot))
    charts = [bar_chart("核查反馈率 (%)", [x["name"] or x["code"] for x in rows], {"反馈率": [x["completion"] for x in rows]})]
    return await respond(format, name="checks", title=r.TITLES["checks"], words=r.CHECK_WORDS, rows=rows,
                         extra=_meta(where, check_id=check_id), charts=charts)


def _today() -> date:
    """Deadlines are days in Beijing time."""
    return datetime.now(CHINA).date()


@router.get("/progress", summary="Progress one level down on one dimension (按学籍/户籍统计进度, the short form)")
async def progress(dimension: Dimension = "enrolment", db=Depends(session),
                   who: Principal = Depends(allow(*BUREAUS, Role.OPERATOR))) -> dict:
    """Per region one level down: matched, verified, invalid, published, paid and paid_fen (every student once)."""
    pivot = await sql.progress(db, sql.Scope(dimension, prefix=who.region_prefix or ""))
    keys = ("matched", "verified", "invalid", "published", "paid", "paid_fen")
    regions = [{"region": code, **{k: _short(m, k) for k in keys}} for code, m in sorted(pivot.items())]
    return {"dimension": dimension, "regions": regions, "totals": {k: sum(x[k] for x in regions) for k in keys}}


def _short(metrics: dict[str, int], key: str) -> int:
    if key == "verified":
        return metrics.get("verified_unchanged", 0) + metrics.get("verified_updated", 0)
    return metrics.get(key, 0)


def create(settings: Settings):
    return create_app(settings, title="reporting 统计报表", routers=[router, audit_routes.router],
                      outbox_table=tables.chassis.outbox)
