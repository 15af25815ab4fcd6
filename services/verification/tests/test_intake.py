"""The worker's batch path (intake.apply) leaves exactly what the one-at-a-time handlers leave."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

import pytest

from aid_chassis import outbox
from aid_contracts import Envelope, StudentMatched, TaskProgressed
from tests import factories as f
from tests import intake as both_ways
from verification.adapters import tables
from verification.service_layer import intake

SCHOOL_B = "5201030001"
T, H = tables.tasks.c, tables.task_history.c


@pytest.fixture
async def sessions(migrate, engine_for):
    return async_sessionmaker(engine_for(migrate("verification")), expire_on_commit=False)


def _matched(seq: int, *, other_schools=(), **facts) -> Envelope:
    env = f.matched(seq, **facts)
    event = env.parse(StudentMatched).model_copy(update={"other_school_codes": list(other_schools)})
    return Envelope.wrap(event, source="test", key=f.key(seq))


def _scenario(base: int) -> tuple[list[Envelope], list[Envelope]]:
    """Events of earlier batches, and a batch with every kind of case, for students base+1 … base+12."""
    earlier = [_matched(base + i) for i in (4, 6, 8, 9, 10, 11, 12)] + [f.withdrawn(base + 11)]
    batch = [_matched(base + 1), _matched(base + 2, school=SCHOOL_B),  # new, at one school
             _matched(base + 3, other_schools=[SCHOOL_B]),  # new, at two schools: a repeated-student check
             _matched(base + 4, revision=2, household="520103"), f.paid(base + 4),  # two events of one student
             _matched(base + 5), f.withdrawn(base + 5),  # matched and withdrawn in the same batch
             _matched(base + 1),  # sent again (a relay that crashed before marking): absorbed
             _matched(base + 6),  # an earlier event sent again: nothing changes
             _matched(base + 8, revision=2),  # newer, the same facts: re-matched
             _matched(base + 9, revision=2, household="520103"),  # newer, changed: re-opened
             f.withdrawn(base + 10),  # withdrawn: closed
             _matched(base + 11, revision=3),  # matched again after a withdrawal: re-opened
             _matched(base + 12, revision=2, school=SCHOOL_B),  # moved to another school
             f.paid(base + 7)]
    return earlier, batch


async def _apply(sessions, events: list[Envelope], *, one_at_a_time: bool) -> None:
    await both_ways.apply(sessions, intake, events, one_at_a_time=one_at_a_time)


async def _state(sessions, base: int) -> list:
    """Every task of students base+1 … base+12 as people see it, keyed by the student's number."""
    keys = {f.key(base + i): i for i in range(1, 13)}
    async with sessions() as s:
        tasks = (await s.execute(select(tables.tasks).where(T.student_key.in_(keys)).order_by(T.task_id))).all()
        history = (await s.execute(select(H.task_id, H.action))).all()
        checks = (await s.execute(select(tables.repeated_checks.c.student_key, tables.repeated_checks.c.state))).all()
        paid = (await s.execute(select(tables.payments.c.student_key))).scalars().all()
        events = [e for _, e in await outbox.pending(s, tables.chassis.outbox) if e.type == TaskProgressed.EVENT_TYPE]
    ids = {t.task_id: (keys[t.student_key], t.school_code) for t in tasks}
    seen = lambda row: {k: sorted(v) if k == "changes" else v for k, v in row._mapping.items()  # noqa: E731
                        if k not in ("task_id", "student_key", "match_id", "created_at", "updated_at", "student")}
    return [sorted((ids[t.task_id], str(seen(t))) for t in tasks),
            sorted((ids[task], action) for task, action in history if task in ids),
            sorted((keys[k], state) for k, state in checks if k in keys), sorted(keys[k] for k in paid if k in keys),
            _progress_by_task(events, ids)]


def _progress_by_task(events: list[Envelope], ids: dict) -> list:
    """Each task's ``task-progressed`` events in the order they were queued: what reporting counts."""
    seen: dict = {}
    for e in events:
        if e.data["task_id"] in ids:
            state = {k: v for k, v in e.data.items() if k not in ("task_id", "sequence", "changed_at")}
            seen.setdefault(ids[e.data["task_id"]], []).append(str(sorted(state.items())))
    return sorted(seen.items())


async def test_a_batch_leaves_what_one_event_at_a_time_leaves(sessions):
    for base, one_at_a_time in ((0, True), (100, False)):
        earlier, batch = _scenario(base)
        await _apply(sessions, earlier, one_at_a_time=True)
        await _apply(sessions, batch, one_at_a_time=one_at_a_time)
    expected, got = await _state(sessions, 0), await _state(sessions, 100)
    assert got == expected
    assert expected[2] == [(3, "open")] and expected[3] == [4, 7]
    actions = Counter(action for _, action in expected[1])
    assert actions == {"created": 13, "rematched": 1, "reopened": 3, "closed": 4}, actions


async def test_a_burst_of_new_students_becomes_tasks_with_their_history_and_events(sessions):
    batch = [_matched(i, school=SCHOOL_B if i % 2 else "5201020001") for i in range(1, 201)]
    await _apply(sessions, batch, one_at_a_time=False)
    state = await _state(sessions, 0)
    async with sessions() as s:
        tasks = (await s.execute(select(T.student_key, T.school_code, T.status, T.open))).all()
        progressed = [e.parse(TaskProgressed) for _, e in await outbox.pending(s, tables.chassis.outbox)]
    assert len(tasks) == 200 and {(t.status, t.open) for t in tasks} == {("pending", True)}
    assert sorted(t.student_key for t in tasks) == sorted(f.key(i) for i in range(1, 201))
    assert len(progressed) == 200 and len({p.task_id for p in progressed}) == 200
    assert [action for _, action in state[1]] == ["created"] * 12  # students 1 … 12 of the burst


async def test_a_students_several_events_in_one_batch_are_planned_in_turns_not_one_at_a_time(sessions, monkeypatch):
    """A match, its revision and (every third student) the withdrawal, all in one batch — the worker
    behind by a few seconds: taken in three turns, none by the one-at-a-time handlers (~20× dearer),
    and leaving what those handlers leave."""
    def batch(base: int) -> list[Envelope]:
        events = [_matched(base + i) for i in range(1, 13)]
        events += [_matched(base + i, revision=2, household="520103") for i in range(1, 13)]
        return events + [f.withdrawn(base + i, revision=3) for i in range(1, 13, 3)]

    await _apply(sessions, batch(0), one_at_a_time=True)

    async def refused(*_args, **_kwargs):
        raise AssertionError("taken one at a time")

    monkeypatch.setattr(intake.distribution, "on_student_matched", refused)
    for kind in intake.ONE_AT_A_TIME:
        monkeypatch.setitem(intake.ONE_AT_A_TIME, kind, refused)
    await _apply(sessions, batch(100), one_at_a_time=False)
    expected, got = await _state(sessions, 0), await _state(sessions, 100)
    assert got == expected
    assert Counter(action for _, action in expected[1]) == {"created": 12, "reopened": 12, "closed": 4}
