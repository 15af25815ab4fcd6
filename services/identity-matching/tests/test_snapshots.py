"""The roster and the departments' lists are kept sealed (service_layer/snapshots.py): no ID number
or name in the clear, rows stored before the vault still read, unchanged rows keep their batch."""

from __future__ import annotations

import asyncio

import pytest
from alembic import command
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from aid_chassis import bulk
from aid_chassis.migrations import alembic_config
from aid_chassis.fields import SealedFieldError
from aid_contracts.keys import student_key
from identity_matching.adapters import tables
from identity_matching.domain import export
from identity_matching.service_layer import amended, imports, snapshots
from tests.factories import FIELDS, id_number

from .conftest import BY, ROSTER

DEPARTMENTS = ["civil_affairs", "poverty_office"]
HEADER = "身份证号,姓名,类别,户籍所在地,脱贫状态,脱贫年份\n"


def _list(*seqs: int, renamed: int | None = None) -> bytes:
    return (HEADER + "".join(f"{id_number(i)},{'改名' if i == renamed else '学生'}{i},孤儿,520102,,\n"
                             for i in seqs)).encode()


async def _import_list(sessions, content: bytes):
    async with sessions() as s, s.begin():
        return await imports.import_department_list(s, department="civil_affairs", departments=DEPARTMENTS,
                                                    content=content, file_name="ca.csv", by=BY)


async def test_the_roster_and_lists_are_stored_sealed_with_no_row_in_the_clear(with_roster):
    await _import_list(with_roster, _list(1, 2, 900))
    async with with_roster() as s:
        assert await s.scalar(select(func.count()).select_from(tables.roster_students)) == 0
        assert await s.scalar(select(func.count()).select_from(tables.department_records)) == 0
        stored = (await s.execute(select(tables.sealed_snapshots.c.kind, tables.sealed_snapshots.c.scope,
                                         tables.sealed_snapshots.c.rows, tables.sealed_snapshots.c.sealed))).all()
        held: dict[tuple[str, str], int] = {}
        for kind, scope, rows, _ in stored:
            held[kind, scope] = held.get((kind, scope), 0) + rows
        assert held == {("department", "civil_affairs"): 3, ("roster", ""): 3, ("matches", ""): 2,
                        ("match_states", ""): 2}
        for *_, blob in stored:
            assert id_number(1).encode() not in blob and "学生1".encode() not in blob
        roster = await snapshots.load(s, snapshots.ROSTER, FIELDS)
        lists = await snapshots.load(s, snapshots.LIST, FIELDS, scopes=["civil_affairs"])
        counted = (await s.execute(select(tables.list_statistics.c.statistics))).scalars().all()
    assert counted == [{"by_category": {"orphan": 3}, "by_county": {"520102": 3}}]  # what GET /imports shows
    assert sorted(roster["id_number"]) == [id_number(i) for i in (1, 2, 3)]
    assert sorted(lists["id_number"]) == sorted(id_number(i) for i in (1, 2, 900))


async def test_a_snapshot_copied_under_another_name_does_not_open(with_roster):
    await _import_list(with_roster, _list(1))
    async with with_roster() as s, s.begin():
        await s.execute(update(tables.sealed_snapshots).where(tables.sealed_snapshots.c.scope == "civil_affairs")
                        .values(scope="poverty_office"))
        with pytest.raises(SealedFieldError):
            await snapshots.load(s, snapshots.LIST, FIELDS, scopes=["poverty_office"])


async def test_an_unchanged_row_keeps_the_batch_that_brought_it(with_roster):
    first = await _import_list(with_roster, _list(1, 2))
    second = await _import_list(with_roster, _list(1, 2, renamed=2))
    async with with_roster() as s:
        stored = await snapshots.load(s, snapshots.LIST, FIELDS, scopes=["civil_affairs"])
    batches = dict(zip(stored["id_number"], stored["batch_id"], strict=True))
    assert batches == {id_number(1): first.batch_id, id_number(2): second.batch_id}
    assert (second.matched_new, second.matched_changed) == (0, 1)


async def test_rows_stored_before_the_vault_are_read_and_moved_by_the_next_import(sessions):
    legacy = [{"student_key": student_key(id_number(i), BY.secret), "id_number": id_number(i), "name": f"学生{i}",
               "school_code": "5201020001", "stage": "primary", "enrolment_region": "520102",
               "household_region": "520102", "batch_id": "B-old"} for i in (1, 2)]
    async with sessions() as s, s.begin():
        await s.execute(insert(tables.roster_students), legacy)
        await s.execute(text("INSERT INTO roster_schools VALUES ('5201020001', 'primary', '520102', 2)"))
    report = await _import_list(sessions, _list(1, 900))
    assert (report.matched_new, report.not_enrolled) == (1, 1)  # the roster's legacy rows were read
    async with sessions() as s, s.begin():
        again = await imports.import_roster(s, content=ROSTER.encode(), file_name="r.csv", by=BY)
        assert await s.scalar(select(func.count()).select_from(tables.roster_students)) == 0
        assert sorted((await snapshots.load(s, snapshots.ROSTER, FIELDS))["id_number"]) == [
            id_number(i) for i in (1, 2, 3)]
        students = await s.scalar(select(func.sum(tables.roster_schools.c.students)))
    assert (again.matched_new, again.matched_changed, again.withdrawn, students) == (0, 0, 0, 3)



async def test_importing_the_same_roster_again_rewrites_no_part(with_roster):
    c = tables.sealed_snapshots.c
    async with with_roster() as s:
        before = (await s.execute(select(c.part, c.batch_id).where(c.kind == "roster"))).all()
    async with with_roster() as s, s.begin():
        again = await imports.import_roster(s, content=ROSTER.encode(), file_name="r.csv", by=BY)
    async with with_roster() as s:
        after = (await s.execute(select(c.part, c.batch_id).where(c.kind == "roster"))).all()
    assert sorted(after) == sorted(before) and again.batch_id not in {batch for _, batch in after}


async def _exported(s) -> list[str]:
    return [text for part in [p async for p in amended.each_part(s, amended.TEXTS, FIELDS)]
            for text in part["canonical"]]


async def test_matches_stored_before_the_vault_are_exported_then_moved_by_the_next_comparison(with_roster):
    await _import_list(with_roster, _list(1, 2))
    async with with_roster() as s, s.begin():  # as migration 0011 found them: the matches' rows with their texts
        texts = await amended.in_force(s, amended.TEXTS, FIELDS)
        states = await amended.in_force(s, amended.STATES, FIELDS)
        await bulk.copy_in(s, "matches", states.join(texts, on="student_key", how="left"))
        await s.execute(text("DELETE FROM sealed_snapshots WHERE kind IN ('matches', 'match_states')"))
    async with with_roster() as s:
        assert await _exported(s) == texts.sort("student_key")["canonical"].to_list()
        read = await amended.in_force(s, amended.STATES, FIELDS)  # the rows, while no part is sealed
        assert read.sort("student_key").equals(states.sort("student_key"))
    await _import_list(with_roster, _list(1, 2, 3))  # compares student 3 only
    async with with_roster() as s:
        assert await s.scalar(select(func.count()).select_from(tables.matches)) == 0  # moved into the parts
        exported = await _exported(s)
        moved = await amended.in_force(s, amended.STATES, FIELDS)
    assert len(exported) == 3 and set(texts["canonical"]) < set(exported)
    assert moved.height == 3 and moved.join(states, on=list(states.columns), how="semi").height == 2


async def _parts_and_ids(sessions) -> tuple[list[str], list[str]]:
    async with sessions() as s:
        parts = (await s.execute(select(tables.sealed_snapshots.c.part)
                                 .where(tables.sealed_snapshots.c.kind == "matches"))).scalars().all()
        texts = await amended.in_force(s, amended.TEXTS, FIELDS)
    return sorted(parts), sorted(export.row(t)[0] for t in texts["canonical"])


async def test_a_few_changed_matches_are_sealed_as_amendments_then_folded_into_the_parts(with_roster, monkeypatch):
    monkeypatch.setattr(amended, "FOLD_SHARE", 1)  # amend while the changes are no more than the parts' rows
    await _import_list(with_roster, _list(1, 2))
    parts, ids = await _parts_and_ids(with_roster)
    assert not [p for p in parts if p.startswith("~")] and ids == [id_number(1), id_number(2)]
    await _import_list(with_roster, _list(1, 2, renamed=2))  # one text changed
    await _import_list(with_roster, _list(1))  # one withdrawn
    parts, ids = await _parts_and_ids(with_roster)
    assert [p for p in parts if p.startswith("~")] == ["~00000001", "~00000002"] and ids == [id_number(1)]
    await _import_list(with_roster, _list(1, 2, 3))  # two more: folded
    parts, ids = await _parts_and_ids(with_roster)
    assert not [p for p in parts if p.startswith("~")] and ids == [id_number(i) for i in (1, 2, 3)]


async def test_a_departments_rows_stored_before_the_vault_are_compared_then_moved_by_its_next_list(with_roster):
    key = student_key(id_number(2), BY.secret)
    async with with_roster() as s, s.begin():
        await s.execute(insert(tables.department_records).values(
            department="poverty_office", student_key=key, category="registered_poor", id_number=id_number(2),
            name="学生2", household_region="520102", poverty_status="not_out", exit_year=None, batch_id="B-old"))
    await _import_list(with_roster, _list(2))  # civil_affairs: student 2 compared with both departments' rows
    async with with_roster() as s:
        [text_] = (await amended.in_force(s, amended.TEXTS, FIELDS))["canonical"].to_list()
    assert "registered_poor" in text_ and "orphan" in text_
    async with with_roster() as s, s.begin():
        again = await imports.import_department_list(
            s, department="poverty_office", departments=DEPARTMENTS, file_name="po.csv", by=BY,
            content=(HEADER + f"{id_number(2)},学生2,建档立卡,520102,未脱贫,\n").encode())
        assert await s.scalar(select(func.count()).select_from(tables.department_records)) == 0
    assert (again.matched_new, again.matched_changed, again.withdrawn) == (0, 0, 0)


async def test_going_back_past_0014_is_refused_once_the_matches_states_are_sealed(migrate, engine_for):
    url = migrate("identity_matching")
    config = alembic_config("identity_matching:migrations", url)
    await asyncio.to_thread(command.downgrade, config, "0013")  # nothing sealed yet: the rows are all there
    await asyncio.to_thread(command.upgrade, config, "head")
    sessions = async_sessionmaker(engine_for(url), expire_on_commit=False)
    async with sessions() as s, s.begin():
        await imports.import_roster(s, content=ROSTER.encode(), file_name="r.csv", by=BY)
    await _import_list(sessions, _list(1, 2))
    with pytest.raises(RuntimeError, match="past 0014"):
        await asyncio.to_thread(command.downgrade, config, "0013")
