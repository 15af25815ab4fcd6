"""Shredding a student's personal data (个人信息销毁): their data key is destroyed everywhere.

Every token of the student's ID number and name — on topics of any retention, in every service's
read models, in backups — is sealed under that key (``aid_chassis.datakeys``), so none opens
afterwards: screens show ``（已销毁）``. For a student no longer on any list or roster (a
retention period ended, a person wrongly imported); one still matched is refused, since the next
comparison would issue a new key and send their data again.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field
from aid_chassis.app import session
from aid_chassis.auth import Principal, Role, allow
from aid_contracts.keys import student_key
from identity_matching.service_layer import shredding
from identity_matching.settings import Settings

router = APIRouter(prefix="/students", tags=["students 学生个人信息"])
SHREDDERS = allow(Role.PROVINCE_BUREAU)  # destroying personal data for good is the province's decision


class Shred(BaseModel):
    id_number: str = Field(min_length=15, max_length=30, description="身份证号 (never logged; the audit names the "
                           "student's pseudonymous key)")
    reason: str = Field(min_length=2, max_length=200, description="销毁原因 (kept in the audit log)")


@router.post("/shred", summary="Shred a student's personal data: destroy their data key (个人信息销毁)")
async def shred(body: Shred, request: Request, db=Depends(session), who: Principal = Depends(SHREDDERS)) -> dict:
    settings: Settings = request.app.state.settings
    key = student_key(body.id_number, settings.pseudonym_secret)
    try:
        async with db.begin():
            await shredding.shred(db, key, settings.field_cipher(), who, body.reason)
    except shredding.ShredRefused as exc:
        raise HTTPException(409, {"code": exc.code, "message": str(exc)}) from None
    except LookupError as exc:
        raise HTTPException(404, {"code": "no_data_key", "message": str(exc)}) from None
    return {"student_key": key, "shredded": True}
