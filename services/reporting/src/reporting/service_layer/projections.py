"""Keeping the live aggregates from a batch of events, exactly: the touched students' state is
read (locked), what they add to every bucket is computed before and after folding the events
(``aid_contracts.lifecycle``), and only the difference is added to the counters — in the same
transaction as the state and the consumer offsets, so a crash or a redelivery never counts twice."""

from __future__ import annotations

from collections import Counter, defaultdict

from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis.fields import PERSONAL
from aid_chassis.projection import add_counts, rows_by_key, upsert
from aid_contracts import (AuditRecorded, CheckProgressed, DeadlineSet, Envelope, InstitutionChanged, TaskProgressed,
                           lifecycle)
from reporting.adapters import tables
from reporting.domain.counts import contributions, delta
from reporting.service_layer import audit_trail
from reporting.service_layer import verification_progress as progress

PROGRESS = frozenset({TaskProgressed.EVENT_TYPE, DeadlineSet.EVENT_TYPE, CheckProgressed.EVENT_TYPE,
                      AuditRecorded.EVENT_TYPE, InstitutionChanged.EVENT_TYPE})
TYPES = lifecycle.TYPES | PROGRESS


def _state(keys: set[str], students: dict, aid: dict, reasons: dict) -> Counter:
    by_student_aid, by_student_reasons = defaultdict(list), defaultdict(list)
    for (_, key), row in aid.items():
        if key in keys:
            by_student_aid[key].append(row)
    for (key, _), row in reasons.items():
        if key in keys:
            by_student_reasons[key].append(row)
    total: Counter = Counter()
    for key in keys:
        contributions(students.get(key), by_student_aid.get(key, ()), by_student_reasons.get(key, ()), total)
    return total


async def project(session: AsyncSession, envelopes: list[Envelope]) -> None:
    """The bulk handler of reporting's consumer: every event of ``TYPES`` in a batch, in order."""
    kinds: dict[str, list[Envelope]] = defaultdict(list)
    for env in envelopes:
        kinds[env.type if env.type in PROGRESS else "lifecycle"].append(env)
    change = await _students(session, kinds["lifecycle"]) if kinds["lifecycle"] else Counter()
    if kinds[TaskProgressed.EVENT_TYPE]:
        change.update(await progress.fold_tasks(session, kinds[TaskProgressed.EVENT_TYPE]))
    if kinds[DeadlineSet.EVENT_TYPE]:
        await progress.keep_deadlines(session, kinds[DeadlineSet.EVENT_TYPE])
    if kinds[CheckProgressed.EVENT_TYPE]:
        await progress.keep_checks(session, kinds[CheckProgressed.EVENT_TYPE])
    if kinds[AuditRecorded.EVENT_TYPE]:
        await audit_trail.keep(session, kinds[AuditRecorded.EVENT_TYPE])
    if kinds[InstitutionChanged.EVENT_TYPE]:
        await progress.keep_schools(session, kinds[InstitutionChanged.EVENT_TYPE])
    by_family: dict[str, dict[tuple, int]] = defaultdict(dict)
    for (family, *key), value in change.items():
        if value:
            by_family[family][tuple(key)] = value
    for family in sorted(by_family):  # tables and rows in one order for every lane (no deadlocks)
        await add_counts(session, tables.COUNTS[family], by_family[family])


def _without_personal(row: dict) -> dict:
    """A student row as reporting stores it: the shared fold carries the sealed name and ID number,
    which reporting neither keeps nor sends to its database."""
    out = row.copy()
    for field in PERSONAL:
        out.pop(field, None)
    return out


async def _students(session: AsyncSession, envelopes: list[Envelope]) -> Counter:
    """Fold the students' lifecycle events; the change they make to the student counters."""
    keys = {env.partitionkey for env in envelopes}
    students = await rows_by_key(session, tables.students, keys, lambda r: r["student_key"])
    aid = await rows_by_key(session, tables.aid_records, keys, lambda r: (r["list_id"], r["student_key"]))
    reasons = await rows_by_key(session, tables.unfunded_reasons, keys, lambda r: (r["student_key"], r["period"]))
    before_rows = (dict(students), dict(aid), dict(reasons))
    changed_students, changed_aid, changed_reasons = lifecycle.fold(envelopes, students, aid, reasons)
    touched = changed_students | {k for _, k in changed_aid} | {k for k, _ in changed_reasons}
    change = delta(_state(touched, *before_rows), _state(touched, students, aid, reasons))
    await upsert(session, tables.students, [_without_personal(students[k]) for k in sorted(changed_students)],
                 stored=before_rows[0])  # new rows are inserted, not merged
    await upsert(session, tables.aid_records, [aid[k] for k in sorted(changed_aid)], stored=before_rows[1])
    await upsert(session, tables.unfunded_reasons, [reasons[k] for k in sorted(changed_reasons)],
                 stored=before_rows[2])
    programmes = {aid[k]["programme_code"]: aid[k] for k in changed_aid}
    await upsert(session, tables.programmes, [programmes[code] for code in sorted(programmes)])  # lanes: key order
    return change
