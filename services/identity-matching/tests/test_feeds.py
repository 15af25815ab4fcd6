"""Department lists pushed on Kafka: staged until closed, then the same pipeline as a file."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select

from aid_contracts import DepartmentRecord, Envelope, ListImported
from identity_matching.adapters import tables
from identity_matching.service_layer import feeds, imports
from tests.factories import id_number

from .conftest import BY

CONTEXT = {"by": BY, "departments": ["civil_affairs"]}


@pytest.fixture
def sessions(with_roster):
    return with_roster


def _record(row: int, fields: dict) -> Envelope:
    event = DepartmentRecord(batch_id="CA-2026-11", department="civil_affairs", row=row, fields=fields)
    return Envelope.wrap(event, source="department:civil_affairs", key="CA-2026-11")


def _close(count: int) -> Envelope:
    event = ListImported(batch_id="CA-2026-11", list_kind="department", department="civil_affairs", read=count,
                         accepted=0, rejected=0, imported_at=datetime.now(UTC))
    return Envelope.wrap(event, source="department:civil_affairs", key="CA-2026-11")


async def _apply(sessions, handler, env):
    async with sessions() as s, s.begin():
        await handler(s, env, **CONTEXT)


async def _imports(sessions) -> list:
    async with sessions() as s:
        return (await s.execute(select(tables.import_batches).where(tables.import_batches.c.list_kind == "department")
                                )).all()


async def test_batch_is_imported_once_closed_and_complete_in_any_order(sessions):
    await _apply(sessions, feeds.on_record, _record(1, {"身份证号": id_number(1), "姓名": "学生1", "类别": "孤儿",
                                                         "户籍所在地": "520102"}))
    await _apply(sessions, feeds.on_list_imported, _close(3))  # closed before every record arrived
    assert await _imports(sessions) == []
    await _apply(sessions, feeds.on_record, _record(3, {"id_number": "bad", "name": "x", "category": "orphan",
                                                         "household_region": "520102"}))
    await _apply(sessions, feeds.on_record, _record(3, {"id_number": "bad", "name": "x", "category": "orphan",
                                                         "household_region": "520102"}))  # redelivered
    assert await _imports(sessions) == []
    await _apply(sessions, feeds.on_record, _record(2, {"id_number": id_number(2), "name": "学生2",
                                                         "category": "disabled", "household_region": "520102"}))
    [batch] = await _imports(sessions)
    assert (batch.read, batch.accepted, batch.rejected, batch.outcome["matched_new"]) == (3, 2, 1, 2)
    assert batch.rejections[0]["row"] == 3 and batch.rejections[0]["code"] == "bad_length"
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(tables.feed_records)) == 0
        [entry] = (await s.execute(select(tables.audit_log).where(tables.audit_log.c.action == "list_pushed"))).all()
    assert (entry.entity_id, entry.actor) == (batch.batch_id, "feed:department:civil_affairs")
    assert entry.detail == {"department": "civil_affairs", "feed_batch": "CA-2026-11", "read": 3, "accepted": 2,
                            "rejected": 1, "matched_new": 2, "matched_changed": 0, "withdrawn": 0}


async def test_own_list_imported_events_are_not_closes(sessions):
    own = _close(1).replace(source="identity-matching")
    await _apply(sessions, feeds.on_list_imported, own)
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(tables.feed_batches)) == 0


async def test_unknown_department_is_a_poison_message(sessions):
    event = DepartmentRecord(batch_id="X", department="tax_office", row=1, fields={})
    with pytest.raises(imports.UnknownDepartment):
        await _apply(sessions, feeds.on_record, Envelope.wrap(event, source="department:tax", key="X"))


async def test_staged_records_are_sealed_and_records_staged_before_sealing_still_import(sessions):
    await _apply(sessions, feeds.on_record, _record(1, {"身份证号": id_number(1), "姓名": "学生1", "类别": "孤儿",
                                                         "户籍所在地": "520102"}))
    async with sessions() as s, s.begin():
        [stored] = (await s.execute(select(tables.feed_records.c.fields))).scalars().all()
        assert id_number(1) not in str(stored) and "学生1" not in str(stored)
        await s.execute(insert(tables.feed_records).values(  # as staged before sealing began
            batch_id="CA-2026-11", row=2, fields={"id_number": id_number(2), "name": "学生2", "category": "disabled",
                                                  "household_region": "520102"}))
    await _apply(sessions, feeds.on_list_imported, _close(2))
    [batch] = await _imports(sessions)
    assert (batch.read, batch.accepted, batch.outcome["matched_new"]) == (2, 2, 2)
