"""What services share for their own records: time-ordered ids, timestamp columns, and an audit
log (who did what, when) — a table each service owns in its own database.

The audit log is hash-chained: each entry stores the hash of the one before it and its own hash
over that and its fields, so a changed entry (or one removed from the middle) breaks the chain
(``verify``). Appending takes a transaction-scoped advisory lock on the log, so entries are
chained in the order they commit; only people's actions and exports are recorded, never a bulk
consumer's rows, so the lock is not on a bulk path. Each entry is also published
(``audit-recorded``) through the service's outbox, in the same transaction, for reporting's search.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from opentelemetry import trace
from sqlalchemy import BigInteger, Column, DateTime, Identity, MetaData, String, Table, func, insert, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis import outbox
from aid_chassis.auth import Principal
from aid_contracts import AuditRecorded, Envelope

GENESIS = "0" * 64  # the "previous hash" of a log's first entry
HASHED = ("entity", "entity_id", "action", "actor", "role", "institution", "detail", "at", "trace_id")


def new_id(prefix: str) -> str:
    """A time-ordered id: ``prefix`` + 12 hex digits of microseconds + 8 random hex digits."""
    return f"{prefix}{int(datetime.now(UTC).timestamp() * 1e6):012x}{uuid.uuid4().hex[:8]}"


def new_ids(prefix: str, n: int) -> list[str]:
    """``n`` ids of ``new_id``'s form for a batch (its tasks), in order: the microseconds of the call
    plus the id's place in the batch, the random digits read from the system at once (one ``uuid4``
    each cost a system call and an object)."""
    stamp, digits = int(datetime.now(UTC).timestamp() * 1e6), os.urandom(4 * n).hex()
    return [f"{prefix}{stamp + i:012x}{digits[8 * i:8 * i + 8]}" for i in range(n)]


def timestamp(name: str, *, nullable: bool = True) -> Column:
    """A timezone-aware timestamp column; a required one defaults to now()."""
    return Column(name, DateTime(timezone=True), nullable=nullable,
                  **({} if nullable else {"server_default": func.now()}))


def audit_log_table(metadata: MetaData, name: str) -> Table:
    """A service's audit log: entity, id, action, actor with role and institution, detail (no
    personal data), time, trace id, and the chain's hashes."""
    return Table(
        name, metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("entity", String(40), nullable=False),
        Column("entity_id", String(100), nullable=False),
        Column("action", String(40), nullable=False),
        Column("actor", String(100), nullable=False),
        Column("detail", JSONB, nullable=False),
        timestamp("at", nullable=False),
        Column("role", String(30)),
        Column("institution", String(40)),
        Column("trace_id", String(32)),
        Column("prev_hash", String(64), nullable=False),
        Column("hash", String(64), nullable=False),
    )


def entry_hash(prev_hash: str, entry: Mapping) -> str:
    """SHA-256 over the previous entry's hash and this entry's fields (canonical JSON, UTC time)."""
    body = {name: entry[name] for name in HASHED}
    body["at"] = entry["at"].astimezone(UTC).isoformat()
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev_hash + text).encode()).hexdigest()


def _actor(who: Principal | str) -> dict:
    if isinstance(who, str):
        return {"actor": who, "role": None, "institution": None}
    return {"actor": who.subject, "role": who.role.value,
            "institution": who.school_code or who.region or who.department}


def _trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None


async def record(session: AsyncSession, table: Table, entity: str, entity_id: str, action: str,
                 who: Principal | str, detail: dict, *, outbox_table: Table | None = None,
                 service: str | None = None) -> int:
    """Append one entry to the chain, in the caller's transaction, and publish it when the
    service's ``outbox_table`` is given; returns its id (later entries have larger ones)."""
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(table.name))))
    prev_hash = await session.scalar(select(table.c.hash).order_by(table.c.id.desc()).limit(1)) or GENESIS
    entry = {"entity": entity, "entity_id": entity_id, "action": action, **_actor(who), "detail": detail,
             "at": datetime.now(UTC), "trace_id": _trace_id()}
    digest = entry_hash(prev_hash, entry)
    entry_id = await session.scalar(insert(table).values(**entry, prev_hash=prev_hash, hash=digest)
                                    .returning(table.c.id))
    if outbox_table is not None:
        event = AuditRecorded(service=service or table.name, entry_id=entry_id, **entry, prev_hash=prev_hash,
                              hash=digest)
        await outbox.add(session, outbox_table, event.TOPIC, Envelope.wrap(event, source=event.service,
                                                                           key=event.service))
    return entry_id


def logger(table: Table, outbox_table: Table, service: str):
    """A service's ``log(session, entity, entity_id, action, who, detail) -> entry id``: ``record``
    bound to its audit-log table, outbox and name."""
    async def log(session: AsyncSession, entity: str, entity_id: str, action: str, who: Principal | str,
                  detail: dict) -> int:
        return await record(session, table, entity, entity_id, action, who, detail, outbox_table=outbox_table,
                            service=service)

    return log


async def verify(session: AsyncSession, table: Table) -> dict:
    """Walk the chain in id order: a changed entry no longer matches its hash; a removed (or
    re-hashed) one breaks the next entry's link. Returns the count, the head hash and problems."""
    prev_hash, entries, problems = GENESIS, 0, []
    result = await session.stream(select(table).order_by(table.c.id).execution_options(yield_per=2000))
    async for row in result.mappings():
        entries += 1
        if row["prev_hash"] != prev_hash:
            problems.append({"entry": row["id"], "problem": "link_broken",
                             "message": f"第 {row['id']} 条之前的记录被删除或改动 (an entry before {row['id']} "
                                        "was removed or changed)"})
        if entry_hash(row["prev_hash"], row) != row["hash"]:
            problems.append({"entry": row["id"], "problem": "changed",
                             "message": f"第 {row['id']} 条记录被改动 (entry {row['id']} was changed)"})
        prev_hash = row["hash"]
    return {"table": table.name, "entries": entries, "head": prev_hash, "problems": problems}


def verify_command(table: Table) -> tuple[str, Callable]:
    """``python -m <service> audit-verify``: the chain's report as JSON; exit 1 when it is broken."""
    def run(settings) -> int:
        from aid_chassis import db

        async def check() -> dict:
            engine = db.make_engine(settings)
            try:
                async with db.make_sessions(engine)() as session:
                    return await verify(session, table)
            finally:
                await engine.dispose()

        report = asyncio.run(check())
        print(json.dumps(report, ensure_ascii=False))
        return 1 if report["problems"] else 0

    return "check the audit log's hash chain (a changed or removed entry)", run


def create_audit_log(name: str) -> None:
    """Alembic: create a service's audit-log table (its layout as ``audit_log_table``, unchained
    columns first; ``chain_audit_log`` adds the rest)."""
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


def chain_audit_log(name: str) -> None:
    """Alembic: add role, institution, trace id and the chain to an audit log, hashing the entries
    already there in id order."""
    import sqlalchemy as sa
    from alembic import op

    for column in (sa.Column("role", sa.String(30)), sa.Column("institution", sa.String(40)),
                   sa.Column("trace_id", sa.String(32)), sa.Column("prev_hash", sa.String(64)),
                   sa.Column("hash", sa.String(64))):
        op.add_column(name, column)
    bind, prev_hash = op.get_bind(), GENESIS
    for row in bind.execute(sa.text(f"SELECT * FROM {name} ORDER BY id")).mappings().all():
        digest = entry_hash(prev_hash, row)
        bind.execute(sa.text(f"UPDATE {name} SET prev_hash = :p, hash = :h WHERE id = :i"),
                     {"p": prev_hash, "h": digest, "i": row["id"]})
        prev_hash = digest
    op.alter_column(name, "prev_hash", nullable=False)
    op.alter_column(name, "hash", nullable=False)


def unchain_audit_log(name: str) -> None:
    """Alembic: undo ``chain_audit_log``."""
    from alembic import op

    for column in ("hash", "prev_hash", "trace_id", "institution", "role"):
        op.drop_column(name, column)
