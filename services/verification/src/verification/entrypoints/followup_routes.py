"""Routes for unfunded reasons (未资助原因上报), abnormal-record checks (数据核查), deadlines and progress."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from pydantic import BaseModel, Field

from aid_chassis.app import fields, session
from aid_chassis.auth import Principal
from aid_chassis.fields import FieldCipher
from aid_chassis.freetext import FreeText
from aid_chassis.params import RowNumber
from verification.entrypoints.common import AUDITORS, PROVINCE, SCHOOLS, SCHOOLS_AND_AUDITORS, masked, refusals
from verification.service_layer import checks, followups

unfunded_router = APIRouter(prefix="/unfunded", tags=["未资助原因上报 unfunded reasons"])
checks_router = APIRouter(prefix="/abnormal-checks", tags=["数据核查 abnormal-record checks"])
progress_router = APIRouter(tags=["进度 progress and deadlines"])
Period = Query(..., pattern=r"^\d{4}-(spring|autumn|\d{2})$", description="e.g. 2026-autumn or 2026-11")


class ReasonBody(BaseModel):
    reason: str = Field(description="not_enrolled_anymore, funded_elsewhere, family_declined, not_eligible_stage, other")
    text: FreeText | None = Field(None, max_length=200)


class DeadlineBody(BaseModel):
    due: date


@unfunded_router.get("", summary="Registered-poor students not paid in the period, and the reasons reported")
async def unfunded(period: str = Period, db=Depends(session), who: Principal = Depends(SCHOOLS_AND_AUDITORS),
                   opener: FieldCipher = Depends(fields)) -> dict:
    rows = await followups.unfunded(db, who, period)
    return {"total": len(rows), "items": [{"task_id": r.task_id, "school_code": r.school_code,
                                           "student": masked(r.student, r.student_key, opener),
                                           "reason": r.reason, "text": r.text} for r in rows]}


@unfunded_router.get("/completion", summary="Per school: reasons needed and reported (上报完成情况)")
async def completion(period: str = Period, db=Depends(session), who: Principal = Depends(AUDITORS)) -> dict:
    return await followups.unfunded_completion(db, who, period, date.today())


@unfunded_router.put("/{task_id}", summary="Report why a registered-poor student was not funded")
async def report(task_id: str, body: ReasonBody, period: str = Period, db=Depends(session),
                 who: Principal = Depends(SCHOOLS)) -> dict:
    with refusals():
        async with db.begin():
            return await followups.report_unfunded(db, who, task_id, period, body.reason, body.text)


@checks_router.post("", summary="Upload abnormal aid records; they are split by school", status_code=201)
async def upload(title: Annotated[FreeText, Form(max_length=200)], file: UploadFile = File(...), db=Depends(session),
                 who: Principal = Depends(AUDITORS), cipher: FieldCipher = Depends(fields)) -> dict:
    with refusals():
        async with db.begin():
            return await checks.upload(db, who, title, await file.read(), cipher)


@checks_router.get("/items", summary="Abnormal records for my school or jurisdiction")
async def items(check_id: str | None = None, db=Depends(session), who: Principal = Depends(SCHOOLS_AND_AUDITORS),
                cipher: FieldCipher = Depends(fields)) -> dict:
    rows = await checks.items(db, who, check_id, cipher)
    return {"total": len(rows), "items": rows}


class CheckAnswer(BaseModel):
    answer: str = Field(description="confirmed_correct, corrected, wrongly_funded, other")
    text: FreeText | None = Field(None, max_length=200)


@checks_router.post("/{check_id}/items/{row}/answer", summary="Answer one abnormal record (核查处理)")
async def answer(check_id: str, row: RowNumber, body: CheckAnswer, db=Depends(session), who: Principal = Depends(SCHOOLS)) -> dict:
    with refusals():
        async with db.begin():
            return await checks.answer(db, who, check_id, row, body.answer, body.text)


@checks_router.get("/{check_id}/summary", summary="核查情况汇总表: per county in my jurisdiction")
async def summary(check_id: str, db=Depends(session), who: Principal = Depends(AUDITORS)) -> dict:
    return await checks.summary(db, who, check_id, date.today())


@progress_router.put("/deadlines/{kind}/{batch}", summary="Set a task batch's deadline (截止日期, the province's)")
async def deadline(kind: Literal["verification", "unfunded", "abnormal_check"], batch: str, body: DeadlineBody,
                   db=Depends(session), who: Principal = Depends(PROVINCE)) -> dict:
    async with db.begin():
        return await followups.set_deadline(db, who, kind, batch, body.due)


@progress_router.get("/progress", summary="Verification progress per school, overdue included (核对进度)")
async def progress(db=Depends(session), who: Principal = Depends(SCHOOLS_AND_AUDITORS)) -> dict:
    return {"schools": await followups.progress(db, who, date.today())}


routers = [unfunded_router, checks_router, progress_router]
