"""A comparison round: several departments' lists stored, then compared once."""

from __future__ import annotations

import polars as pl
import pytest
from sqlalchemy import text

from aid_chassis import outbox
from aid_chassis.fields import FieldCipher, ShreddedFieldError
from aid_contracts.keys import student_key
from identity_matching.adapters import tables
from identity_matching.domain.files import UnreadableFile
from identity_matching.service_layer import amended, coverage, data_keys, imports, rematch
from tests.factories import FIELD_KEYS, FIELDS, id_number

from .conftest import BY, ROSTER

DEPARTMENTS = ["civil_affairs", "poverty_office", "trade_union"]
HEADER = "身份证号,姓名,类别,户籍所在地,脱贫状态,脱贫年份\n"


async def test_a_student_on_two_new_lists_gets_one_event_with_both_categories(with_roster):
    uploads = [("civil_affairs", (HEADER + f"{id_number(1)},学生1,孤儿,520102,,\n").encode(), "ca.csv"),
               ("poverty_office", (HEADER + f"{id_number(1)},学生1,建档立卡,520102,未脱贫,\n"
                                   f"{id_number(2)},学生2,建档立卡,520102,已脱贫,2018\n").encode(), "po.csv")]
    async with with_roster() as s, s.begin():
        report = await imports.import_department_lists(s, uploads=uploads, departments=DEPARTMENTS, by=BY)
    assert (report.matched_new, report.matched_changed, report.withdrawn) == (1, 0, 0)  # student 2: out since 2018
    assert [(r.department, r.read, r.accepted, r.matched, r.not_enrolled) for r in report.lists] == [
        ("civil_affairs", 1, 1, 1, 0), ("poverty_office", 2, 2, 1, 0)]
    async with with_roster() as s:
        events = [e for _, e in await outbox.pending(s, tables.chassis.outbox) if e.type == "student-matched"]
        student, key = events[0].data["student"], events[0].partitionkey  # sealed under the student's data key
        opener = FieldCipher.from_text(FIELD_KEYS)  # the ring alone, as a process without the data keys
        with pytest.raises(ShreddedFieldError):
            opener.open_student(student, key)
        await data_keys.known_here(s, opener)
    assert len(events) == 1
    assert sorted(c["category"] for c in events[0].data["categories"]) == ["orphan", "registered_poor"]
    assert student["id_number"].startswith("pd1:") and student["name"].startswith("pd1:")
    assert opener.open_student(student, key)["id_number"] == id_number(1)
    assert opener.open_student(student, key)["name"] == "学生1"
    assert events[0].data["batch_id"] == report.round_id


async def test_a_row_a_list_kept_keeps_the_batch_it_came_in(with_roster):
    """A person compared again for another list's change: the row their re-sent, unchanged list kept
    still came in its first batch, as stored — and comparing them again finds nothing changed."""
    civil = (HEADER + f"{id_number(1)},学生1,孤儿,520102,,\n").encode()
    async with with_roster() as s, s.begin():
        first = await imports.import_department_lists(s, uploads=[("civil_affairs", civil, "ca.csv")],
                                                      departments=DEPARTMENTS, by=BY)
    uploads = [("civil_affairs", civil, "ca2.csv"),
               ("poverty_office", (HEADER + f"{id_number(1)},学生1,建档立卡,520102,未脱贫,\n").encode(), "po.csv")]
    async with with_roster() as s, s.begin():
        second = await imports.import_department_lists(s, uploads=uploads, departments=DEPARTMENTS, by=BY)
    assert (second.matched_new, second.matched_changed) == (0, 1)
    async with with_roster() as s:
        [changed] = [e for _, e in await outbox.pending(s, tables.chassis.outbox)
                     if e.type == "student-matched" and e.data["change"] == "changed"]
    assert changed.data["source_batches"] == sorted([first.lists[0].batch_id, second.lists[1].batch_id])
    async with with_roster() as s, s.begin():
        again = await rematch.rematch(s, {student_key(id_number(1), BY.secret)}, batch_id="B-again", policy=BY.policy,
                                      fields=BY.fields)
    assert not again


async def test_a_round_refuses_unknown_or_repeated_departments_and_names_the_bad_file(with_roster):
    good = (HEADER + f"{id_number(1)},学生1,孤儿,520102,,\n").encode()
    async with with_roster() as s, s.begin():
        with pytest.raises(imports.UnknownDepartment):
            await imports.import_department_lists(s, uploads=[("police", good, "p.csv")], departments=DEPARTMENTS,
                                                  by=BY)
        with pytest.raises(imports.UnknownDepartment):
            await imports.import_department_lists(s, uploads=[("civil_affairs", good, "a.csv")] * 2,
                                                  departments=DEPARTMENTS, by=BY)
        with pytest.raises(UnreadableFile, match="tu.csv"):
            await imports.import_department_lists(
                s, uploads=[("civil_affairs", good, "a.csv"), ("trade_union", b"\xe8\xba\xab\n1\n", "tu.csv")],
                departments=DEPARTMENTS, by=BY)


async def test_coverage_counts_agree_whether_seen_by_the_comparison_probed_or_joined(with_roster):
    uploads = [("civil_affairs", (HEADER + f"{id_number(1)},学生1,孤儿,520102,,\n"
                                  f"{id_number(900)},不在校,孤儿,520102,,\n").encode(), "ca.csv"),
               ("poverty_office", (HEADER + f"{id_number(1)},学生1,建档立卡,520102,未脱贫,\n"
                                   f"{id_number(2)},学生2,建档立卡,520102,已脱贫,2018\n").encode(), "po.csv")]
    async with with_roster() as s, s.begin():  # new lists: everyone on them compared, counted from that
        report = await imports.import_department_lists(s, uploads=uploads, departments=DEPARTMENTS, by=BY)
        probed = await coverage.in_transaction(s, DEPARTMENTS, 4, BY.fields)  # both plans
        joined = await coverage.in_transaction(s, DEPARTMENTS, coverage.PROBE_UP_TO + 1, BY.fields)
    assert probed == joined == {"civil_affairs": (1, 1), "poverty_office": (2, 1)}
    seen = {r.department: (2 - r.not_enrolled, r.matched) for r in report.lists}
    assert seen == probed


@pytest.mark.parametrize("rows, expected", [
    ([f"{id_number(1)},学生1,孤儿,520102,,", f"{id_number(900)},不在校,孤儿,520102,,",
      f"{id_number(3)},学生3,孤儿,520102,,"], (2, 1)),  # one person more
    ([f"{id_number(1)},学生一,孤儿,520102,,", f"{id_number(900)},不在校,孤儿,520102,,"], (1, 1)),  # a matched row changed
    ([f"{id_number(900)},不在校,孤儿,520102,,", f"{id_number(2)},学生2,孤儿,520102,,"], (1, 1)),  # one left, one came
])
async def test_a_replaced_lists_coverage_counts_who_is_on_it_now(with_roster, rows, expected):
    first = [("civil_affairs", (HEADER + f"{id_number(1)},学生1,孤儿,520102,,\n"
                                f"{id_number(900)},不在校,孤儿,520102,,\n").encode(), "ca.csv"),
             ("poverty_office", (HEADER + f"{id_number(1)},学生1,建档立卡,520102,未脱贫,\n"
                                 f"{id_number(2)},学生2,建档立卡,520102,已脱贫,2018\n").encode(), "po.csv")]
    async with with_roster() as s, s.begin():
        await imports.import_department_lists(s, uploads=first, departments=DEPARTMENTS, by=BY)
    again = [("civil_affairs", (HEADER + "\n".join(rows) + "\n").encode(), "ca2.csv")]
    async with with_roster() as s, s.begin():  # not everyone compared again: counted in the transaction
        report = await imports.import_department_lists(s, uploads=again, departments=DEPARTMENTS, by=BY)
        reference = await coverage.in_transaction(s, ["civil_affairs"], len(rows), BY.fields)
    enrolled, matched = reference["civil_affairs"]
    assert (report.lists[0].matched, report.lists[0].not_enrolled) == (matched, len(rows) - enrolled) == expected


async def _recounted(s) -> dict[str, tuple[int, int]]:
    return await coverage.in_transaction(s, DEPARTMENTS, 10, BY.fields)


async def test_a_round_moves_every_kept_coverage_by_what_it_compared(with_roster):
    """A person on two lists: the second list's round makes her a match on the first one's count too."""
    first = [("poverty_office", (HEADER + f"{id_number(1)},学生1,建档立卡,520102,未脱贫,\n"
                                 f"{id_number(2)},学生2,建档立卡,520102,已脱贫,2018\n"
                                 f"{id_number(901)},不在校,建档立卡,520102,未脱贫,\n").encode(), "po.csv"),
             ("civil_affairs", (HEADER + f"{id_number(1)},学生1,孤儿,520102,,\n").encode(), "ca.csv")]
    async with with_roster() as s, s.begin():
        await imports.import_department_lists(s, uploads=first, departments=DEPARTMENTS, by=BY)
    rounds = [  # student 2 (out since 2018) becomes a match through civil affairs; then leaves its list
        [f"{id_number(1)},学生1,孤儿,520102,,", f"{id_number(2)},学生2,孤儿,520102,,"],
        [f"{id_number(1)},学生1,孤儿,520102,,", f"{id_number(902)},不在校,孤儿,520102,,"],
        [f"{id_number(1)},学生1,孤儿,520102,,", f"{id_number(902)},不在校,孤儿,520102,,"],  # the same again
    ]
    expected = [{"poverty_office": (2, 2), "civil_affairs": (2, 2)}, {"poverty_office": (2, 1), "civil_affairs": (1, 1)}]
    expected.append(expected[-1])
    for rows, counts in zip(rounds, expected, strict=True):
        again = [("civil_affairs", (HEADER + "\n".join(rows) + "\n").encode(), "ca2.csv")]
        async with with_roster() as s, s.begin():
            report = await imports.import_department_lists(s, uploads=again, departments=DEPARTMENTS, by=BY)
            kept = {d: (e, m) for d, e, m in (await s.execute(text(
                "SELECT department, enrolled, matched FROM list_coverage WHERE comparison = "
                "(SELECT last FROM comparisons)"))).all()}
            assert kept == await _recounted(s) == counts
        assert (report.lists[0].matched, 2 - report.lists[0].not_enrolled) == counts["civil_affairs"][::-1]


async def test_after_a_roster_import_a_list_is_counted_again(with_roster):
    first = [("civil_affairs", (HEADER + f"{id_number(1)},学生1,孤儿,520102,,\n"
                                f"{id_number(4)},学生4,孤儿,520102,,\n").encode(), "ca.csv")]
    async with with_roster() as s, s.begin():
        report = await imports.import_department_lists(s, uploads=first, departments=DEPARTMENTS, by=BY)
    assert (report.lists[0].matched, report.lists[0].not_enrolled) == (1, 1)
    async with with_roster() as s, s.begin():  # student 4 enrols: the kept count is one comparison behind
        await imports.import_roster(s, content=(ROSTER + f"{id_number(4)},学生4,5201020001,小学,520102,520102\n")
                                    .encode(), file_name="r2.csv", by=BY)
    again = [("civil_affairs", (HEADER + f"{id_number(1)},学生1,孤儿,520102,,\n"
                                f"{id_number(4)},学生4,孤儿,520102,,\n{id_number(903)},不在校,孤儿,520102,,\n")
              .encode(), "ca2.csv")]
    async with with_roster() as s, s.begin():
        report = await imports.import_department_lists(s, uploads=again, departments=DEPARTMENTS, by=BY)
        assert await _recounted(s) == {"civil_affairs": (2, 2)}
    assert (report.lists[0].matched, report.lists[0].not_enrolled) == (2, 1)


@pytest.mark.parametrize("fold_share", [0, 10], ids=["amendments-over-parts", "folded-into-parts"])
async def test_a_round_finds_the_prior_matches_in_the_parts_and_their_amendments(with_roster, monkeypatch,
                                                                               fold_share):
    """A round reads the matches' states from their parts with the amendments over them
    (``amended.load``): changed and withdrawn are told apart from new the same way either way, and
    a withdrawn match matched again goes on from its revision under its id."""
    monkeypatch.setattr(amended, "FOLD_SHARE", fold_share)  # 0: every change after the first an amendment
    first = HEADER + "".join(f"{id_number(i)},学生{i},孤儿,520102,,\n" for i in (1, 2))
    second = HEADER + f"{id_number(1)},学生1,孤儿,520102,,\n{id_number(3)},学生3,建档立卡,520102,未脱贫,\n"
    reports, twos, parts = [], [], []
    two = student_key(id_number(2), BY.secret)
    for content, department in ((first, "civil_affairs"), (second, "civil_affairs"), (first, "poverty_office")):
        async with with_roster() as s, s.begin():
            reports.append(await imports.import_department_lists(
                s, uploads=[(department, content.encode(), "l.csv")], departments=DEPARTMENTS, by=BY))
        async with with_roster() as s:
            parts += (await s.execute(text("SELECT part FROM sealed_snapshots WHERE kind = 'match_states'"))).scalars()
            states = await amended.in_force(s, amended.STATES, FIELDS)
        twos.append(states.filter(pl.col("student_key") == two).select("match_id", "revision", "active").row(0))
    assert [(r.matched_new, r.matched_changed, r.withdrawn) for r in reports] == [(2, 0, 0), (1, 0, 1), (1, 1, 0)]
    assert any(p.startswith("~") for p in parts) == (fold_share == 0)
    assert states.height == 3 and states["active"].all()
    assert [(revision, active) for _, revision, active in twos] == [(1, True), (2, False), (3, True)]
    assert len({match_id for match_id, _, _ in twos}) == 1


@pytest.mark.parametrize("large", [False, True], ids=["keys-opened", "every-part-opened"])
async def test_a_roster_import_compares_those_on_a_list_or_with_a_match(with_roster, monkeypatch, large):
    """A roster's import narrows its keys to those on a list or with a prior match
    (``rematch._relevant``), from every part of the matches' states at ``LARGE`` keys or more."""
    if large:
        monkeypatch.setattr(rematch, "LARGE", 1)
    listed = HEADER + "".join(f"{id_number(i)},学生{i},孤儿,520102,,\n" for i in (1, 2))
    async with with_roster() as s, s.begin():
        await imports.import_department_lists(s, uploads=[("civil_affairs", listed.encode(), "l.csv")],
                                              departments=DEPARTMENTS, by=BY)
    header, first, _, third = ROSTER.splitlines()  # student 2 leaves the roster
    async with with_roster() as s, s.begin():
        report = await imports.import_roster(s, content=f"{header}\n{first}\n{third}\n".encode(),
                                             file_name="r.csv", by=BY)
    assert (report.matched_new, report.matched_changed, report.withdrawn, report.matched) == (0, 0, 1, 1)


@pytest.mark.parametrize("made_up", [False, True], ids=["student-keys", "made-up-owners"])
async def test_data_keys_are_issued_in_the_owners_order_once_each_and_kept_in_their_buckets(sessions, made_up):
    owners = [f"owner-{c}" if made_up else c + c.upper() * 63 for c in "5f59"]  # the first twice
    async with sessions() as s, s.begin():
        keys = await data_keys.issue(s, owners, FIELDS)
    async with sessions() as s, s.begin():
        again = await data_keys.issue(s, [owners[3], "a" * 64, owners[0]], FIELDS)
        known = await data_keys.known_here(s, FieldCipher.from_text(FIELD_KEYS))
    assert len(keys) == 4 and keys[0] == keys[2] and len({keys[0], keys[1], keys[3]}) == 3
    assert again[0] == keys[3] and again[2] == keys[0]  # issued before: the same key
    assert again[1] not in keys and all(len(k) == 32 for k in again)
    for owner, key in zip([*owners, "a" * 64], [*keys, again[1]], strict=True):
        assert known.key_of(owner) == key  # as a follower of the topic finds it
