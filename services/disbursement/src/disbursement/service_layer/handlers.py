"""Use cases of disbursement: payments from final lists, settled through the bank, ``paid`` out."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis import outbox
from aid_contracts import Envelope, Paid, Published
from aid_contracts.events import StudentFacts
from disbursement.adapters import tables
from disbursement.domain import bank

SOURCE = "disbursement"


async def on_published(session: AsyncSession, envelope: Envelope) -> None:
    """A final list entry becomes one pending payment; the unique key stops a second one."""
    event: Published = envelope.parse(Published)
    if not event.final:
        return
    await session.execute(pg_insert(tables.payments).values(
        payment_id=f"P{uuid.uuid4().hex[:20]}", list_id=event.list_id, student_key=envelope.partitionkey,
        programme_code=event.programme_code, programme_name=event.programme_name, period=event.period,
        amount_fen=event.amount_fen, student=event.student.model_dump(mode="json"), status="pending",
    ).on_conflict_do_nothing(constraint="one_payment_per_student_per_list"))


async def settle_pending(session: AsyncSession, batch_size: int = 500) -> int:
    """Send pending payments to the bank and record its results; returns how many were paid."""
    p = tables.payments.c
    rows = (await session.execute(select(tables.payments).where(p.status == "pending").order_by(p.created_at)
                                  .limit(batch_size).with_for_update(skip_locked=True))).all()
    if not rows:
        return 0
    by_id = {r.payment_id: r for r in rows}
    now = datetime.now(UTC)
    events = []
    for result in bank.settle(list(by_id)):
        if not result.paid:
            continue
        row = by_id[result.payment_id]
        await session.execute(update(tables.payments).where(p.payment_id == row.payment_id).values(
            status="paid", bank_reference=result.reference, paid_on=now.date()))
        event = Paid(payment_id=row.payment_id, list_id=row.list_id, programme_code=row.programme_code,
                     programme_name=row.programme_name, period=row.period, amount_fen=row.amount_fen,
                     student=StudentFacts(**row.student), bank_reference=result.reference,
                     paid_on=now.date(), paid_at=now)
        events.append((Paid.TOPIC, Envelope.wrap(event, source=SOURCE, key=row.student_key)))
    await outbox.add_many(session, tables.chassis.outbox, events)
    return len(events)
