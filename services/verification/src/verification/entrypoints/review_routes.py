"""Routes for submission and audit (上报/审核), supplementary records (补录) and
repeated-student checks (重复学生核查)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy import select

from aid_chassis.app import fields, session
from aid_chassis.auth import Principal
from aid_chassis.fields import FieldCipher
from aid_chassis.freetext import FreeText
from aid_contracts.events import Category, PovertyStatus, Stage
from verification.adapters import tables
from verification.domain.proofs import MAX_PROOF_BYTES
from verification.domain.supplements import Supplement
from verification.entrypoints.common import AUDITORS, SCHOOLS, SCHOOLS_AND_AUDITORS, refusals, task_view
from verification.service_layer import review, supplements
from verification.service_layer.store import T

router = APIRouter(tags=["上报与审核 submission and audit"])


class SubmitBody(BaseModel):
    task_ids: list[str] | None = Field(None, description="omit to submit every answered record not yet submitted")


class Decision(BaseModel):
    task_id: str
    decision: Literal["approve", "return"]
    reason: FreeText | None = Field(None, max_length=200, description="required when returning (退回原因)")


class AuditBody(BaseModel):
    decisions: list[Decision] = Field(min_length=1, max_length=5000)


class KeepBody(BaseModel):
    keep_task_id: str


@router.post("/tasks/submit", summary="Submit answered records for audit (上报), a result per record")
async def submit(body: SubmitBody, db=Depends(session), who: Principal = Depends(SCHOOLS)) -> dict:
    async with db.begin():
        return await review.submit(db, who, body.task_ids)


@router.post("/tasks/audit", summary="Approve or return submitted records (审核通过/退回)")
async def audit(body: AuditBody, db=Depends(session), who: Principal = Depends(AUDITORS)) -> dict:
    async with db.begin():
        return await review.decide(db, who, [(d.task_id, d.decision, d.reason) for d in body.decisions])


@router.post("/supplements", summary="Add a missed student with a JPG proof ≤ 2 MB (补录)", status_code=201)
async def add_supplement(request: Request, id_number: str = Form(...), name: str = Form(...), stage: Stage = Form(...),
                         category: Category = Form(...), reason: FreeText = Form(..., max_length=200),
                         poverty_status: PovertyStatus | None = Form(None), exit_year: int | None = Form(None),
                         household_region: str | None = Form(None), enrolment_region: str | None = Form(None),
                         proof: UploadFile = File(..., description="JPG, at most 2 MB"), db=Depends(session),
                         who: Principal = Depends(SCHOOLS)) -> dict:
    given = Supplement(id_number=id_number, name=name, stage=stage, category=category, reason=reason,
                       poverty_status=poverty_status, exit_year=exit_year, household_region=household_region,
                       enrolment_region=enrolment_region or who.region)
    content = await proof.read(MAX_PROOF_BYTES + 1)
    with refusals():
        async with db.begin():
            settings = request.app.state.settings
            return await supplements.supplement(db, who, given, content, secret=settings.pseudonym_secret,
                                                fields=settings.field_cipher(), today=date.today())


@router.get("/tasks/{task_id}/proof", summary="Download a supplement's proof (its school and auditing bureau only)")
async def download_proof(task_id: str, db=Depends(session), who: Principal = Depends(SCHOOLS_AND_AUDITORS)) -> Response:
    with refusals():
        row = await supplements.proof_of(db, who, task_id)
    return Response(row.content, media_type="image/jpeg",
                    headers={"X-Checksum-SHA256": row.sha256, "Cache-Control": "no-store",
                             "Content-Disposition": f'attachment; filename="{task_id}.jpg"'})


@router.get("/repeated-checks", summary="Repeated students my bureau resolves (重复学生核查)")
async def repeated_checks(state: Literal["open", "resolved"] = "open", db=Depends(session),
                          who: Principal = Depends(AUDITORS), opener: FieldCipher = Depends(fields)) -> dict:
    r = tables.repeated_checks.c
    checks = (await db.execute(select(tables.repeated_checks).where(
        r.state == state, r.resolver_prefix == (who.region_prefix or "-")).order_by(r.opened_at))).all()
    items = []
    for check in checks:
        rows = await db.execute(select(tables.tasks).where(T.student_key == check.student_key, T.open).order_by(T.task_id))
        items.append({"student_key": check.student_key, "state": check.state, "kept_task_id": check.kept_task_id,
                      "tasks": [task_view(t, opener) for t in rows]})
    return {"total": len(items), "items": items}


@router.post("/repeated-checks/{student_key}/resolve", summary="Keep one school's record; the rest become duplicates")
async def resolve(student_key: str, body: KeepBody, db=Depends(session), who: Principal = Depends(AUDITORS)) -> dict:
    with refusals():
        async with db.begin():
            return await supplements.resolve_repeated(db, who, student_key, body.keep_task_id)
