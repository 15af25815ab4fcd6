"""HTTP API of verification (学校核对 / 补录 / 审核): tasks and answers."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from aid_chassis.app import create_app, fields, session
from aid_chassis.auth import Principal
from aid_chassis.fields import FieldCipher
from aid_chassis.freetext import FreeText
from aid_chassis.params import INT4_MAX
from aid_contracts.events import VerificationStatus
from aid_contracts.keys import student_key
from verification.adapters import tables
from verification.domain.tasks import Answer
from verification.entrypoints import followup_routes, review_routes
from verification.entrypoints.common import READERS, SCHOOLS, refusals, task_view
from verification.service_layer import answers
from verification.service_layer.store import T, read_scope
from verification.settings import Settings

router = APIRouter(prefix="/tasks", tags=["核对任务 verification tasks"])
Status = Literal["pending", "verified_unchanged", "verified_updated", "invalid"]
AuditState = Literal["unsubmitted", "submitted", "approved", "returned"]


class AnswerBody(BaseModel):
    status: VerificationStatus
    invalid_reason: str | None = None
    invalid_text: FreeText | None = Field(None, max_length=200)
    corrections: dict[str, str] = Field(default_factory=dict, description="name, stage, enrolment_region, household_region")

    def answer(self) -> Answer:
        return Answer(self.status, self.invalid_reason, self.invalid_text, self.corrections)


class BulkItem(AnswerBody):
    task_id: str


class BulkBody(BaseModel):
    items: list[BulkItem] = Field(min_length=1, max_length=5000)


def _secret(request: Request) -> bytes:
    return request.app.state.settings.pseudonym_secret


@router.get("", summary="Tasks in my school or jurisdiction (核对任务列表; find answered ones by ID number)")
async def list_tasks(request: Request, status: Status | None = None, audit_state: AuditState | None = None,
                     id_number: str | None = Query(None, description="身份证号: finds a student whatever the status"),
                     open_only: bool = True,
                     dimension: Literal["both", "enrolment", "household", "household_elsewhere"] = Query(
                         "both", description="bureaus: 学籍所在地, 户籍所在地, both, or 本地户籍外地就读"),
                     limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0, le=INT4_MAX),
                     db=Depends(session), who: Principal = Depends(READERS),
                     opener: FieldCipher = Depends(fields)) -> dict:
    stmt = select(tables.tasks).where(read_scope(who, dimension))
    for column, value in ((T.status, status), (T.audit_state, audit_state)):
        if value:
            stmt = stmt.where(column == value)
    if id_number:
        stmt = stmt.where(T.student_key == student_key(id_number, _secret(request)))
    if open_only and not id_number:
        stmt = stmt.where(T.open)
    total = (await db.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = await db.execute(stmt.order_by(T.task_id).limit(limit).offset(offset))
    return {"total": total, "items": [task_view(r, opener) for r in rows]}


@router.get("/{task_id}", summary="One task and its full history (谁、何时、做了什么)")
async def get_task(task_id: str, db=Depends(session), who: Principal = Depends(READERS),
                   opener: FieldCipher = Depends(fields)) -> dict:
    with refusals():
        row = (await db.execute(select(tables.tasks).where(T.task_id == task_id, read_scope(who)))).first()
        if row is None:
            raise LookupError(f"没有这个核对任务 (no task {task_id} you may see)")
    h = tables.task_history.c
    steps = await db.execute(select(h.action, h.actor, h.detail, h.at).where(h.task_id == task_id).order_by(h.id))
    return {**task_view(row, opener), "history": [dict(s._mapping) for s in steps]}


@router.post("/{task_id}/verify", summary="Verify one student (核对)")
async def verify(task_id: str, body: AnswerBody, db=Depends(session), who: Principal = Depends(SCHOOLS),
                 opener: FieldCipher = Depends(fields)) -> dict:
    with refusals():
        async with db.begin():
            return await answers.answer(db, who, task_id, body.answer(), opener)


@router.post("/verify", summary="Verify many students at once (批量核对), a result per item")
async def verify_many(body: BulkBody, db=Depends(session), who: Principal = Depends(SCHOOLS),
                      opener: FieldCipher = Depends(fields)) -> dict:
    async with db.begin():
        return await answers.answer_many(db, who, [(i.task_id, i.answer()) for i in body.items], opener)


@router.post("/verify/csv", summary="Verify by uploading a CSV (批量核对导入), a result per row")
async def verify_csv(request: Request, file: UploadFile = File(...), db=Depends(session),
                     who: Principal = Depends(SCHOOLS)) -> dict:
    with refusals():
        async with db.begin():
            return await answers.answer_csv(db, who, await file.read(), _secret(request),
                                            request.app.state.settings.field_cipher())


def create(settings: Settings):
    return create_app(settings, title="verification 学校核对", outbox_table=tables.chassis.outbox,
                      routers=[router, review_routes.router, *followup_routes.routers])
