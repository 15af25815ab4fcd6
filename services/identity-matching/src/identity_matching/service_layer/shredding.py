"""Shredding a student's personal data (个人信息销毁): the rules, then their data key destroyed.

Refused while the student still matches (the next comparison would issue a new key and send
their data again) and for a student matched only before data keys existed (their fields are
sealed under the platform's ring: nothing to destroy for them alone).
"""

from __future__ import annotations

import polars as pl
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis.auth import Principal
from aid_chassis.fields import FieldCipher
from identity_matching.adapters import tables
from identity_matching.service_layer import amended, data_keys, rematch
from identity_matching.service_layer.trail import log


class ShredRefused(Exception):
    """A shredding the rules refuse (``code``: still_matched, sealed_under_ring)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


async def shred(session: AsyncSession, key: str, ring: FieldCipher, who: Principal, reason: str) -> None:
    """Destroy the student's data key and record who did it and why, in the caller's transaction.
    ``ShredRefused`` by the rules; LookupError when the student has no data key."""
    await rematch.serialise(session)  # not while a comparison issues keys
    states = await amended.load(session, amended.STATES, ring, columns=["student_key", "active"],
                                keys=pl.Series([key], dtype=pl.String))
    active = states["active"].first()  # None: never matched
    if active:
        raise ShredRefused("still_matched", "该学生仍在比对结果中：请先从部门名单或学籍中移除 "
                                            "(the student still matches: take them off the lists or roster first)")
    if not await data_keys.shred(session, key, ring):
        if active is not None and not await _shredded_before(session, key):  # matched only before data keys
            raise ShredRefused("sealed_under_ring", "该学生的信息在启用学生数据密钥之前以平台密钥加密，无法单独销毁 (their "
                                                    "fields were sealed under the platform's ring before data keys "
                                                    "existed: they cannot be shredded alone)")
        raise LookupError("该学生没有数据密钥：从未出现在事件中，或已销毁 (no data key: never in an event, or shredded already)")
    await log(session, "student", key, "shredded", who, {"reason": reason})


async def _shredded_before(session: AsyncSession, key: str) -> bool:
    a = tables.audit_log.c
    return bool(await session.scalar(select(a.id).where(a.entity == "student", a.entity_id == key,
                                                        a.action == "shredded").limit(1)))
