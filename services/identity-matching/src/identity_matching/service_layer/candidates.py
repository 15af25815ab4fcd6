"""Review candidates for typo'd ID numbers: suggested at import, decided by a person.

Accepting one stores the department's record under the corrected number (and re-compares)
and remembers the correction, so the department's next list with the same typo matches too.
Candidates' numbers and names and the corrections are stored sealed (``personal``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from datetime import UTC, datetime
from typing import NamedTuple

import polars as pl
from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis.fields import FieldCipher
from aid_contracts import student_key
from aid_contracts.keys import normalise_id_number
from identity_matching.adapters import tables
from identity_matching.domain import records, typos
from identity_matching.service_layer import personal, snapshots
from identity_matching.service_layer.rematch import rematch, serialise


class CandidateRefused(ValueError):
    pass


CORRECTION = ("raw_id_number", "id_number")


async def corrections(session: AsyncSession, department: str, cipher: FieldCipher) -> dict[str, str]:
    """The department's accepted corrections, raw number → corrected number (opened)."""
    c = tables.id_corrections.c
    rows = await session.execute(select(c.raw_id_number, c.id_number).where(c.department == department))
    shown = (personal.opened(dict(zip(CORRECTION, row, strict=True)), department, cipher) for row in rows.all())
    return {one["raw_id_number"]: one["id_number"] for one in shown}


def apply_corrections(frame: pl.DataFrame, fixes: dict[str, str]) -> pl.DataFrame:
    """Rows with accepted corrections applied to their ID numbers."""
    if not fixes or "id_number" not in frame.columns:
        return frame
    return frame.with_columns(pl.col("id_number").map_elements(
        lambda raw: fixes.get(normalise_id_number(raw), raw), return_dtype=pl.String, skip_nulls=True))


class Refused(NamedTuple):
    """One list's refused rows, as read (``frame``), and why each was refused."""

    batch_id: str
    department: str
    frame: pl.DataFrame
    rejections: list[records.Rejection]


Wanted = dict[int, tuple[dict, dict[str, str]]]  # row number → (the row, {student key: ID number} one edit away)


def wanted(lists: list[Refused], secret: bytes) -> list[Wanted]:
    """Each list's rows refused for a typo-like ID number, with the numbers one edit from it."""
    return [_wanted(item, secret) for item in lists]


def nearby(wanted: list[Wanted]) -> pl.Series:
    """The student keys of every number one edit from a refused one."""
    return pl.Series(sorted({k for one in wanted for _, near in one.values() for k in near}), dtype=pl.String)


async def suggest(session: AsyncSession, lists: list[Refused], wanted: list[Wanted], *, roster: pl.DataFrame | None,
                  cipher: FieldCipher) -> list[int]:
    """Store a candidate for each refused row of ``wanted`` (``wanted(lists)``) that points to exactly
    one roster student; how many, for each of ``lists``. ``roster``: the roster's rows (with student_key,
    name, household_region) of ``nearby(wanted)``, as the round's comparison opened them; None: the
    roster is opened here, once for all the lists (four openings of its parts took ~0.6 s)."""
    if roster is None:
        roster = await _roster(session, nearby(wanted), cipher)
    students: dict[str, list[_Enrolled]] = defaultdict(list)
    for key, name, region in roster.select("student_key", "name", "household_region").iter_rows():
        students[key].append(_Enrolled(name, region))
    counts = []
    for item, one in zip(lists, wanted, strict=True):
        found = [sealed(c, cipher) for number, (row, near) in one.items()
                 if (c := _candidate(item.batch_id, item.department, number, row, near, students)) is not None]
        if found:
            await session.execute(insert(tables.review_candidates), found)
        counts.append(len(found))
    return counts


def _wanted(item: Refused, secret: bytes) -> Wanted:
    """The rows of one list refused for a typo-like ID number (see ``Wanted``)."""
    typo_rows = {r.row for r in item.rejections if r.field == "id_number" and r.code in typos.TYPO_CODES}
    rows = {r["row"]: r for r in item.frame.filter(pl.col("row").is_in(list(typo_rows))).iter_rows(named=True)}
    wanted: Wanted = {}
    for rejection in item.rejections:
        if rejection.row in rows:
            row = rows[rejection.row]
            near = {student_key(n, secret): n for n in typos.one_edit_away(rejection.raw)}
            if near:
                wanted[rejection.row] = (row, near)
    return wanted


PERSONAL, RECORD_PERSONAL = ("raw_id_number", "candidate_id_number"), ("id_number", "name")


def _personal(candidate: dict, change) -> dict:
    """``candidate`` with its numbers and its record's ID number and name passed through
    ``change(values, owner)`` — sealed or opened, bound to the candidate's import row."""
    owner = personal.row_owner(candidate["batch_id"], candidate["row"])
    out = {**candidate, **change({k: candidate[k] for k in PERSONAL}, owner)}
    if (record := candidate.get("record")) is not None:
        out["record"] = {**record, **change({k: record[k] for k in RECORD_PERSONAL}, owner)}
    return out


def sealed(candidate: dict, cipher: FieldCipher) -> dict:
    """A candidate as stored."""
    return _personal(candidate, lambda values, owner: personal.seal(values, owner, cipher))


def opened(candidate: dict, cipher: FieldCipher) -> dict:
    """A stored candidate (a row's mapping, with or without its record) opened."""
    return _personal(candidate, lambda values, owner: personal.opened(values, owner, cipher))


class _Enrolled(NamedTuple):
    name: str
    household_region: str


async def _roster(session: AsyncSession, keys: pl.Series, cipher: FieldCipher) -> pl.DataFrame:
    columns = ["student_key", "name", "household_region"]
    if keys.is_empty():
        return pl.DataFrame(schema=dict.fromkeys(columns, pl.String))
    return await snapshots.load(session, snapshots.ROSTER, cipher, keys=keys, columns=columns)


def _candidate(batch_id: str, department: str, number: int, row: dict, near: dict[str, str],
               students: dict[str, list]) -> dict | None:
    name = (row.get("name") or "").strip()
    hits = [(key, enrolled) for key in near for enrolled in students.get(key, []) if enrolled.name == name]
    if len({key for key, _ in hits}) != 1:
        return None  # nobody, or more than one student: nothing to suggest
    key, enrolled = hits[0]
    try:
        record = records.parse_list_row({**row, "id_number": near[key]})
    except records.RowError:
        return None  # another field is wrong too: the department must correct the row
    same_region = enrolled.household_region == record.household_region
    return {"batch_id": batch_id, "department": department, "row": number, "raw_id_number": row["id_number"][:60],
            "candidate_id_number": near[key], "record": {k: getattr(v, "value", v) for k, v in asdict(record).items()},
            "score": typos.score(same_region=same_region), "reason": "one_edit_same_name" +
            ("_same_region" if same_region else ""), "status": "pending"}


async def decide(session: AsyncSession, candidate_id: int, *, accept: bool, actor: str, secret: bytes,
                 policy, fields: FieldCipher) -> dict:
    await serialise(session)  # an accepted record rewrites its list's part: no import may run beside it
    rc = tables.review_candidates.c
    found = (await session.execute(select(tables.review_candidates).where(rc.candidate_id == candidate_id)
                                   .with_for_update())).first()
    if found is None:
        raise LookupError("没有这个待审核建议 (no such review candidate)")
    if found.status != "pending":
        raise CandidateRefused(f"已处理 (already {found.status})")
    await session.execute(update(tables.review_candidates).where(rc.candidate_id == candidate_id).values(
        status="accepted" if accept else "rejected", decided_by=actor, decided_at=datetime.now(UTC)))
    if accept:
        await _accept(session, opened(dict(found._mapping), fields), secret, policy, fields)
    return {"candidate_id": candidate_id, "status": "accepted" if accept else "rejected"}


async def _accept(session: AsyncSession, found: dict, secret: bytes, policy, fields: FieldCipher) -> None:
    key = student_key(found["candidate_id_number"], secret)
    await _add_record(session, {**found["record"], "department": found["department"], "student_key": key,
                                "batch_id": found["batch_id"]}, fields)
    correction = (normalise_id_number(found["raw_id_number"]), found["candidate_id_number"])
    await session.execute(pg_insert(tables.id_corrections).values(
        department=found["department"], **personal.seal(dict(zip(CORRECTION, correction, strict=True)),
                                                        found["department"], fields)).on_conflict_do_nothing())
    await rematch(session, {key}, batch_id=found["batch_id"], policy=policy, fields=fields)


async def _add_record(session: AsyncSession, record: dict, fields: FieldCipher) -> None:
    """The department's list in force with ``record`` added (unless it holds that student's category)."""
    kind, department = snapshots.LIST, record["department"]
    stored = await snapshots.load(session, kind, fields, scopes=[department])
    row = pl.DataFrame([{c: record.get(c) for c in kind.schema}], schema=kind.schema)
    added = pl.concat([stored, row.join(stored, on=list(kind.pk), how="anti")])
    await snapshots.replace(session, kind, added, scope=department, batch_id=record["batch_id"], cipher=fields)
    await snapshots.keep_list_statistics(session, department, added)
