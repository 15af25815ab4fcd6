"""Persistence helpers shared by disbursement's use cases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from disbursement.adapters import tables

P = tables.payments.c


def new_id(prefix: str) -> str:
    """A time-ordered id: prefix + microseconds (hex) + random."""
    return f"{prefix}{int(datetime.now(UTC).timestamp() * 1e6):012x}{uuid.uuid4().hex[:8]}"


async def log(session: AsyncSession, entity: str, entity_id: str, action: str, actor: str, detail: dict) -> None:
    await session.execute(insert(tables.audit_log).values(entity=entity, entity_id=entity_id, action=action,
                                                          actor=actor, detail=detail))
