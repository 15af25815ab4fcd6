"""Re-comparison of a set of students: emit new, changed and withdrawn matches only."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis import outbox
from aid_chassis.db import any_of
from aid_contracts import Envelope, StudentMatched, StudentMatchWithdrawn
from aid_contracts.events import CategoryEntry, StudentFacts
from identity_matching.adapters import tables
from identity_matching.domain.matching import Change, EligibilityPolicy, Finding, PriorMatch, compare, match

SOURCE = "identity-matching"
CHUNK = 20_000


async def rematch(session: AsyncSession, keys: set[str], *, batch_id: str, policy: EligibilityPolicy) -> Counter:
    """Compare every key again and queue the events; returns counts by kind of change."""
    counts: Counter = Counter()
    ordered = sorted(keys)
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start:start + CHUNK]
        counts += await _rematch_chunk(session, chunk, batch_id, policy)
    return counts


async def _rematch_chunk(session: AsyncSession, keys: list[str], batch_id: str, policy: EligibilityPolicy) -> Counter:
    students, findings, priors = await _load(session, keys)
    counts: Counter = Counter()
    rows, events = [], []
    for key in keys:
        match_id, prior = priors.get(key, (None, None))
        change = compare(prior, match(students.get(key, []), findings.get(key, []), policy))
        if change is None:
            continue
        counts[change.kind] += 1
        row = _match_row(key, match_id, change)
        rows.append(row)
        events.append((StudentMatched.TOPIC, _event(key, row["match_id"], change, batch_id)))
    await _store(session, rows)
    await outbox.add_many(session, tables.chassis.outbox, events)
    return counts


async def _load(session: AsyncSession, keys: list[str]):
    """Findings, prior matches, and the enrolments of those with findings (the rest cannot match)."""
    r, d, m = tables.roster_students, tables.department_records, tables.matches
    findings: dict[str, list[Finding]] = defaultdict(list)
    for row in await session.execute(select(d).where(any_of(d.c.student_key, keys))):
        entry = CategoryEntry(category=row.category, department=row.department,
                              poverty_status=row.poverty_status, exit_year=row.exit_year)
        findings[row.student_key].append(Finding(row.name, entry, row.batch_id))
    students: dict[str, list[StudentFacts]] = defaultdict(list)
    if findings:
        for row in await session.execute(select(r).where(any_of(r.c.student_key, list(findings)))):
            students[row.student_key].append(StudentFacts(
                id_number=row.id_number, name=row.name, school_code=row.school_code, stage=row.stage,
                enrolment_region=row.enrolment_region, household_region=row.household_region))
    rows = await session.execute(select(m).where(any_of(m.c.student_key, keys)).with_for_update())
    priors = {row.student_key: (row.match_id, PriorMatch(row.revision, row.fingerprint, row.active, row.school_code))
              for row in rows}
    return students, findings, priors


def _match_row(key: str, match_id: str | None, change: Change) -> dict:
    return {"student_key": key, "match_id": match_id or f"M{uuid.uuid4().hex[:20]}", "revision": change.revision,
            "fingerprint": change.facts.fingerprint() if change.facts else "",
            "facts": change.facts.document() if change.facts else None,
            "active": change.facts is not None, "school_code": change.school_code,
            "updated_at": datetime.now(UTC)}


async def _store(session: AsyncSession, rows: list[dict]) -> None:
    """Upsert the changed matches in one statement."""
    if not rows:
        return
    stmt = pg_insert(tables.matches)
    kept = ("student_key", "match_id")
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["student_key"], set_={k: stmt.excluded[k] for k in rows[0] if k not in kept}), rows)


def _event(key: str, match_id: str, change: Change, batch_id: str) -> Envelope:
    now = datetime.now(UTC)
    if change.facts is None:
        event = StudentMatchWithdrawn(match_id=match_id, revision=change.revision, school_code=change.school_code,
                                      reason="不再出现在部门名单或学籍中 (no longer on any list or roster)",
                                      batch_id=batch_id, withdrawn_at=now)
    else:
        facts = change.facts
        event = StudentMatched(match_id=match_id, revision=change.revision, student=facts.student,
                               categories=list(facts.categories), name_mismatch=facts.name_mismatch,
                               batch_id=batch_id, matched_at=now, change=change.kind, review=facts.review,
                               other_school_codes=list(facts.other_school_codes),
                               source_batches=list(facts.source_batches))
    return Envelope.wrap(event, source=SOURCE, key=key)
