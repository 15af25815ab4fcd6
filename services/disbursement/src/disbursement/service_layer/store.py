"""Persistence helpers shared by disbursement's use cases."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis import audit
from disbursement.adapters import tables

P, S = tables.payments.c, tables.payment_states.c


async def log(session: AsyncSession, entity: str, entity_id: str, action: str, actor: str, detail: dict) -> None:
    """The audit trail of this service's writes (who, what, when)."""
    await audit.record(session, tables.audit_log, entity, entity_id, action, actor, detail)
