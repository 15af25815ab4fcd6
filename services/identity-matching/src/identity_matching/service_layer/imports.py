"""Use cases: import the roster or a department list, then re-compare the affected students.

Everything of one import — rows, matches, the report and the events — commits in one
transaction; the events leave through the outbox.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime

import polars as pl
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis import outbox
from aid_chassis.fields import FieldCipher
from aid_contracts import Envelope, ListImported
from identity_matching.adapters import tables
from identity_matching.domain import columnar, files, records
from identity_matching.domain.matching import EligibilityPolicy
from identity_matching.service_layer import amended, candidates, coverage, institutions, personal, snapshots
from identity_matching.service_layer.rematch import SOURCE, Compared, Stopwatch, Written, compare, rematch, serialise


class UnknownDepartment(ValueError):
    pass


@dataclass(frozen=True)
class Importer:
    """Who imports, and the rules in force: the pseudonym secret, the eligibility policy and the
    cipher sealing students' ID numbers and names in events."""

    actor: str
    secret: bytes
    policy: EligibilityPolicy
    fields: FieldCipher


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
    seconds: dict[str, float] = field(default_factory=dict)  # time of each stage, for operators and benchmarks

    def counts(self) -> dict[str, int]:
        """What the audit log keeps of an import (no rows: they hold personal data)."""
        return {k: getattr(self, k) for k in ("read", "accepted", "rejected", "matched_new", "matched_changed",
                                              "withdrawn")}


def new_batch_id() -> str:
    return f"B{datetime.now(UTC):%Y%m%d}-{uuid.uuid4().hex[:12]}"


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
    batch_id: str = field(default_factory=new_batch_id)


def _read(content: bytes, required: tuple[str, ...]) -> pl.DataFrame:
    frame = files.read_frame(content)
    missing = records.missing_columns(frame.columns, required)
    if missing:
        raise files.UnreadableFile(f"缺少列 (missing columns): {', '.join(missing)}")
    if frame.height == 0:  # an empty list would withdraw every match of the list it replaces
        raise files.UnreadableFile("文件没有数据行，未导入 (the file has no data rows: nothing was imported)")
    return frame


def _keyed(accepted: pl.DataFrame, secret: bytes, batch_id: str) -> pl.DataFrame:
    """Accepted rows with their student keys and the batch."""
    return columnar.keyed(accepted, secret).drop("row").with_columns(batch_id=pl.lit(batch_id))


async def import_roster(session: AsyncSession, *, content: bytes, file_name: str, by: Importer) -> ImportReport:
    """The roster is a snapshot: students no longer on it are re-compared (and withdrawn)."""
    clock = Stopwatch()
    with clock.stage("read"):
        frame = _read(content, records.ROSTER_REQUIRED)
    await serialise(session)
    batch, values = await asyncio.to_thread(_prepare_roster, frame, file_name, by, clock)
    with clock.stage("store"):
        replaced = await snapshots.replace(session, snapshots.ROSTER, values, scope="", batch_id=batch.batch_id,
                                           cipher=by.fields)
    with clock.stage("institutions"):
        await institutions.from_roster(session, values)
    return await _finish(session, batch, by, affected=replaced.changed, on_list=values["student_key"], clock=clock)


def _prepare_roster(frame: pl.DataFrame, file_name: str, by: Importer, clock: Stopwatch
                    ) -> tuple[_Batch, pl.DataFrame]:
    """Validate the roster's rows and key them: CPU work only (run in a thread)."""
    with clock.stage("validate"):
        valid = columnar.validate_roster(frame, date.today())
    batch = _Batch("roster", None, file_name, frame.height, valid.rejections, valid.repeats,
                   columnar.statistics(valid.accepted, by="stage", county="enrolment_region"))
    with clock.stage("pseudonymise"):
        return batch, _keyed(valid.accepted, by.secret, batch.batch_id)


async def import_department_list(session: AsyncSession, *, department: str, departments: list[str],
                                 content: bytes, file_name: str, by: Importer) -> ImportReport:
    """A department's list replaces its previous one: people no longer on it are re-compared."""
    rounds = await import_department_lists(session, uploads=[(department, content, file_name)],
                                           departments=departments, by=by)
    return rounds.lists[0]


@dataclass
class RoundReport:
    """A comparison round (一轮比对): departments' lists stored, then compared once, together."""

    round_id: str
    lists: list[ImportReport]
    matched_new: int
    matched_changed: int
    withdrawn: int
    seconds: dict[str, float]


async def import_department_lists(session: AsyncSession, *, uploads: list[tuple[str, bytes, str]],
                                  departments: list[str], by: Importer) -> RoundReport:
    """Several departments' lists (department, content, file name) in one round: each replaces that
    department's list, and everyone whose rows changed is compared once — a student on two new
    lists gets one event, not one per list."""
    named = [department for department, _, _ in uploads]
    unknown = sorted(set(named) - set(departments))
    if unknown:
        raise UnknownDepartment(f"未知部门 (unknown department): {', '.join(unknown)}")
    if len(set(named)) != len(named):
        raise UnknownDepartment("同一部门的名单只能有一份 (one list per department in a round)")
    clock = Stopwatch()
    frames = []
    for department, content, file_name in uploads:
        with clock.stage("read"):
            try:
                frames.append((department, _read(content, records.LIST_REQUIRED), file_name))
            except files.UnreadableFile as exc:
                raise files.UnreadableFile(f"{file_name} ({department}): {exc}") if len(uploads) > 1 else exc from None
    return await _round(session, frames, by, clock)


async def import_department_rows(session: AsyncSession, *, department: str, frame: pl.DataFrame,
                                 file_name: str, by: Importer) -> ImportReport:
    """A list already read (a batch pushed on Kafka): the same pipeline as an upload."""
    return (await _round(session, [(department, frame, file_name)], by, Stopwatch())).lists[0]


@dataclass
class _Prepared:
    batch: _Batch
    values: pl.DataFrame  # the department's list to store
    rejected: pl.DataFrame  # the file's refused rows as read (for typo review candidates)


@dataclass
class _Stored(_Prepared):
    changed: pl.Series
    was: pl.Series  # the student keys on the department's list before


def _prepare_list(department: str, frame: pl.DataFrame, file_name: str, fixes: dict[str, str], by: Importer,
                  clock: Stopwatch) -> _Prepared:
    """Validate one department's rows and key them: CPU work only (run in a thread)."""
    with clock.stage("validate"):
        frame = candidates.apply_corrections(frame, fixes)
        valid = columnar.validate_list(frame, date.today())
    batch = _Batch("department", department, file_name, frame.height, valid.rejections, valid.repeats,
                   columnar.statistics(valid.accepted, by="category", county="household_region"))
    with clock.stage("pseudonymise"):
        values = _keyed(valid.accepted, by.secret, batch.batch_id).with_columns(department=pl.lit(department))
    refused = pl.Series([r.row for r in valid.rejections], dtype=frame.schema["row"])
    return _Prepared(batch, values, frame.filter(pl.col("row").is_in(refused.implode())))


def _prepare_next(frames: list[tuple[str, pl.DataFrame, str]], fixes: dict[str, dict[str, str]], by: Importer,
                  clock: Stopwatch) -> tuple[str, asyncio.Future] | None:
    """The next list's department, and the list (taken from ``frames``) being validated and keyed in
    a thread; None when none is left."""
    if not frames:
        return None
    department, frame, name = frames.pop(0)
    return department, asyncio.ensure_future(asyncio.to_thread(_prepare_list, department, frame, name,
                                                               fixes[department], by, clock))


async def _round(session: AsyncSession, frames: list[tuple[str, pl.DataFrame, str]], by: Importer,
                 clock: Stopwatch) -> RoundReport:
    """Store the lists, then compare once. Consumes ``frames``: once stored, the files' rows are
    let go (a province's four lists as read are a few hundred MB the comparison does not need).
    The next list is validated and keyed in a thread while the server stores the one before (the
    stages' seconds then overlap)."""
    await serialise(session)
    fixes = {department: await candidates.corrections(session, department, by.fields) for department, _, _ in frames}
    stored = []
    coming = _prepare_next(frames, fixes, by, clock)
    while coming is not None:
        department, preparing = coming
        item = await asyncio.shield(preparing)
        coming = _prepare_next(frames, fixes, by, clock)  # validated and keyed while this one is stored
        with clock.stage("store"):
            replaced = await snapshots.replace(session, snapshots.LIST, item.values, scope=department,
                                               batch_id=item.batch.batch_id, cipher=by.fields)
            await snapshots.keep_list_statistics(session, department, item.values)
        stored.append(_Stored(item.batch, item.values, item.rejected, replaced.changed, replaced.was))
    round_id = stored[0].batch.batch_id if len(stored) == 1 else new_batch_id()
    affected = pl.concat([s.changed for s in stored]).unique()
    refused = [candidates.Refused(s.batch.batch_id, s.batch.department, s.rejected, s.batch.rejections)
               for s in stored]
    with clock.stage("review_candidates"):  # the comparison opens the roster for their students too
        wanted = await asyncio.to_thread(candidates.wanted, refused, by.secret)
    with clock.stage("compare"):
        compared = await compare(session, affected, batch_id=round_id, policy=by.policy, fields=by.fields, clock=clock,
                                 written=_written(stored),
                                 nearby=candidates.nearby(wanted))
    lists = {s.batch.department: s.values["student_key"] for s in stored}
    counting = asyncio.ensure_future(asyncio.to_thread(coverage.from_comparison, lists, compared))
    counting.add_done_callback(lambda f: f.cancelled() or f.exception())  # heard below, unless suggest fails
    with clock.stage("review_candidates"):  # while the lists' coverage is counted from the comparison (polars)
        counts = await candidates.suggest(session, refused, wanted, roster=compared.nearby_rows, cipher=by.fields)
    with clock.stage("report"):
        counted = await _coverage(session, stored, lists, compared, by.fields, await asyncio.shield(counting))
    changes = compared.changes
    reports = []
    for item, suggested in zip(stored, counts, strict=True):
        enrolled, matched = counted.get(item.batch.department, (0, 0))
        reports.append(await _record(session, item.batch, by, changes, enrolled=enrolled, matched=matched,
                                     listed=item.values["student_key"].n_unique(), seconds=clock.seconds,
                                     review_candidates=suggested))
    return RoundReport(round_id, reports, changes.get("new", 0), changes.get("changed", 0),
                       changes.get("withdrawn", 0), clock.seconds)


def _written(stored: list[_Stored]) -> Written:
    """The round's lists the comparison takes from memory: those that had no rows before, each row
    stored as it came (and each of its keys changed: no join with the round's keys). A list that
    replaced rows is read back: a row it kept keeps the batch it first came in, which the new
    file's rows do not say (taken from the file, a person compared again for another list's
    change got the new batch among their sources, and a later comparison a change for it)."""
    new = [s for s in stored if s.was.is_empty()]
    rows = pl.concat([s.values for s in new], rechunk=False) if new else stored[0].values.clear()
    return Written([s.batch.department for s in new], rows)


async def _finish(session: AsyncSession, batch: _Batch, by: Importer, *, affected: pl.Series,
                  on_list: pl.Series, clock: Stopwatch) -> ImportReport:
    """The roster's re-comparison and report."""
    with clock.stage("compare"):
        changes = await rematch(session, affected, batch_id=batch.batch_id, policy=by.policy, fields=by.fields,
                                clock=clock)
    with clock.stage("report"):
        states = await amended.load(session, amended.STATES, by.fields, columns=["student_key", "active"])
        matched = int(states["active"].sum())
        listed = on_list.n_unique()  # a roster's 1.5 million keys: 0.35 s, counted once
    return await _record(session, batch, by, changes, enrolled=listed, matched=matched, listed=listed,
                         seconds=clock.seconds)


async def _record(session: AsyncSession, batch: _Batch, by: Importer, changes, *, enrolled: int, matched: int,
                  listed: int, seconds: dict, review_candidates: int = 0) -> ImportReport:
    """The import's report, stored with its rejected rows (raw values sealed), and its ``list-imported``
    event queued."""
    report = ImportReport(
        batch_id=batch.batch_id, list_kind=batch.kind, department=batch.department, read=batch.read,
        accepted=batch.read - len(batch.rejections), rejected=len(batch.rejections),
        rejections=[asdict(r) for r in batch.rejections], repeated_rows=batch.repeats,
        not_enrolled=listed - enrolled, matched=matched, matched_new=changes.get("new", 0),
        matched_changed=changes.get("changed", 0), withdrawn=changes.get("withdrawn", 0),
        review_candidates=review_candidates, seconds=seconds)
    outcome = {k: getattr(report, k) for k in OUTCOME_FIELDS} | {"statistics": batch.statistics}
    await session.execute(insert(tables.import_batches).values(
        batch_id=batch.batch_id, list_kind=batch.kind, department=batch.department,
        file_name=batch.file_name[:200], read=batch.read, accepted=report.accepted, rejected=report.rejected,
        rejections=personal.seal_rejections(report.rejections, batch.batch_id, by.fields), outcome=outcome,
        created_by=by.actor))
    event = ListImported(batch_id=batch.batch_id, list_kind=batch.kind, department=batch.department,
                         read=batch.read, accepted=report.accepted, rejected=report.rejected,
                         imported_at=datetime.now(UTC))
    await outbox.add(session, tables.chassis.outbox, event.TOPIC,
                     Envelope.wrap(event, source=SOURCE, key=batch.batch_id))
    return report


OUTCOME_FIELDS = ("repeated_rows", "not_enrolled", "matched", "matched_new", "matched_changed", "withdrawn",
                  "review_candidates", "seconds")
# In a round of several lists, matched_new/changed/withdrawn are the round's (one comparison for all).


async def _coverage(session: AsyncSession, stored: list[_Stored], lists: dict[str, pl.Series], compared: Compared,
                    cipher: FieldCipher, known: coverage.Coverage) -> coverage.Coverage:
    """Each list's coverage (``lists``: department → its people's keys): from the comparison where it
    tells it (``known``: ``coverage.from_comparison``), else the kept one moved by the round where
    none other ran since, else counted in the transaction; kept for the next round."""
    if kept := await coverage.kept(session, compared):
        keys = compared.keys.to_frame("student_key")
        before = pl.concat([compared.listed.filter(~pl.col("department").is_in(list(lists))), *(
            s.was.to_frame("student_key").join(keys, on="student_key", how="semi").with_columns(
                department=pl.lit(s.batch.department)) for s in stored)])
        known = coverage.moved(kept, before, compared) | known
    rest = [department for department in lists if department not in known]
    known |= await coverage.in_transaction(session, rest, sum(lists[d].len() for d in rest), cipher)
    await coverage.keep(session, known, compared)
    return known
