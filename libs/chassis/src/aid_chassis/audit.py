"""What services share for their own records: time-ordered ids, timestamp columns, and an audit
log (who did what, when) — a table each service owns in its own database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, DateTime, Identity, MetaData, String, Table, func, insert
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession


def new_id(prefix: str) -> str:
    """A time-ordered id: ``prefix`` + 12 hex digits of microseconds + 8 random hex digits."""
    return f"{prefix}{int(datetime.now(UTC).timestamp() * 1e6):012x}{uuid.uuid4().hex[:8]}"


def timestamp(name: str, *, nullable: bool = True) -> Column:
    """A timezone-aware timestamp column; a required one defaults to now()."""
    return Column(name, DateTime(timezone=True), nullable=nullable,
                  **({} if nullable else {"server_default": func.now()}))


def audit_log_table(metadata: MetaData, name: str) -> Table:
    """A service's audit log: entity, id, action, actor, detail (no personal data), time."""
    return Table(
        name, metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("entity", String(40), nullable=False),
        Column("entity_id", String(100), nullable=False),
        Column("action", String(40), nullable=False),
        Column("actor", String(100), nullable=False),
        Column("detail", JSONB, nullable=False),
        timestamp("at", nullable=False),
    )


async def record(session: AsyncSession, table: Table, entity: str, entity_id: str, action: str, actor: str,
                 detail: dict) -> int:
    """One audit-log row, in the caller's transaction; its id (later entries have larger ones)."""
    return await session.scalar(insert(table).values(entity=entity, entity_id=entity_id, action=action, actor=actor,
                                                     detail=detail).returning(table.c.id))


def create_audit_log(name: str) -> None:
    """Alembic: create a service's audit-log table (its layout as ``audit_log_table``)."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(name,
                    sa.Column("id", sa.BigInteger(), sa.Identity(always=False), primary_key=True),
                    sa.Column("entity", sa.String(40), nullable=False),
                    sa.Column("entity_id", sa.String(100), nullable=False),
                    sa.Column("action", sa.String(40), nullable=False),
                    sa.Column("actor", sa.String(100), nullable=False),
                    sa.Column("detail", JSONB, nullable=False),
                    sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")))
