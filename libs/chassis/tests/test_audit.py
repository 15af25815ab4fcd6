"""The hash-chained audit log on a real PostgreSQL: entries carry who (role, institution), what,
when and the trace; a changed or removed entry is found; concurrent writers keep one chain."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import MetaData, delete, select, update

from aid_chassis import audit, outbox
from aid_chassis.auth import Principal, Role
from aid_chassis.tables import ChassisTables
from aid_contracts import AuditRecorded

from .test_outbox_and_inbox import sessions_for

metadata = MetaData()
chassis = ChassisTables(metadata)
log_table = audit.audit_log_table(metadata, "t_audit_log")
log = audit.logger(log_table, chassis.outbox, "t")
SCHOOL = Principal("clerk-1", Role.SCHOOL, school_code="5201020001")
COUNTY = Principal("official-1", Role.COUNTY_BUREAU, region="520102")


@pytest.fixture
async def sessions(fresh_database):
    async for made in sessions_for(fresh_database, metadata):
        yield made


async def _write(sessions, n: int = 4) -> None:
    for i in range(n):
        async with sessions() as s, s.begin():
            await log(s, "task", f"T{i}", "answered", SCHOOL if i % 2 else COUNTY, {"status": "invalid", "n": i})


async def _verify(sessions) -> dict:
    async with sessions() as s:
        return await audit.verify(s, log_table)


async def test_entries_say_who_and_are_published_in_order(sessions):
    await _write(sessions)
    async with sessions() as s:
        rows = (await s.execute(select(log_table).order_by(log_table.c.id))).mappings().all()
        events = [env.parse(AuditRecorded) for _, env in await outbox.pending(s, chassis.outbox)]
    assert [(r["actor"], r["role"], r["institution"]) for r in rows[:2]] == [
        ("official-1", "county_bureau", "520102"), ("clerk-1", "school", "5201020001")]
    assert [r["prev_hash"] for r in rows[1:]] == [r["hash"] for r in rows[:-1]]
    assert [(e.entry_id, e.hash, e.service) for e in events] == [(r["id"], r["hash"], "t") for r in rows]
    assert await _verify(sessions) == {"table": "t_audit_log", "entries": 4, "head": rows[-1]["hash"], "problems": []}


async def test_a_changed_entry_is_found(sessions):
    await _write(sessions)
    async with sessions() as s, s.begin():
        await s.execute(update(log_table).where(log_table.c.entity_id == "T1").values(detail={"status": "verified"}))
    problems = (await _verify(sessions))["problems"]
    assert [p["problem"] for p in problems] == ["changed"] and problems[0]["entry"] == 2


async def test_a_removed_or_rehashed_entry_breaks_the_next_link(sessions):
    await _write(sessions)
    async with sessions() as s, s.begin():
        await s.execute(delete(log_table).where(log_table.c.entity_id == "T1"))
        row = (await s.execute(select(log_table).where(log_table.c.entity_id == "T2"))).mappings().one()
        forged = {**row, "actor": "someone-else"}
        await s.execute(update(log_table).where(log_table.c.id == row["id"]).values(
            actor="someone-else", hash=audit.entry_hash(row["prev_hash"], forged)))
    problems = (await _verify(sessions))["problems"]
    assert [(p["entry"], p["problem"]) for p in problems] == [(3, "link_broken"), (4, "link_broken")]


async def test_concurrent_writers_keep_one_chain(sessions):
    await asyncio.gather(*[_write(sessions, 5) for _ in range(4)])
    report = await _verify(sessions)
    assert (report["entries"], report["problems"]) == (20, [])
