"""Typo'd ID numbers: suggested when one roster student fits, accepted by a person, remembered."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from aid_contracts import student_key
from identity_matching.adapters import tables
from identity_matching.domain import export
from identity_matching.domain.typos import one_edit_away
from identity_matching.service_layer import amended, candidates, imports, snapshots
from tests.factories import id_number

from .conftest import BY


def _typo(number: str) -> str:
    """The number with two neighbouring digits swapped (a classic typing error)."""
    return number[:8] + number[9] + number[8] + number[10:]


def _list(*rows: str) -> bytes:
    return ("身份证号,姓名,类别,户籍所在地\n" + "".join(r + "\n" for r in rows)).encode()


@pytest.fixture
def sessions(with_roster):
    return with_roster


async def _import(sessions, content: bytes):
    async with sessions() as s, s.begin():
        return await imports.import_department_list(s, department="civil_affairs", departments=["civil_affairs"],
                                                    content=content, file_name="l.csv", by=BY)


def test_one_edit_finds_the_intended_number():
    assert id_number(1) in one_edit_away(_typo(id_number(1)))
    assert all(len(n) == 18 for n in one_edit_away(_typo(id_number(1))))


async def test_a_typo_becomes_a_candidate_then_a_match_and_is_remembered(sessions):
    typo = _typo(id_number(1))
    assert typo != id_number(1)
    report = await _import(sessions, _list(f"{typo},学生1,孤儿,520102", f"{_typo(id_number(2))},别人,孤儿,520102"))
    assert (report.rejected, report.matched_new, report.review_candidates) == (2, 0, 1)  # a different name: none
    async with sessions() as s:
        [candidate] = (await s.execute(select(tables.review_candidates))).all()
    stored = dict(candidate._mapping)
    assert not {typo, id_number(1), "学生1"} & {*map(str, stored.values()), *stored["record"].values()}  # sealed
    shown = candidates.opened(stored, BY.fields)
    assert (shown["row"], shown["raw_id_number"], shown["candidate_id_number"], shown["score"]) == (
        2, typo, id_number(1), 1.0)
    assert (shown["record"]["id_number"], shown["record"]["name"]) == (id_number(1), "学生1")

    async with sessions() as s, s.begin():
        await candidates.decide(s, candidate.candidate_id, accept=True, actor="reviewer", secret=BY.secret,
                                policy=BY.policy, fields=BY.fields)
    async with sessions() as s:
        active = (await amended.in_force(s, amended.TEXTS, BY.fields))["canonical"].to_list()
    assert [export.row(c)[0] for c in active] == [id_number(1)]
    with pytest.raises(candidates.CandidateRefused):
        async with sessions() as s, s.begin():
            await candidates.decide(s, candidate.candidate_id, accept=False, actor="x", secret=BY.secret,
                                    policy=BY.policy, fields=BY.fields)

    async with sessions() as s:
        [remembered] = (await s.execute(select(tables.id_corrections))).all()
        assert await candidates.corrections(s, "civil_affairs", BY.fields) == {typo: id_number(1)}
    assert not {typo, id_number(1)} & set(remembered)
    again = await _import(sessions, _list(f"{typo},学生1,孤儿,520102"))  # the department sends the same typo
    assert (again.rejected, again.withdrawn, again.matched) == (0, 0, 1)


async def test_a_round_of_lists_suggests_each_lists_own_candidates(sessions, monkeypatch):
    """Several lists in one round: the roster is opened once, for the comparison and every list's
    candidates, and each list keeps its own."""
    looked_up, load = [], snapshots.load

    def counted(s, kind, *args, **kwargs):
        if kind is snapshots.ROSTER and kwargs["keys"].len():  # (none: no part is opened)
            looked_up.append(set(kwargs["keys"].to_list()))
        return load(s, kind, *args, **kwargs)

    monkeypatch.setattr(snapshots, "load", counted)
    uploads = [("civil_affairs", _list(f"{_typo(id_number(1))},学生1,孤儿,520102"), "civil.csv"),
               ("trade_union", _list(f"{id_number(3)},学生3,困难职工家庭,520102"), "union.csv"),
               ("disabled_federation", _list(f"{_typo(id_number(2))},学生2,残疾,520102",
                                             f"{_typo(id_number(4))},别人,残疾,520102"), "disabled.csv")]
    async with sessions() as s, s.begin():
        round_ = await imports.import_department_lists(s, uploads=uploads, departments=[d for d, _, _ in uploads],
                                                       by=BY)
    assert [(r.department, r.review_candidates) for r in round_.lists] == [
        ("civil_affairs", 1), ("trade_union", 0), ("disabled_federation", 1)]
    assert round_.matched_new == 1  # student 3, compared with the roster the candidates were looked up in
    assert len(looked_up) == 1 and {student_key(id_number(n), BY.secret) for n in (1, 2, 3, 4)} <= looked_up[0]
    async with sessions() as s:
        stored = (await s.execute(select(tables.review_candidates))).mappings().all()
    batches = {r.batch_id: r.department for r in round_.lists}
    shown = sorted((batches[c["batch_id"]], c["department"], candidates.opened(dict(c), BY.fields)["candidate_id_number"])
                   for c in stored)
    assert shown == [("civil_affairs", "civil_affairs", id_number(1)),
                     ("disabled_federation", "disabled_federation", id_number(2))]
