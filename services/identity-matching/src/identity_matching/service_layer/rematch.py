"""Re-comparison of a set of students: emit new, changed and withdrawn matches only.

Reads the findings, enrolments and prior matches of the affected students from the sealed
snapshots (``snapshots``, ``amended``), decides with ``domain.bulk_match`` and writes the changed
matches and their events back in bulk, all in the caller's transaction.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis import bulk, process
from aid_chassis.fields import PERSONAL, FieldCipher
from aid_contracts import StudentMatched, StudentMatchWithdrawn
from identity_matching.adapters import tables
from identity_matching.domain import bulk_match
from identity_matching.domain.matching import EligibilityPolicy
from identity_matching.service_layer import amended, data_keys, snapshots

SOURCE = "identity-matching"
WITHDRAWN_REASON = "不再出现在部门名单或学籍中 (no longer on any list or roster)"
S = pl.String
FINDINGS = {"student_key": S, "department": S, "category": S, "name": S, "poverty_status": S,
            "exit_year": pl.Int16, "batch_id": S}
ENROLMENTS = {"student_key": S, "id_number": S, "name": S, "school_code": S, "stage": S,
              "enrolment_region": S, "household_region": S}
PRIORS = snapshots.MATCH_STATES.schema


async def serialise(session: AsyncSession) -> None:
    """One import or decision at a time: re-comparison must see every earlier one's rows."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('identity-matching-import'))"))


class Stopwatch:
    """Seconds spent in each named stage of one import."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0) + time.perf_counter() - start, 3)


@dataclass
class Compared:
    """What a re-comparison did, and what it saw of the keys it compared."""

    changes: Counter  # counts by kind of change
    keys: pl.Series  # the keys compared
    enrolled: pl.Series  # of those, the keys on the roster
    matched: pl.Series  # the keys that match now
    was_matched: pl.Series  # the keys that matched before
    listed: pl.DataFrame  # (student_key, department) of the keys on a list now, once a category
    since: int  # the number of the comparison before this one
    number: int  # this comparison's number (``since`` when it had no key to compare)
    nearby_rows: pl.DataFrame | None = None  # the roster's rows of the ``nearby`` keys asked for (None: not opened)


def _nothing(keys: pl.Series, since: int) -> Compared:
    return Compared(Counter(), keys, keys, keys, keys, pl.DataFrame(schema={"student_key": S, "department": S}),
                    since, since)


async def _count(session: AsyncSession, keys: pl.Series) -> tuple[int, int]:
    """The comparison before this one and this one's number: counted only when it compares a key."""
    if keys.is_empty():
        since = await session.scalar(text("SELECT last FROM comparisons"))
        return since, since
    number = await session.scalar(text("UPDATE comparisons SET last = last + 1 RETURNING last"))
    return number - 1, number


async def rematch(session: AsyncSession, keys: pl.Series | set[str], *, batch_id: str,
                  policy: EligibilityPolicy, fields: FieldCipher, clock: Stopwatch | None = None) -> Counter:
    """Compare every key again and queue the events; returns counts by kind of change (and times
    each step on ``clock``)."""
    return (await compare(session, keys, batch_id=batch_id, policy=policy, fields=fields, clock=clock)).changes


@dataclass
class Written:
    """Department lists this transaction has just written whole (no row kept from before), used as
    they are instead of read back: their departments, and their rows (FINDINGS columns), every
    key of which is compared."""

    departments: list[str]
    rows: pl.DataFrame


async def compare(session: AsyncSession, keys: pl.Series | set[str], *, batch_id: str,
                  policy: EligibilityPolicy, fields: FieldCipher, clock: Stopwatch | None = None,
                  written: Written | None = None, nearby: pl.Series | None = None) -> Compared:
    """``rematch``, telling also which of the keys are enrolled and which match now, and the roster's
    rows (ENROLMENTS) of the ``nearby`` keys (typo review candidates': the roster opened once for
    both). The events carry each student's ID number and name sealed by ``fields``."""
    await serialise(session)
    keys = keys if isinstance(keys, pl.Series) else pl.Series(sorted(keys), dtype=pl.String)
    since, number = await _count(session, keys)
    if keys.is_empty():
        return _nothing(keys, since)
    clock = clock or Stopwatch()
    with clock.stage("compare.load"):
        priors = await _priors(session, keys, fields)
        if written is None:  # a round's keys are all on a list, or were (and may have a match)
            keys = await _relevant(session, keys, priors["student_key"], fields)
        findings = await _findings(session, keys, fields, written)
        enrolments, near = await _enrolments(session, keys, fields, nearby)
    _give_back(keys)  # the parts opened on threads; then the decision's, the packing's
    with clock.stage("compare.decide"):
        current = bulk_match.current_matches(enrolments, findings, policy)
        found = bulk_match.changes(current, priors, number)
        compared = Compared(Counter(dict(found.group_by("kind").len().iter_rows())), keys,
                            enrolments["student_key"].unique(), current["student_key"],
                            priors.filter(pl.col("active"))["student_key"],
                            findings.select("student_key", "department"), since, number, near)
        del current, enrolments, findings, priors  # a province's round: a few hundred MB the store does not need
    with clock.stage("compare.keys"):  # each student's own data key, issued before their first event
        found, buckets = await _with_data_keys(session, found, fields)
    _give_back(keys)
    at = datetime.now(UTC).isoformat()
    packing = _Packing(found, batch_id, at, fields)
    try:
        with clock.stage("compare.store"):  # the events are packed meanwhile, by threads
            await data_keys.save(session, buckets, fields)  # queued before the events
            del buckets
            await _store(session, found, batch_id=batch_id, cipher=fields)
        with clock.stage("compare.queue"):  # each slice as it is packed, while the last ones are still sealed
            async with aclosing(packing.slices()) as slices:
                async for packed in slices:
                    await bulk.insert_packed(session, tables.chassis.outbox, packed, source=SOURCE, time=at)
    finally:
        await packing.close()
    _give_back(keys)
    return compared


def _give_back(keys: pl.Series) -> None:
    """The C heap's free pages given back after a step of a large comparison (a small one frees little)."""
    if keys.len() >= LARGE:
        process.give_back_memory()


LARGE = 100_000


async def _priors(session: AsyncSession, keys: pl.Series, fields: FieldCipher) -> pl.DataFrame:
    """The matches' states of ``keys``; of ``LARGE`` keys or more (a roster's, a province's lists'),
    every part is opened whole and narrowed once."""
    if keys.len() < LARGE:
        return await amended.load(session, amended.STATES, fields, columns=list(PRIORS), keys=keys)
    every = await amended.load(session, amended.STATES, fields, columns=list(PRIORS))
    return every.join(keys.to_frame("student_key"), on="student_key", how="semi")


async def _relevant(session: AsyncSession, keys: pl.Series, matched_before: pl.Series, fields: FieldCipher
                    ) -> pl.Series:
    """Of very many keys (a whole roster), those that can match (on a list) or had a match
    (``matched_before``: those of them with a prior state): the rest need no look."""
    if keys.len() < LARGE:
        return keys
    listed = await snapshots.load(session, snapshots.LIST, fields, columns=["student_key"])
    known = pl.concat([listed["student_key"], matched_before]).unique().to_frame("student_key")
    return keys.to_frame("student_key").join(known, on="student_key", how="semi")["student_key"]


async def _findings(session: AsyncSession, keys: pl.Series, fields: FieldCipher, written: Written | None
                    ) -> pl.DataFrame:
    """Department records of the affected keys: the lists just written from memory, the others opened."""
    without = [] if written is None else written.departments
    others = await snapshots.load(session, snapshots.LIST, fields, without=without, columns=list(FINDINGS), keys=keys)
    if written is None:
        return others
    return pl.concat([others, written.rows.select(list(FINDINGS)).cast(FINDINGS)])


async def _enrolments(session: AsyncSession, keys: pl.Series, fields: FieldCipher, nearby: pl.Series | None
                      ) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """The enrolments of the affected students (only those with findings can match, but a list's
    coverage counts those who left it too), and those of ``nearby`` (None when not asked for)."""
    if nearby is None:
        return await snapshots.load(session, snapshots.ROSTER, fields, columns=list(ENROLMENTS), keys=keys), None
    # the keys hashed against the few nearby ones (``nearby.is_in(keys)`` made a set of a province's keys: 0.2 s)
    compared = set(keys.filter(keys.is_in(nearby.implode())).to_list())
    others = pl.Series([key for key in nearby.unique().to_list() if key not in compared], dtype=pl.String)
    rows = await snapshots.load(session, snapshots.ROSTER, fields, columns=list(ENROLMENTS),
                                keys=pl.concat([keys, others]))
    near = rows.filter(pl.col("student_key").is_in(nearby.implode()))
    return (rows.filter(~pl.col("student_key").is_in(others.implode())) if others.len() else rows), near


async def _store(session: AsyncSession, found: pl.DataFrame, *, batch_id: str, cipher: FieldCipher) -> None:
    """Put the changed matches in force: their texts (a withdrawn match's taken out), then their
    states — in that order: the states' first fold deletes the rows stored before, whose texts the
    texts' first fold moves."""
    kept = pl.col("canonical") if found["active"].all() else pl.when("active").then("canonical")  # all: no copy
    texts = found.select("student_key", kept.alias("canonical"))
    await amended.amend(session, amended.TEXTS, texts, batch_id=batch_id, cipher=cipher)
    del texts
    states = found.select(*PRIORS).with_columns(pl.col("fingerprint").fill_null(""))
    await amended.amend(session, amended.STATES, states, batch_id=batch_id, cipher=cipher)


QUEUE_SLICE = 25_000  # events a packer encodes at a time (a province's round at once took 1.8 GB more)


async def _with_data_keys(session: AsyncSession, found: pl.DataFrame, fields: FieldCipher
                          ) -> tuple[pl.DataFrame, dict[int, bytes]]:
    """``found`` with each student's own data key (``data_key``), drawn for the students whose events
    carry their ID number or name (a withdrawal carries neither: null), and the buckets to store
    (``data_keys.save``: sealed and written while the events are packed)."""
    carries = found.select(pl.any_horizontal(pl.col(name).is_not_null() for name in PERSONAL)).to_series()
    drawn, buckets = await data_keys.draw(session, found["student_key"].filter(carries).to_list(), fields)
    issued = iter(drawn)
    keys = [next(issued) if carried else None for carried in carries.to_list()]
    return found.with_columns(pl.Series("data_key", keys, dtype=pl.Binary)), buckets


class _Packing:
    """The round's events in order, encoded and packed a slice at a time (CPU work only) by two
    threads, from the start: one seals a slice (Python, holding the GIL) while the other encodes
    and compresses the slice before (polars and zstd let the GIL go). ``slices`` gives each slice's
    packed rows in order as soon as it is done, so the outbox takes the first slices while the
    last are still being sealed (the round's tail: ~1.3 s of inserts after the packing before)."""

    def __init__(self, found: pl.DataFrame, batch_id: str, at: str, fields: FieldCipher) -> None:
        def one(start: int) -> list[tuple[str, int, bytes]]:
            return bulk.pack_events(_events(_sealed(found.slice(start, QUEUE_SLICE), fields), batch_id, at))

        self._pool = ThreadPoolExecutor(PACKERS)
        self._slices = [self._pool.submit(one, start) for start in range(0, found.height, QUEUE_SLICE)]

    async def slices(self):
        for index, future in enumerate(self._slices):
            self._slices[index] = None  # let go once queued
            yield await asyncio.wrap_future(future)

    async def close(self) -> None:
        """Slices not begun are dropped (a failed store or insert), those begun are waited for (even
        when the round is cancelled meanwhile)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        await asyncio.shield(asyncio.to_thread(self._pool.shutdown, wait=True))


PACKERS = 2


def _sealed(found: pl.DataFrame, fields: FieldCipher) -> pl.DataFrame:
    """The rows with each student's ID number and name sealed under the student's own data key
    (``aid_chassis.fields``, ``aid_chassis.datakeys``), as events carry them."""
    sealed = fields.seal_columns({name: found[name].to_list() for name in PERSONAL},
                                 found["student_key"].to_list(), found["data_key"].to_list())
    return found.with_columns(pl.Series(name, values, pl.String) for name, values in sealed.items())


def _events(found: pl.DataFrame, batch_id: str, at: str) -> pl.DataFrame:
    data = bulk_match.event_data(found, batch_id=batch_id, at=at, reason=WITHDRAWN_REASON)
    active = pl.col("active")
    return found.select(
        (pl.col("match_id") + "-r" + pl.col("revision").cast(pl.String)).alias("event_id"),
        pl.lit(StudentMatched.TOPIC.value).alias("topic"), pl.col("student_key").alias("key"),
        pl.when(active).then(pl.lit(StudentMatched.EVENT_TYPE)).otherwise(
            pl.lit(StudentMatchWithdrawn.EVENT_TYPE)).alias("type"),
        pl.when(active).then(pl.lit(StudentMatched.schema_uri())).otherwise(
            pl.lit(StudentMatchWithdrawn.schema_uri())).alias("dataschema"),
        pl.lit(str(StudentMatched.VERSION)).alias("dataversion"), data.alias("data"))
