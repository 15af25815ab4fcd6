"""Objections (投诉举报) during the public notice: anyone files one with contact details; the
bureau upholds (the student leaves the list and the school is told) or dismisses it."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis.auth import Principal
from aid_chassis.audit import new_id
from publicity.adapters import tables
from publicity.domain.notice import IN, UPHELD, check_objection, check_reason
from publicity.domain.programmes import ListRefused
from publicity.service_layer.lists import audited_list, emit_withdrawn
from publicity.service_layer.store import load_list, log, rules_for, tell_school

O, E = tables.objections.c, tables.list_entries.c


class TooMany(ListRefused):
    """The caller filed too many objections in the last hour."""


def client_hash(address: str, secret: bytes) -> str:
    """The caller's address, keyed-hashed: enough to rate-limit, not kept in clear."""
    return hmac.new(secret, address.encode(), hashlib.sha256).hexdigest()


async def file_objection(session: AsyncSession, *, list_id: str, entry_no: int | None, name: str, phone: str,
                         text: str, client: str, per_hour: int) -> dict:
    aid_list = await load_list(session, list_id, lock=False)
    now = datetime.now(UTC)
    check_objection(status=aid_list.status, notice_ends_at=aid_list.notice_ends_at, now=now, name=name, phone=phone,
                    text=text)
    recent = await session.scalar(select(func.count()).where(O.client_hash == client,
                                                             O.submitted_at > now - timedelta(hours=1)))
    if recent >= per_hour:
        raise TooMany(f"提交过于频繁，请一小时后再试 (at most {per_hour} objections per hour)", "rate_limited")
    if entry_no is not None and not await session.scalar(select(func.count()).where(
            E.list_id == list_id, E.entry_no == entry_no, E.state == IN)):
        raise ListRefused(f"公示名单中没有第 {entry_no} 号 (no entry {entry_no} on this notice)", "unknown_entry")
    objection_id = new_id("O")
    await session.execute(insert(tables.objections).values(
        objection_id=objection_id, list_id=list_id, entry_no=entry_no, contact_name=name.strip(),
        contact_phone=phone.strip(), text=text.strip(), client_hash=client))
    return {"objection_id": objection_id, "state": "open",
            "message": "已受理，主管部门将调查处理 (received; the bureau will investigate)"}


async def decide(session: AsyncSession, who: Principal, objection_id: str, decision: str, reason: str) -> dict:
    """Uphold (the student leaves the list — ``publication-withdrawn`` — and the school is told) or
    dismiss, with a reason."""
    objection = (await session.execute(select(tables.objections).where(O.objection_id == objection_id)
                                       .with_for_update())).first()
    if objection is None:
        raise LookupError(f"没有这条异议 (no objection {objection_id})")
    aid_list = await audited_list(session, who, objection.list_id)
    if objection.state != "open":
        raise ListRefused(f"该异议已处理（{objection.state}）(already {objection.state})", "already_decided")
    text = check_reason(reason, "处理")
    if decision == "uphold":
        if objection.entry_no is None:
            raise ListRefused("异议未指明学生，只能驳回或由学校撤回名单 (the objection names no entry: dismiss it)",
                              "no_entry")
        taken_off = await session.execute(update(tables.list_entries).where(
            E.list_id == objection.list_id, E.entry_no == objection.entry_no, E.state == IN).values(
            state=UPHELD, state_reason=text))
        if taken_off.rowcount:  # a second objection upheld on the same student changes nothing more
            rules = await rules_for(session, aid_list.programme_code, aid_list.period, aid_list.rules_version)
            await emit_withdrawn(session, aid_list, rules, {objection.entry_no: text}, "objection_upheld")
            await tell_school(session, aid_list.school_code, aid_list.list_id, "objection_upheld",
                              f"第 {objection.entry_no} 号学生因异议成立移出名单：{text}")
    await session.execute(update(tables.objections).where(O.objection_id == objection_id).values(
        state="upheld" if decision == "uphold" else "dismissed", decided_by=who.subject,
        decided_at=datetime.now(UTC), decision_reason=text))
    await log(session, "objection", objection_id, decision, who, {"reason": text})
    return {"objection_id": objection_id, "state": "upheld" if decision == "uphold" else "dismissed"}
