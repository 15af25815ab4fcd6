"""Imports and re-comparison on a real database: every row accounted for, only changes emitted."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from aid_chassis import outbox
from identity_matching.adapters import tables
from identity_matching.domain import export
from identity_matching.domain.files import UnreadableFile
from identity_matching.service_layer import amended, imports, personal
from tests.factories import id_number

from .conftest import BY, ROSTER

DEPARTMENTS = ["civil_affairs", "poverty_office"]


def _list(*rows: str) -> bytes:
    return ("身份证号,姓名,类别,户籍所在地,脱贫状态,脱贫年份\n" + "".join(r + "\n" for r in rows)).encode("gbk")


async def _outbox_types(sessions) -> list[str]:
    """The comparison's events in order (the roster's institutions are tested with the API)."""
    async with sessions() as s:
        return [envelope.type for _, envelope in await outbox.pending(s, tables.chassis.outbox)
                if envelope.type != "institution-changed"]


async def _import_list(sessions, content: bytes):
    async with sessions() as s, s.begin():
        return await imports.import_department_list(s, department="civil_affairs", departments=DEPARTMENTS,
                                                    content=content, file_name="l.csv", by=BY)


async def test_matching_then_recomparison_emits_only_changes(sessions):
    async with sessions() as s, s.begin():
        roster = await imports.import_roster(s, content=ROSTER.encode(), file_name="r.csv", by=BY)
    assert (roster.read, roster.accepted, roster.rejected, roster.matched_new) == (3, 3, 0, 0)

    first = await _import_list(sessions, _list(f"{id_number(1)},学生1,orphan,520102,,", f"{id_number(2)},学声2,孤儿,520102,,",
                                               f"{id_number(9, '520103')},成人,低保,520103,,", "123,坏行,孤儿,520102,,"))
    assert (first.read, first.accepted, first.rejected, first.matched_new) == (4, 3, 1, 2)
    assert (first.not_enrolled, first.matched) == (1, 2)
    async with sessions() as s:
        outcome, kept = (await s.execute(select(tables.import_batches.c.outcome, tables.import_batches.c.rejections)
                                         .where(tables.import_batches.c.batch_id == first.batch_id))).one()
    assert [r["raw"] for r in kept] != ["123"]  # sealed at rest, opened where shown:
    assert personal.open_rejections(kept, first.batch_id, BY.fields) == first.rejections
    assert outcome["statistics"] == {"by_category": {"minimum_allowance": 1, "orphan": 2},
                                     "by_county": {"520102": 2, "520103": 1}}
    assert [(r["row"], r["field"], r["code"], r["raw"]) for r in first.rejections] == [(5, "id_number", "bad_length", "123")]

    same = await _import_list(sessions, _list(f"{id_number(1)},学生1,orphan,520102,,", f"{id_number(2)},学声2,孤儿,520102,,"))
    assert (same.matched_new, same.matched_changed, same.withdrawn) == (0, 0, 0)

    fewer = await _import_list(sessions, _list(f"{id_number(1)},学生1,orphan,520102,,"))
    assert (fewer.matched_new, fewer.withdrawn) == (0, 1)
    assert await _outbox_types(sessions) == ["list-imported", "student-matched", "student-matched", "list-imported",
                                             "list-imported", "student-match-withdrawn", "list-imported"]


async def test_unknown_department_and_missing_columns_are_refused(sessions):
    with pytest.raises(imports.UnknownDepartment):
        async with sessions() as s, s.begin():
            await imports.import_department_list(s, department="tax", departments=DEPARTMENTS, content=b"",
                                                 file_name="x", by=BY)
    with pytest.raises(UnreadableFile, match="category"):
        await _import_list(sessions, "身份证号,姓名\n1,2\n".encode())
    assert await _outbox_types(sessions) == []


async def test_exact_repeats_count_once_and_conflicting_repeats_are_rejected(sessions):
    row = f"{id_number(1)},学生1,orphan,520102,,"
    conflicting = f"{id_number(1)},学生1,orphan,520103,,"
    report = await _import_list(sessions, _list(row, row, conflicting))
    assert (report.read, report.accepted, report.rejected, report.repeated_rows) == (3, 2, 1, 1)
    assert (report.rejections[0]["row"], report.rejections[0]["code"]) == (4, "conflicting_duplicate")


async def _import_roster(sessions, text: str):
    async with sessions() as s, s.begin():
        return await imports.import_roster(s, content=text.encode(), file_name="r.csv", by=BY)


async def test_roster_is_a_snapshot_and_repeated_students_are_flagged(sessions):
    await _import_roster(sessions, ROSTER)
    await _import_list(sessions, _list(f"{id_number(1)},学生1,orphan,520102,,", f"{id_number(2)},学生2,orphan,520102,,"))
    again = await _import_roster(sessions, ROSTER)
    assert (again.matched_new, again.matched_changed, again.withdrawn, again.matched) == (0, 0, 0, 2)

    header, *rows = ROSTER.splitlines()
    second_school = f"{id_number(1)},学生1,5201020002,小学,520102,520102"
    changed = await _import_roster(sessions, "\n".join([header, rows[0], second_school, rows[2]]) + "\n")
    assert (changed.read, changed.rejected, changed.matched_changed, changed.withdrawn) == (3, 0, 1, 1)
    async with sessions() as s:
        [canonical] = (await amended.in_force(s, amended.TEXTS, BY.fields))["canonical"].to_list()
        assert await s.scalar(select(func.count()).select_from(tables.matches)) == 0  # texts and states sealed
    assert export.row(canonical)[-1] == "repeated_student" and canonical.split("\x1f")[7] == "5201020002"
