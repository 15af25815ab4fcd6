"""A department's pages (部门): upload a list, see its report and rejected rows, download them."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Request, UploadFile

from aid_chassis.auth import Role
from console.pages.common import backend, download, upload_part
from console.session import User, page
from console.web import redirect, render

router = APIRouter(prefix="/department")
DEPARTMENT = page(Role.DEPARTMENT)


@router.get("/imports/new")
async def upload_form(request: Request, user: User = Depends(DEPARTMENT)):
    return render(request, "department_upload.html", user)


@router.post("/imports")
async def upload(request: Request, file: UploadFile = File(...), user: User = Depends(DEPARTMENT)):
    department = user.principal.department or "-"
    report = await backend(request).post("identity-matching", f"/imports/lists/{department}", token=user.token,
                                         files={"file": upload_part(file, "list.csv", "application/octet-stream")})
    return redirect(f"/department/imports/{report['batch_id']}")


@router.get("/imports/{batch_id}")
async def report(request: Request, batch_id: str, user: User = Depends(DEPARTMENT)):
    body = await backend(request).get("identity-matching", f"/imports/{batch_id}", token=user.token)
    return render(request, "department_report.html", user, report=body)


@router.get("/imports/{batch_id}/rejections.csv")
async def rejections(request: Request, batch_id: str, user: User = Depends(DEPARTMENT)):
    return download(await backend(request).call("identity-matching", "GET", f"/imports/{batch_id}/rejections.csv",
                                                 token=user.token))
