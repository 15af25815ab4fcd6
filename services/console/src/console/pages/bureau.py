"""A bureau's pages (教育部门): progress with drill-down, audit, aid lists, payments."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile

from aid_chassis.auth import BUREAUS, Role
from console.backend import ApiError
from console.pages.common import backend, download, outcome, paging, upload_part
from console.session import User, page
from console.web import redirect, render

router = APIRouter(prefix="/bureau")
BUREAU = page(*BUREAUS)
AUDITORS = page(Role.COUNTY_BUREAU, Role.CITY_BUREAU)
PAYERS = page(Role.COUNTY_BUREAU)
DIMENSIONS = ("enrolment", "household")


@router.get("/dashboard")
async def dashboard(request: Request, dimension: str = "enrolment", region: str = "", user: User = Depends(BUREAU)):
    dimension = dimension if dimension in DIMENSIONS else "enrolment"
    report = await backend(request).get("reporting", "/reports/progress", token=user.token, dimension=dimension,
                                        region=region or None)
    rows = report.get("rows", [])
    return render(request, "bureau_dashboard.html", user, report=report, rows=rows, dimension=dimension,
                  region=region, drill=report.get("level") in ("city", "county"))


@router.get("/dashboard/export")
async def dashboard_export(request: Request, dimension: str = "enrolment", region: str = "", user: User = Depends(BUREAU)):
    resp = await backend(request).call("reporting", "GET", "/reports/progress", token=user.token, params={
        "dimension": dimension if dimension in DIMENSIONS else "enrolment", "format": "xlsx", **({"region": region} if region else {})})
    return download(resp)


@router.get("/audit")
async def audit_queue(request: Request, page_no: int = 1, user: User = Depends(AUDITORS)):
    api = backend(request)
    first = await api.get("verification", "/tasks", token=user.token, audit_state="submitted", limit=1)
    pg = paging(page_no, first["total"])
    body = await api.get("verification", "/tasks", token=user.token, audit_state="submitted", limit=pg["limit"],
                         offset=pg["offset"])
    return render(request, "bureau_audit.html", user, items=body["items"], paging=pg, query="")


@router.post("/audit")
async def audit(request: Request, task_id: list[str] = Form(default_factory=list), decision: str = Form(...),
                reason: str = Form(""), user: User = Depends(AUDITORS)):
    if not task_id:
        return redirect("/bureau/audit", error="请先选择记录 (select records first)")
    decisions = [{"task_id": i, "decision": "return" if decision == "return" else "approve", "reason": reason or None}
                 for i in task_id[:5000]]
    result = await backend(request).post("verification", "/tasks/audit", token=user.token, json={"decisions": decisions})
    ok, error = outcome(request, result)
    return redirect("/bureau/audit", ok=ok, error=error)


@router.get("/lists")
async def lists(request: Request, user: User = Depends(BUREAU)):
    body = await backend(request).get("publicity", "/lists", token=user.token)
    return render(request, "bureau_lists.html", user, lists=body["items"])


@router.get("/lists/{list_id}")
async def list_page(request: Request, list_id: str, user: User = Depends(BUREAU)):
    api = backend(request)
    body = await api.get("publicity", f"/lists/{list_id}", token=user.token)
    try:
        objections = (await api.get("publicity", f"/lists/{list_id}/objections", token=user.token)).get("items", [])
    except ApiError:
        objections = []
    return render(request, "list.html", user, lst=body, bureau=True, objections=objections,
                  may_decide=user.role in (Role.COUNTY_BUREAU, Role.CITY_BUREAU))


@router.post("/lists/{list_id}/approve")
async def approve_list(request: Request, list_id: str, user: User = Depends(AUDITORS)):
    await backend(request).post("publicity", f"/lists/{list_id}/approve", token=user.token)
    return redirect(f"/bureau/lists/{list_id}", ok="已审核通过并公示 (approved and under public notice)")


@router.post("/lists/{list_id}/return")
async def return_list(request: Request, list_id: str, reason: str = Form(..., max_length=200), user: User = Depends(AUDITORS)):
    await backend(request).post("publicity", f"/lists/{list_id}/return", token=user.token, json={"reason": reason})
    return redirect(f"/bureau/lists/{list_id}", ok="已退回学校 (returned to the school)")


@router.get("/payments")
async def payments(request: Request, user: User = Depends(PAYERS)):
    api = backend(request)
    ready = await api.get("disbursement", "/payments", token=user.token, status="ready", limit=1000)
    batches = await api.get("disbursement", "/batches", token=user.token)
    by_list: dict[str, dict] = {}
    for p in ready["items"]:
        entry = by_list.setdefault(p["list_id"], {"list_id": p["list_id"], "programme": p["programme"],
                                                  "period": p["period"], "count": 0, "amount_fen": 0})
        entry["count"] += 1
        entry["amount_fen"] += p["amount_fen"]
    return render(request, "bureau_payments.html", user, ready=list(by_list.values()), ready_total=ready["total"],
                  batches=batches["items"], report=None)


@router.post("/batches")
async def create_batch(request: Request, list_id: str = Form(""), user: User = Depends(PAYERS)):
    batch = await backend(request).post("disbursement", "/batches", token=user.token, json={"list_id": list_id or None})
    return redirect("/bureau/payments", ok=f"代发批次 {batch['batch_id']} 已生成 (payment batch created)")


@router.get("/batches/{batch_id}/file")
async def batch_file(request: Request, batch_id: str, user: User = Depends(PAYERS)):
    return download(await backend(request).call("disbursement", "GET", f"/batches/{batch_id}/file", token=user.token))


@router.post("/returns")
async def import_return(request: Request, file: UploadFile = File(...), user: User = Depends(PAYERS)):
    api = backend(request)
    resp = await api.call("disbursement", "POST", "/returns", token=user.token, expect=(200, 409),
                          files={"file": upload_part(file, "return.csv", "text/csv")})
    body = resp.json()
    report = body.get("detail", body) if resp.status_code == 409 else body
    batches = await api.get("disbursement", "/batches", token=user.token)
    return render(request, "bureau_payments.html", user, ready=[], ready_total=None, batches=batches["items"],
                  report=report, stopped=resp.status_code == 409)
