"""A bureau's views, reports and audit trail (查询 / 统计报表 / 审计日志), over query and reporting."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request

from aid_chassis.auth import BUREAUS, Role
from console.charts import bars, trend
from console.pages.common import backend, download
from console.session import User, page
from console.web import render

router = APIRouter(prefix="/bureau")
READERS = page(*BUREAUS, Role.SCHOOL)
BUREAU = page(*BUREAUS)
DIMENSIONS = ("enrolment", "household")
REPORTS = {  # report → (the column its bar chart shows, the filters it takes)
    "progress": ("completion", ()), "funding": ("paid", ("period",)), "unfunded": ("total", ("period",)),
    "checks": ("completion", ()),
}
EXPORTS = ("csv", "xlsx")


@router.get("/views")
async def views(request: Request, view: str = "key-groups", dimension: str = "enrolment", region: str = "",
                period: str = "", after: str = "", user: User = Depends(BUREAU)):
    api = backend(request)
    offered = (await api.get("query", "/views", token=user.token))["views"]
    view = view if view in {v["code"] for v in offered} else offered[0]["code"]
    filters = {"dimension": dimension if dimension in DIMENSIONS else "enrolment", "region": region or None,
               "period": period or None}
    summary = await api.get("query", f"/views/{view}/summary", token=user.token, **filters)
    students = await api.get("query", f"/views/{view}", token=user.token, limit=50, after=after or None, **filters)
    query = urlencode({k: v for k, v in {"view": view, **filters}.items() if v})
    return render(request, "bureau_views.html", user, offered=offered, view=view, filters=filters, summary=summary,
                  students=students, query=query, drill=summary["level"] in ("city", "county"),
                  chart=bars([(g.get("name") or g["code"], g["students"]) for g in summary["groups"]]))


@router.get("/views/{view}/export.{fmt}")
async def view_export(request: Request, view: str, fmt: str, dimension: str = "enrolment", region: str = "",
                      period: str = "", user: User = Depends(BUREAU)):
    params = {"format": fmt if fmt in EXPORTS else "csv", "dimension": dimension,
              **({"region": region} if region else {}), **({"period": period} if period else {})}
    return download(await backend(request).call("query", "GET", f"/views/{view}/export", token=user.token, params=params))


@router.get("/reports/{report}")
async def report(request: Request, report: str, dimension: str = "enrolment", region: str = "", period: str = "",
                 user: User = Depends(BUREAU)):
    column, takes = REPORTS.get(report, REPORTS["progress"])
    report = report if report in REPORTS else "progress"
    params = {"dimension": dimension if dimension in DIMENSIONS else "enrolment", "region": region or None,
              **({"period": period or None} if "period" in takes else {})}
    body = await backend(request).get("reporting", f"/reports/{report}", token=user.token, **params) \
        if "period" not in takes or period or report == "funding" else None
    rows = body.get("rows", []) if body else []
    chart = bars([(f"{r.get('programme_name') or r.get('name') or r.get('code')} {r.get('period', '')}".strip(),
                   _number(r.get(column))) for r in rows])
    days = (body or {}).get("trend")
    return render(request, "bureau_report.html", user, report=report, body=body, rows=rows, takes=takes,
                  params=params, chart=chart, trend=trend(days) if days else None, reports=list(REPORTS),
                  query=urlencode({k: v for k, v in params.items() if v}))


@router.get("/reports/{report}/export.{fmt}")
async def report_export(request: Request, report: str, fmt: str, dimension: str = "enrolment", region: str = "",
                        period: str = "", user: User = Depends(BUREAU)):
    params = {"format": fmt if fmt in EXPORTS else "csv", "dimension": dimension,
              **({"region": region} if region else {}), **({"period": period} if period else {})}
    name = report if report in REPORTS else "progress"
    return download(await backend(request).call("reporting", "GET", f"/reports/{name}", token=user.token, params=params))


@router.get("/audit-trail")
async def audit_trail(request: Request, service: str = "", actor: str = "", action: str = "", target: str = "",
                      since: str = "", until: str = "", offset: int = 0, user: User = Depends(BUREAU)):
    filters = {"service": service, "actor": actor, "action": action, "target": target, "since": since, "until": until}
    body = await backend(request).get("reporting", "/audit", token=user.token, limit=50, offset=max(offset, 0), **filters)
    return render(request, "bureau_audit_trail.html", user, body=body, filters=filters,
                  query=urlencode({k: v for k, v in filters.items() if v}))


def _number(value) -> float:
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0
