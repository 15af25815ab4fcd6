"""HTTP API of verification: a school's task list and its answers (核对)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy import func, or_, select

from aid_chassis.app import create_app, session
from aid_chassis.auth import BUREAUS, Principal, Role, allow
from aid_chassis.masking import mask_id_number
from aid_contracts.events import VerificationStatus
from verification.adapters import tables
from verification.domain.tasks import VerificationRefused
from verification.service_layer import handlers
from verification.settings import Settings

router = APIRouter(prefix="/tasks", tags=["核对任务 verification tasks"])
READERS = allow(Role.SCHOOL, *BUREAUS, Role.OPERATOR)


class VerifyRequest(BaseModel):
    status: VerificationStatus
    invalid_reason: str | None = None


def _scope(who: Principal):
    """Which tasks a caller sees: its school's, or its jurisdiction's on both dimensions."""
    t = tables.tasks.c
    if who.role is Role.SCHOOL:
        return t.school_code == (who.school_code or "")
    prefix = who.region_prefix
    if prefix:
        return or_(func.left(t.enrolment_region, len(prefix)) == prefix,
                   func.left(t.household_region, len(prefix)) == prefix)
    if who.role is Role.OPERATOR:
        return t.task_id.is_not(None)
    return t.task_id.is_(None)


def _public(row) -> dict:
    student = dict(row.student)
    student["id_number"] = mask_id_number(student["id_number"])
    return {"task_id": row.task_id, "student_key": row.student_key, "status": row.status, "open": row.open,
            "invalid_reason": row.invalid_reason, "closed_reason": row.closed_reason, "student": student,
            "categories": row.categories, "match_revision": row.match_revision, "verified_by": row.verified_by}


@router.get("", summary="Tasks in my school or jurisdiction (核对任务列表)")
async def list_tasks(status: Literal["pending", "verified_unchanged", "verified_updated", "invalid"] | None = None,
                     limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0),
                     db=Depends(session), who: Principal = Depends(READERS)) -> dict:
    stmt = select(tables.tasks).where(_scope(who))
    if status:
        stmt = stmt.where(tables.tasks.c.status == status)
    total = (await db.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = await db.execute(stmt.order_by(tables.tasks.c.task_id).limit(limit).offset(offset))
    return {"total": total, "items": [_public(r) for r in rows]}


@router.post("/{task_id}/verify", summary="Verify one student (核对)")
async def verify(task_id: str, body: VerifyRequest, db=Depends(session),
                 who: Principal = Depends(allow(Role.SCHOOL))) -> dict:
    try:
        async with db.begin():
            return await handlers.verify(db, task_id=task_id, school_code=who.school_code or "", actor=who.subject,
                                         status=body.status, invalid_reason=body.invalid_reason)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    except VerificationRefused as exc:
        raise HTTPException(409, str(exc)) from None


def create(settings: Settings):
    return create_app(settings, title="verification 学校核对", routers=[router], outbox_table=tables.chassis.outbox)
