"""Follow-up work (后续工作): a school's unfunded reasons and abnormal-record answers, a bureau's
repeated-student checks (side by side) and objections."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request

from aid_chassis.auth import Role
from console.pages.common import backend
from console.session import User, page
from console.web import redirect, render

router = APIRouter()
SCHOOL = page(Role.SCHOOL)
AUDITORS = page(Role.COUNTY_BUREAU, Role.CITY_BUREAU)
UNFUNDED_REASONS = ("not_enrolled_anymore", "funded_elsewhere", "family_declined", "not_eligible_stage", "other")
CHECK_ANSWERS = ("confirmed_correct", "corrected", "wrongly_funded", "other")


@router.get("/school/unfunded")
async def unfunded(request: Request, period: str = "", user: User = Depends(SCHOOL)):
    body = await backend(request).get("verification", "/unfunded", token=user.token, period=period) if period else None
    return render(request, "school_unfunded.html", user, period=period, body=body, reasons=UNFUNDED_REASONS)


@router.post("/school/unfunded/{task_id}")
async def report_unfunded(request: Request, task_id: str, period: str = Form(...), reason: str = Form(...),
                          text: str = Form("", max_length=200), user: User = Depends(SCHOOL)):
    await backend(request).call("verification", "PUT", f"/unfunded/{task_id}", token=user.token, params={"period": period},
                                json={"reason": reason, "text": text or None})
    return redirect(f"/school/unfunded?period={period}", ok="未资助原因已上报 (reason reported)")


@router.get("/school/checks")
async def checks(request: Request, user: User = Depends(SCHOOL)):
    body = await backend(request).get("verification", "/abnormal-checks/items", token=user.token)
    return render(request, "school_checks.html", user, items=body["items"], answers=CHECK_ANSWERS)


@router.post("/school/checks/{check_id}/{row}")
async def answer_check(request: Request, check_id: str, row: int, answer: str = Form(...),
                       text: str = Form("", max_length=200), user: User = Depends(SCHOOL)):
    await backend(request).post("verification", f"/abnormal-checks/{check_id}/items/{row}/answer", token=user.token,
                                json={"answer": answer, "text": text or None})
    return redirect("/school/checks", ok="核查结果已反馈 (answer sent)")


@router.get("/bureau/repeated")
async def repeated(request: Request, state: str = "open", user: User = Depends(AUDITORS)):
    body = await backend(request).get("verification", "/repeated-checks", token=user.token,
                                      state="resolved" if state == "resolved" else "open")
    return render(request, "bureau_repeated.html", user, items=body["items"], state=state)


@router.post("/bureau/repeated/{student_key}")
async def keep_one(request: Request, student_key: str, keep_task_id: str = Form(...), user: User = Depends(AUDITORS)):
    await backend(request).post("verification", f"/repeated-checks/{student_key}/resolve", token=user.token,
                                json={"keep_task_id": keep_task_id})
    return redirect("/bureau/repeated", ok="已保留一所学校的记录，其余标为重复 (one record kept, the others marked duplicate)")


@router.post("/bureau/objections/{objection_id}")
async def decide_objection(request: Request, objection_id: str, list_id: str = Form(...), decision: str = Form(...),
                           reason: str = Form(..., max_length=200), user: User = Depends(AUDITORS)):
    await backend(request).post("publicity", f"/objections/{objection_id}/decide", token=user.token,
                                json={"decision": "uphold" if decision == "uphold" else "dismiss", "reason": reason})
    return redirect(f"/bureau/lists/{list_id}", ok="异议已处理 (objection decided)")
