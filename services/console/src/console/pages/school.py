"""A school's pages (学校): verification tasks, supplements, aid lists, bank cards."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile

from aid_chassis.auth import Role
from console.pages.common import backend, download, outcome, paging, upload_part
from console.session import User, page
from console.web import redirect, render

router = APIRouter(prefix="/school")
SCHOOL = page(Role.SCHOOL)
STATUSES = ("pending", "verified_unchanged", "verified_updated", "invalid")
AUDIT_STATES = ("unsubmitted", "submitted", "approved", "returned")
INVALID_REASONS = ("not_at_school", "duplicate", "transferred", "graduated", "deceased", "other")
STAGES = ("preschool", "primary", "junior", "senior", "vocational", "higher")
CATEGORIES = ("registered_poor", "minimum_allowance", "extreme_poverty", "orphan", "disabled", "needy_worker_family")
MAX_PROOF = 2 * 1024 * 1024
BANKS = ("ICBC", "ABC", "BOC", "CCB", "BOCOM", "PSBC", "RCC")


@router.get("/tasks")
async def tasks(request: Request, status: str = "", audit_state: str = "", page_no: int = 1, user: User = Depends(SCHOOL)):
    api = backend(request)
    counts = {s: (await api.get("verification", "/tasks", token=user.token, status=s, limit=1))["total"] for s in STATUSES}
    status = status if status in STATUSES else ""
    audit_state = audit_state if audit_state in AUDIT_STATES else ""
    first = await api.get("verification", "/tasks", token=user.token, status=status, audit_state=audit_state, limit=1)
    pg = paging(page_no, first["total"])
    body = await api.get("verification", "/tasks", token=user.token, status=status, audit_state=audit_state,
                         limit=pg["limit"], offset=pg["offset"])
    query = urlencode({"status": status, "audit_state": audit_state})
    return render(request, "school_tasks.html", user, counts=counts, items=body["items"], status=status,
                  audit_state=audit_state, statuses=STATUSES, audit_states=AUDIT_STATES, reasons=INVALID_REASONS,
                  paging=pg, query=query)


@router.post("/tasks/verify")
async def verify_many(request: Request, task_id: list[str] = Form(default_factory=list), action: str = Form(...),
                      invalid_reason: str = Form(""), invalid_text: str = Form(""), back: str = Form("/school/tasks"),
                      user: User = Depends(SCHOOL)):
    if not task_id:
        return redirect(back, error="请先选择学生 (select students first)")
    answer = {"status": "verified_unchanged"} if action == "verify" else {
        "status": "invalid", "invalid_reason": invalid_reason or None, "invalid_text": invalid_text or None}
    result = await backend(request).post("verification", "/tasks/verify", token=user.token,
                                         json={"items": [{"task_id": i, **answer} for i in task_id[:5000]]})
    ok, error = outcome(request, result)
    return redirect(_local(back), ok=ok, error=error)


@router.get("/tasks/{task_id}")
async def task(request: Request, task_id: str, user: User = Depends(SCHOOL)):
    body = await backend(request).get("verification", f"/tasks/{task_id}", token=user.token)
    return render(request, "school_task.html", user, task=body, reasons=INVALID_REASONS, stages=STAGES)


@router.post("/tasks/{task_id}/verify")
async def verify_one(request: Request, task_id: str, status: str = Form(...), invalid_reason: str = Form(""),
                     invalid_text: str = Form(""), name: str = Form(""), stage: str = Form(""),
                     enrolment_region: str = Form(""), household_region: str = Form(""), user: User = Depends(SCHOOL)):
    corrections = {k: v.strip() for k, v in (("name", name), ("stage", stage), ("enrolment_region", enrolment_region),
                                             ("household_region", household_region)) if v.strip()}
    body = {"status": status, "invalid_reason": invalid_reason or None, "invalid_text": invalid_text or None,
            "corrections": corrections if status == "verified_updated" else {}}
    await backend(request).post("verification", f"/tasks/{task_id}/verify", token=user.token, json=body)
    return redirect(f"/school/tasks/{task_id}", ok="已保存 (saved)")


@router.post("/submit")
async def submit(request: Request, user: User = Depends(SCHOOL)):
    result = await backend(request).post("verification", "/tasks/submit", token=user.token, json={})
    ok, error = outcome(request, result)
    return redirect("/school/tasks?audit_state=submitted", ok=ok, error=error)


@router.get("/supplements/new")
async def supplement_form(request: Request, user: User = Depends(SCHOOL)):
    return render(request, "school_supplement.html", user, stages=STAGES, categories=CATEGORIES)


@router.post("/supplements")
async def supplement(request: Request, id_number: str = Form(..., max_length=40), name: str = Form(..., max_length=60),
                     stage: str = Form(...), category: str = Form(...), reason: str = Form(..., max_length=200),
                     poverty_status: str = Form(""), exit_year: str = Form(""), household_region: str = Form(""),
                     enrolment_region: str = Form(""), proof: UploadFile = File(...), user: User = Depends(SCHOOL)):
    form = {"id_number": id_number, "name": name, "stage": stage, "category": category, "reason": reason,
            "poverty_status": poverty_status, "exit_year": exit_year, "household_region": household_region, "enrolment_region": enrolment_region}
    created = await backend(request).post(
        "verification", "/supplements", token=user.token, data={k: v for k, v in form.items() if v},
        files={"proof": upload_part(proof, "proof.jpg", "image/jpeg", limit=MAX_PROOF)})
    return redirect(f"/school/tasks/{created['task_id']}", ok="补录已保存，待上报 (supplement saved: submit it for audit)")


@router.get("/lists")
async def lists(request: Request, user: User = Depends(SCHOOL)):
    api = backend(request)
    programmes = await api.get("publicity", "/programmes", token=user.token)
    mine = await api.get("publicity", "/lists", token=user.token)
    return render(request, "school_lists.html", user, programmes=_items(programmes), lists=_items(mine))


@router.post("/lists")
async def build_list(request: Request, programme_code: str = Form(...), period: str = Form(..., max_length=20),
                     user: User = Depends(SCHOOL)):
    created = await backend(request).post("publicity", "/lists", token=user.token,
                                          json={"programme_code": programme_code, "period": period.strip()})
    return redirect(f"/school/lists/{created['list_id']}", ok="资助名单已生成 (list built)")


@router.get("/lists/{list_id}")
async def list_page(request: Request, list_id: str, user: User = Depends(SCHOOL)):
    body = await backend(request).get("publicity", f"/lists/{list_id}", token=user.token)
    return render(request, "list.html", user, lst=body, bureau=False)


@router.post("/lists/{list_id}/submit")
async def submit_list(request: Request, list_id: str, user: User = Depends(SCHOOL)):
    await backend(request).post("publicity", f"/lists/{list_id}/submit", token=user.token)
    return redirect(f"/school/lists/{list_id}", ok="名单已上报 (list submitted for audit)")


@router.get("/cards")
async def cards(request: Request, user: User = Depends(SCHOOL)):
    return render(request, "school_cards.html", user, report=None, banks=BANKS)


@router.post("/cards")
async def register_card(request: Request, id_number: str = Form(..., max_length=18), bank: str = Form(...),
                        card_number: str = Form(..., max_length=23), phone: str = Form("", max_length=20),
                        user: User = Depends(SCHOOL)):
    body = {"id_number": id_number.strip(), "bank": bank, "card_number": card_number.replace(" ", ""), "phone": phone or None}
    await backend(request).post("disbursement", "/accounts", token=user.token, json=body)
    return redirect("/school/cards", ok="银行卡已登记 (card registered)")


@router.post("/cards/import")
async def import_cards(request: Request, file: UploadFile = File(...), user: User = Depends(SCHOOL)):
    report = await backend(request).post("disbursement", "/accounts/import", token=user.token,
                                         files={"file": upload_part(file, "cards.csv", "text/csv")})
    return render(request, "school_cards.html", user, report=report, banks=BANKS)


def _items(body) -> list:
    return body.get("items", body.get("lists", body.get("programmes", []))) if isinstance(body, dict) else body


def _local(path: str) -> str:
    return path if path.startswith("/school/") else "/school/tasks"


@router.get("/tasks/{task_id}/proof")
async def proof(request: Request, task_id: str, user: User = Depends(SCHOOL)):
    return download(await backend(request).call("verification", "GET", f"/tasks/{task_id}/proof", token=user.token))
