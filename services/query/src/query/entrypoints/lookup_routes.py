"""The public personal lookup (个人查询, seed 001 §4): name + ID number + school, no login.

Anti-enumeration: one query whatever the input, the name and school compared in constant time,
and one answer (404, the same body) for an unknown ID number, a wrong name or a wrong school.
Rate limits per client address and per student (keyed by the pseudonymous key, not the ID
number) answer 429 before any lookup. No ID number or card in the answer beyond a mask.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from aid_chassis.app import session
from aid_chassis.auth import public
from aid_chassis.masking import mask_id_number, mask_name
from aid_chassis.ratelimit import RateLimiter
from aid_contracts import labels, student_key
from query.adapters import tables

router = APIRouter(tags=["个人查询 personal lookup"])
NOT_FOUND = "未查询到资助信息，请核对姓名、身份证号和学校 (no record matches this name, ID number and school)"
TOO_MANY = "查询过于频繁，请稍后再试 (too many lookups; try again later)"
S, A = tables.students.c, tables.aid_records.c


class Lookup(BaseModel):
    name: str = Field(min_length=1, max_length=50, description="姓名")
    id_number: str = Field(min_length=15, max_length=40, description="身份证号")
    school_code: str = Field(min_length=1, max_length=20, description="学校代码")


def limiters(settings) -> tuple[RateLimiter, RateLimiter]:
    return (RateLimiter(settings.lookup_per_client, settings.lookup_window_seconds),
            RateLimiter(settings.lookup_per_student, settings.lookup_window_seconds))


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


@router.post("/public/lookup", summary="Personal lookup: name + ID number + school (个人资助查询)",
             dependencies=[Depends(public)],
             responses={404: {"description": NOT_FOUND}, 429: {"description": TOO_MANY}})
async def lookup(body: Lookup, request: Request, db=Depends(session)) -> dict:
    """All three must match; a wrong name and an unknown ID get the same answer."""
    state = request.app.state
    key = student_key(body.id_number, state.settings.pseudonym_secret)
    client = request.client.host if request.client else "-"
    wait = max(state.lookup_limits[0].hit(client), state.lookup_limits[1].hit(key))
    if wait:
        raise HTTPException(429, TOO_MANY, headers={"Retry-After": str(int(wait) + 1)})
    stmt = (select(S.name, S.id_number, S.school_code, A.programme_name, A.period, A.amount_fen, A.status,
                   A.paid_on, A.published_at)
            .select_from(tables.students.outerjoin(tables.aid_records, A.student_key == S.student_key))
            .where(S.student_key == key).order_by(A.published_at))
    rows = (await db.execute(stmt)).all()
    found = bool(rows)
    first = rows[0] if found else None
    name_ok = _same(first.name if first else "", body.name.strip())
    school_ok = _same(first.school_code if first else "", body.school_code.strip())
    if not (found and name_ok and school_ok):
        raise HTTPException(404, NOT_FOUND)
    return {"name": mask_name(first.name), "id_number": mask_id_number(first.id_number),
            "school_code": first.school_code,
            "aid": [{"programme": r.programme_name, "period": r.period, "amount_fen": r.amount_fen,
                     "amount_yuan": f"{r.amount_fen / 100:.2f}", "status": r.status,
                     "status_label": labels.label(labels.AID_STATUS, r.status), "paid_on": r.paid_on}
                    for r in rows if r.programme_name is not None]}
