"""Audit trail search for bureaus (审计日志查询): who did what, when, to which record — in the
caller's jurisdiction, as JSON (paged), CSV, XLSX or an HTML page."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response

from aid_chassis.app import session
from aid_chassis.auth import BUREAUS, Principal, allow
from aid_chassis.params import INT4_MAX
from reporting.entrypoints.render import respond
from reporting.service_layer import audit_trail as trail

router = APIRouter(tags=["审计日志 audit trail"])
WORDS = {"at": "时间", "service": "系统", "actor": "操作人", "role": "角色", "institution": "机构", "action": "操作",
         "entity": "对象类型", "entity_id": "对象", "detail": "内容", "trace_id": "追踪号"}
Text = Annotated[str | None, Query(max_length=100)]
MAX_EXPORT = 100_000
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)


@router.get("/audit", summary="Search every service's audit entries in your jurisdiction (审计日志查询)")
async def search(who: Principal = Depends(allow(*BUREAUS)), db=Depends(session),
                 service: Annotated[str | None, Query(max_length=30)] = None, actor: Text = None,
                 action: Annotated[str | None, Query(max_length=40)] = None,
                 entity: Annotated[str | None, Query(max_length=40)] = None,
                 target: Annotated[str | None, Query(max_length=100, description="the record's id")] = None,
                 since: date | None = None, until: date | None = None,
                 limit: Annotated[int, Query(ge=1, le=500)] = 100,
                 offset: Annotated[int, Query(ge=0, le=INT4_MAX)] = 0,
                 format: Literal["json", "csv", "xlsx", "html"] = "json") -> Response:
    """Newest first. ``since``/``until`` are days (Beijing time), both included. CSV and XLSX hold
    every match (up to 100,000), JSON and HTML one page."""
    if since and until and since > until:
        raise HTTPException(422, "开始日期晚于结束日期 (since is after until)")
    if any(day and not EARLIEST <= day <= LATEST for day in (since, until)):
        raise HTTPException(422, f"日期须在 {EARLIEST} 与 {LATEST} 之间 (days must lie between {EARLIEST} and {LATEST})")
    wanted = trail.Search(service, actor, action, entity, target, since, until)
    whole = format in ("csv", "xlsx")
    total, rows = await trail.search(db, who, wanted, limit=MAX_EXPORT if whole else limit, offset=0 if whole else offset)
    if whole and total > MAX_EXPORT:
        raise HTTPException(422, f"共 {total} 条，请缩小查询范围 ({total} entries: narrow the search to export it)")
    shown = [{**r, "at": r["at"].isoformat(), "detail": r["detail"] if format == "json" else _detail(r["detail"])}
             for r in rows]
    return await respond(format, name="audit", title="审计日志 (audit trail)", words=WORDS, rows=shown,
                         extra={"total": total, "limit": limit, "offset": offset,
                                "region": who.region_prefix}, charts=[])


def _detail(detail: dict) -> str:
    return "; ".join(f"{k}={v}" for k, v in sorted(detail.items()))
