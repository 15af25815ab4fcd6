"""Use cases: import the roster or a department list, then re-compare the affected students.

Everything of one import — rows, matches, the report and the events — commits in one
transaction; the events leave through the outbox.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis import outbox
from aid_chassis.db import any_of
from aid_contracts import Envelope, ListImported, student_key
from identity_matching.adapters import tables
from identity_matching.domain import files, records
from identity_matching.domain.matching import EligibilityPolicy
from identity_matching.service_layer import candidates, snapshots
from identity_matching.service_layer.rematch import rematch

SOURCE = "identity-matching"


class UnknownDepartment(ValueError):
    pass


@dataclass(frozen=True)
class Importer:
    """Who imports, and the rules in force: the pseudonym secret and the eligibility policy."""

    actor: str
    secret: bytes
    policy: EligibilityPolicy


@dataclass
class ImportReport:
    batch_id: str
    list_kind: str
    department: str | None
    read: int
    accepted: int
    rejected: int
    rejections: list[dict] = field(default_factory=list)
    repeated_rows: int = 0
    not_enrolled: int = 0
    matched: int = 0
    matched_new: int = 0
    matched_changed: int = 0
    withdrawn: int = 0
    review_candidates: int = 0


@dataclass
class _Batch:
    """One file's rows after validation."""

    kind: str
    department: str | None
    file_name: str
    read: int
    rejections: list[records.Rejection]
    repeats: int
    statistics: dict
    batch_id: str = field(default_factory=lambda: f"B{datetime.now(UTC):%Y%m%d}-{uuid.uuid4().hex[:12]}")


def _validate(rows: list[dict[str, str]], parse: Callable, unique: Callable,
              first_row: int = 2) -> tuple[list, list[records.Rejection], int]:
    """Parsed rows, rejections, and how many exact repeats were counted once (accepted, not stored twice).

    ``first_row`` numbers the first data row: 2 in a file (after its header), 1 in a Kafka batch.
    """
    accepted, rejections, seen, repeats = [], [], {}, 0
    for number, row in enumerate(rows, start=first_row):
        try:
            parsed = parse(row)
            earlier = seen.setdefault(unique(parsed), parsed)
            if earlier is not parsed and earlier != parsed:
                raise records.RowError("id_number", "conflicting_duplicate")
        except records.RowError as exc:
            rejections.append(records.Rejection(number, exc.field, exc.code, exc.message, row.get(exc.field) or ""))
            continue
        if earlier is parsed:
            accepted.append(parsed)
        else:
            repeats += 1
    return accepted, rejections, repeats


def statistics(rows: list, *, by: str, county: str) -> dict:
    """Accepted rows counted by category (or stage) and by county."""
    return {f"by_{by}": dict(sorted(Counter(str(getattr(r, by)) for r in rows).items())),
            "by_county": dict(sorted(Counter(getattr(r, county) for r in rows).items()))}


def _read(content: bytes, required: tuple[str, ...]) -> list[dict[str, str]]:
    header, rows = files.read_rows(content)
    missing = records.missing_columns(header, required)
    if missing:
        raise files.UnreadableFile(f"缺少列 (missing columns): {', '.join(missing)}")
    return rows


async def import_roster(session: AsyncSession, *, content: bytes, file_name: str, by: Importer) -> ImportReport:
    """The roster is a snapshot: students no longer on it are re-compared (and withdrawn)."""
    rows = _read(content, records.ROSTER_REQUIRED)
    await _serialise_imports(session)
    accepted, rejections, repeats = _validate(rows, records.parse_roster_row, lambda r: (r.id_number, r.school_code))
    batch = _Batch("roster", None, file_name, len(rows), rejections, repeats,
                   statistics(accepted, by="stage", county="enrolment_region"))
    values = [{"student_key": student_key(r.id_number, by.secret), **_plain(r), "batch_id": batch.batch_id,
               "updated_at": datetime.now(UTC)} for r in accepted]
    changed = await snapshots.replace(session, tables.roster_students, values)
    return await _finish(session, batch, by, affected=changed, on_list={v["student_key"] for v in values})


async def import_department_list(session: AsyncSession, *, department: str, departments: list[str],
                                 content: bytes, file_name: str, by: Importer) -> ImportReport:
    """A department's list replaces its previous one: people no longer on it are re-compared."""
    if department not in departments:
        raise UnknownDepartment(f"未知部门 (unknown department): {department}")
    rows = _read(content, records.LIST_REQUIRED)
    return await import_department_rows(session, department=department, rows=rows, file_name=file_name, by=by)


async def import_department_rows(session: AsyncSession, *, department: str, rows: list[dict[str, str]],
                                 file_name: str, by: Importer, first_row: int = 2) -> ImportReport:
    """The pipeline after reading: validate, replace the department's snapshot, re-compare, report."""
    await _serialise_imports(session)
    rows = candidates.apply_corrections(rows, await candidates.corrections(session, department))
    accepted, rejections, repeats = _validate(rows, records.parse_list_row, lambda r: (r.id_number, r.category),
                                              first_row)
    batch = _Batch("department", department, file_name, len(rows), rejections, repeats,
                   statistics(accepted, by="category", county="household_region"))
    values = [{"department": department, "student_key": student_key(r.id_number, by.secret),
               **_plain(r), "batch_id": batch.batch_id} for r in accepted]
    d = tables.department_records
    changed = await snapshots.replace(session, d, values, scope=d.c.department == department)
    report = await _finish(session, batch, by, affected=changed, on_list={v["student_key"] for v in values})
    report.review_candidates = await candidates.suggest(
        session, batch_id=batch.batch_id, department=department, rows=rows, rejections=rejections,
        first_row=first_row, secret=by.secret)
    return report


def _plain(row) -> dict:
    """A parsed row's fields as stored (enums as their text)."""
    return {k: getattr(v, "value", v) for k, v in vars(row).items()}


async def _finish(session: AsyncSession, batch: _Batch, by: Importer, *, affected: set[str],
                  on_list: set[str]) -> ImportReport:
    changes = await rematch(session, affected, batch_id=batch.batch_id, policy=by.policy)
    enrolled, matched = await _coverage(session, on_list)
    report = ImportReport(
        batch_id=batch.batch_id, list_kind=batch.kind, department=batch.department, read=batch.read,
        accepted=batch.read - len(batch.rejections), rejected=len(batch.rejections),
        rejections=[asdict(r) for r in batch.rejections], repeated_rows=batch.repeats,
        not_enrolled=len(on_list) - enrolled, matched=matched, matched_new=changes.get("new", 0),
        matched_changed=changes.get("changed", 0), withdrawn=changes.get("withdrawn", 0))
    outcome = {k: getattr(report, k) for k in OUTCOME_FIELDS} | {"statistics": batch.statistics}
    await session.execute(insert(tables.import_batches).values(
        batch_id=batch.batch_id, list_kind=batch.kind, department=batch.department,
        file_name=batch.file_name[:200], read=batch.read, accepted=report.accepted, rejected=report.rejected,
        rejections=report.rejections, outcome=outcome, created_by=by.actor))
    event = ListImported(batch_id=batch.batch_id, list_kind=batch.kind, department=batch.department,
                         read=batch.read, accepted=report.accepted, rejected=report.rejected,
                         imported_at=datetime.now(UTC))
    await outbox.add(session, tables.chassis.outbox, event.TOPIC,
                     Envelope.wrap(event, source=SOURCE, key=batch.batch_id))
    return report


OUTCOME_FIELDS = ("repeated_rows", "not_enrolled", "matched", "matched_new", "matched_changed", "withdrawn")


async def _coverage(session: AsyncSession, keys: set[str]) -> tuple[int, int]:
    """Of these people: how many are enrolled, and how many have a match in force."""
    r, m = tables.roster_students.c, tables.matches.c
    enrolled = await session.scalar(select(func.count(func.distinct(r.student_key))).where(any_of(r.student_key, keys)))
    matched = await session.scalar(select(func.count()).where(any_of(m.student_key, keys), m.active))
    return enrolled or 0, matched or 0


async def _serialise_imports(session: AsyncSession) -> None:
    """One import at a time: re-comparison must see every earlier import's rows."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('identity-matching-import'))"))
