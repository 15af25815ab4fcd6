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
from sqlalchemy import select

from aid_chassis.app import session
from aid_chassis.auth import Principal, Role, allow
from aid_contracts.keys import student_key
from identity_matching.adapters import tables
from identity_matching.service_layer import data_keys, rematch
from identity_matching.service_layer.trail import log
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
    ring = settings.field_cipher()
    async with db.begin():
        await rematch.serialise(db)  # not while a comparison issues keys
        active = await db.scalar(select(tables.matches.c.active).where(tables.matches.c.student_key == key))
        if active:
            raise HTTPException(409, {"code": "still_matched", "message": "该学生仍在比对结果中：请先从部门名单或学籍中移除 "
                                      "(the student still matches: take them off the lists or roster first)"})
        if not await data_keys.shred(db, key, ring):
            if active is not None and not await _shredded_before(db, key):  # matched only before data keys
                raise HTTPException(409, {"code": "sealed_under_ring", "message": "该学生的信息在启用学生数据密钥之前以平台密钥加密，"
                                          "无法单独销毁 (their fields were sealed under the platform's ring before "
                                          "data keys existed: they cannot be shredded alone)"})
            raise HTTPException(404, {"code": "no_data_key", "message": "该学生没有数据密钥：从未出现在事件中，或已销毁 "
                                      "(no data key: never in an event, or shredded already)"})
        await log(db, "student", key, "shredded", who, {"reason": body.reason})
    return {"student_key": key, "shredded": True}


async def _shredded_before(db, key: str) -> bool:
    a = tables.audit_log.c
    return bool(await db.scalar(select(a.id).where(a.entity == "student", a.entity_id == key,
                                                   a.action == "shredded").limit(1)))
