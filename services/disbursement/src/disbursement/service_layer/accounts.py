"""Payments from final lists, and the bank cards they are paid to (registered or imported in bulk)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis.audit import new_id
from aid_chassis.auth import Principal
from aid_chassis.fields import FieldCipher
from aid_chassis.uploads import read_csv
from aid_contracts import Envelope, Published, Verified
from aid_contracts.keys import student_key
from aid_contracts.lifecycle import VALID
from disbursement.adapters import tables
from disbursement.domain.cards import CardRefused, check_card
from disbursement.service_layer.store import P, S, log

A = tables.accounts.c
_PHONE_DIGITS = 11


async def _enrolled_at(session: AsyncSession, key: str, facts, as_of) -> None:
    """Remember the school and county that answer for a student (their cards are theirs to register),
    as of the approval or list that says so: an older one arriving late changes nothing."""
    values = {"school_code": facts.school_code, "enrolment_region": facts.enrolment_region, "updated_at": func.now(),
              "as_of": as_of}
    stmt = pg_insert(tables.student_schools).values(student_key=key, **values)
    await session.execute(stmt.on_conflict_do_update(index_elements=["student_key"], set_=values,
                                                     where=tables.student_schools.c.as_of <= stmt.excluded.as_of))


async def on_verified(session: AsyncSession, envelope: Envelope) -> None:
    """A student approved as valid at a school: that school (and its county) may register their card."""
    event: Verified = envelope.parse(Verified)
    if event.status.value in VALID:
        await _enrolled_at(session, envelope.partitionkey, event.student, event.approved_at or event.verified_at)


async def on_published(session: AsyncSession, envelope: Envelope) -> None:
    """A final list entry becomes one payment; ready at once if the student has a card. The
    unique keys stop a second payment for the same list, or the same programme and period."""
    event: Published = envelope.parse(Published)
    key = envelope.partitionkey
    await _enrolled_at(session, key, event.student, event.published_at)
    if not event.final:
        return
    has_card = await session.scalar(select(A.student_key).where(A.student_key == key)) is not None
    created = await session.scalar(pg_insert(tables.payments).values(
        payment_id=new_id("P"), list_id=event.list_id, student_key=key, programme_code=event.programme_code,
        programme_name=event.programme_name, period=event.period, amount_fen=event.amount_fen,
        student=event.student.model_dump(mode="json"), region=event.student.enrolment_region,
    ).on_conflict_do_nothing().returning(P.payment_id))
    if created is not None:
        await session.execute(insert(tables.payment_states).values(
            payment_id=created, status="ready" if has_card else "awaiting_card"))


@dataclass(frozen=True)
class Card:
    id_number: str
    bank: str
    card_number: str
    phone: str | None = None


def _checked_phone(phone: str | None) -> str | None:
    if not phone:
        return None
    digits = phone.strip()
    if not (digits.isdigit() and len(digits) == _PHONE_DIGITS and digits.startswith("1")):
        raise CardRefused("bad_phone", "手机号须为 11 位 (the phone must be an 11-digit mobile number)")
    return digits


async def register(session: AsyncSession, who: Principal, card: Card, *, secret: bytes, cipher: FieldCipher) -> dict:
    """Register (or replace) a student's card; waiting and failed payments become ready."""
    number = check_card(card.bank, card.card_number)
    phone = _checked_phone(card.phone)
    key = student_key(card.id_number, secret)
    await _check_answers_for(session, who, key)
    values = {"bank": card.bank, "card_cipher": cipher.seal(number, key, "card"), "card_last4": number[-4:],
              "phone_cipher": cipher.seal(phone, key, "phone") if phone else None, "registered_by": who.subject,
              "school_code": who.school_code}
    await session.execute(pg_insert(tables.accounts).values(student_key=key, **values)
                          .on_conflict_do_update(index_elements=["student_key"], set_=values))
    ready = await session.execute(update(tables.payment_states).where(
        S.payment_id.in_(select(P.payment_id).where(P.student_key == key)),
        S.status.in_(("awaiting_card", "failed"))).values(status="ready"))
    await log(session, "bank_account", key, "registered", who, {"bank": card.bank, "last4": number[-4:]})
    return {"student_key": key, "bank": card.bank, "card": f"**** {number[-4:]}", "payments_ready": ready.rowcount}


async def _check_answers_for(session: AsyncSession, who: Principal, key: str) -> None:
    """Only the student's own school, or a county bureau over it, registers or replaces their card
    (anyone else could divert the payment)."""
    found = (await session.execute(select(tables.student_schools).where(
        tables.student_schools.c.student_key == key))).first()
    if found is None or not (who.is_school(found.school_code) or who.covers_region(found.enrolment_region)):
        raise CardRefused("not_your_student", "该学生不是本校（本县）已审核通过的学生，不能登记银行卡 (the student is not "
                                              "one your school or county has verified: you cannot register their card)")


HEADERS = {"身份证号": "id_number", "开户银行": "bank", "银行卡号": "card_number", "手机号": "phone"}


async def import_cards(session: AsyncSession, who: Principal, content: bytes, *, secret: bytes,
                       cipher: FieldCipher) -> dict:
    """Cards from a CSV (身份证号,开户银行,银行卡号[,手机号]); a result per row, read = accepted + rejected."""
    accepted, rejected = 0, []
    for row in read_csv(content, HEADERS, needs=[{"id_number"}, {"bank"}, {"card_number"}]):
        try:
            async with session.begin_nested():
                await register(session, who, Card(row.fields.get("id_number", ""), row.fields.get("bank", ""),
                                                  row.fields.get("card_number", ""), row.fields.get("phone")),
                               secret=secret, cipher=cipher)
            accepted += 1
        except CardRefused as exc:
            rejected.append({"row": row.row, "code": exc.code, "message": str(exc)})
    return {"read": accepted + len(rejected), "accepted": accepted, "rejected": len(rejected), "rejections": rejected}
