"""Pages anyone may open (no sign-in): the personal lookup (个人查询), public notices (公示) and
objections (投诉举报). The person's address goes to the services in ``X-Forwarded-For``, so
their rate limits count each person, not the console."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request

from console.pages.common import backend
from console.session import anyone
from console.web import redirect, render

router = APIRouter()


def _forwarded(request: Request) -> dict[str, str]:
    return {"X-Forwarded-For": request.client.host} if request.client else {}


@router.get("/lookup")
async def lookup_form(request: Request, user=Depends(anyone)):
    return render(request, "lookup.html", user, result=None, form={})


@router.post("/lookup")
async def lookup(request: Request, name: str = Form(..., max_length=50), id_number: str = Form(..., max_length=30),
                 school_code: str = Form(..., max_length=20), user=Depends(anyone)):
    form = {"name": name.strip(), "id_number": id_number.strip(), "school_code": school_code.strip()}
    resp = await backend(request).call("query", "POST", "/public/lookup", json=form, headers=_forwarded(request),
                                       expect=(200, 404, 422, 429))
    body = resp.json()
    error = None if resp.status_code == 200 else _lookup_refusal(resp.status_code, body)
    shown = {"name": form["name"], "school_code": form["school_code"]}  # the ID number is not echoed back
    return render(request, "lookup.html", user, result=body if resp.status_code == 200 else None, error=error,
                  form=shown, status_code=200 if resp.status_code in (200, 404) else resp.status_code)


def _lookup_refusal(status: int, body: dict) -> str:
    if status == 429:
        return "查询过于频繁，请稍后再试 (too many lookups: try again later)"
    detail = body.get("detail")
    if isinstance(detail, dict):
        return str(detail.get("message", detail))
    if isinstance(detail, list):
        return "请检查姓名、身份证号和学校代码 (check the name, ID number and school code)"
    return str(detail or "未查到资助记录 (no aid record found)")


@router.get("/notices")
async def notices(request: Request, school_code: str = "", user=Depends(anyone)):
    """A school's aid lists under public notice (and those whose notice ended)."""
    code = school_code.strip()
    body = await backend(request).get("publicity", "/notices", school_code=code) if code else None
    return render(request, "notices.html", user, school_code=code, body=body)


@router.get("/notices/{list_id}")
async def notice(request: Request, list_id: str, user=Depends(anyone)):
    body = await backend(request).get("publicity", f"/notices/{list_id}")
    return render(request, "notice.html", user, notice=body)


@router.post("/notices/{list_id}/objections")
async def object_to(request: Request, list_id: str, entry_no: str = Form(""), contact_name: str = Form(..., max_length=50),
                    contact_phone: str = Form(..., max_length=20), text: str = Form(..., max_length=1000), user=Depends(anyone)):
    body = {"entry_no": int(entry_no) if entry_no.isdigit() else None, "contact_name": contact_name,
            "contact_phone": contact_phone, "text": text}
    await backend(request).post("publicity", f"/notices/{list_id}/objections", json=body, headers=_forwarded(request))
    return redirect(f"/notices/{list_id}", ok="异议已提交，教育部门将调查处理 (objection filed: the bureau will look into it)")
