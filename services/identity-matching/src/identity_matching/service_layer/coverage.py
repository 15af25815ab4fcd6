"""Coverage of a round's lists (名单覆盖): per department, how many people on its list are enrolled
and how many have a match in force once the round is compared — the report's ``not_enrolled``
and ``matched``.

Counted the cheapest way that is exact:
- a list whose people were all compared in the round (a new list, a province's first round):
  from the comparison itself, nothing read;
- a list that replaces one already stored: on a connection of its own, against the committed
  roster and matches, while the round stores and compares (nothing else can change them then:
  imports and decisions hold the import lock), the people the round compared then recounted
  from the comparison — about a second of a 250,000-person list's re-import, out of its time;
- otherwise (and as the reference the tests hold the others to) in the round's transaction.
"""

from __future__ import annotations

import asyncio
import logging

import polars as pl
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from aid_chassis import bulk
from identity_matching.service_layer.rematch import Compared

log = logging.getLogger(__name__)
Coverage = dict[str, tuple[int, int]]  # department → (enrolled, matched)
PROBE_UP_TO = 50_000  # people on the lists up to which coverage is counted by index probes
_PER_PERSON = ("count(*) FILTER (WHERE EXISTS (SELECT 1 FROM roster_students r WHERE r.student_key = d.student_key)), "
               "count(*) FILTER (WHERE EXISTS (SELECT 1 FROM matches m WHERE m.student_key = d.student_key "
               "AND m.active))")


async def stored_before(session: AsyncSession, departments: list[str]) -> list[str]:
    """The departments that have a list stored (whose new list may leave people uncompared)."""
    rows = await session.execute(text(
        "SELECT u.name FROM unnest(CAST(:departments AS text[])) AS u(name) WHERE EXISTS "
        "(SELECT 1 FROM department_records d WHERE d.department = u.name)"), {"departments": departments})
    return [name for (name,) in rows]


def count_beside(session: AsyncSession, lists: dict[str, pl.Series]) -> asyncio.Future | None:
    """Start counting, on a connection of its own and against the committed state, how many of each
    list's people (department → student keys) are enrolled and how many have a match in force;
    None when the session is not bound to an engine it can take a connection from."""
    engine = session.bind
    if not isinstance(engine, AsyncEngine) or not lists:
        return None
    return asyncio.ensure_future(_beside(engine, lists))


async def outcome(beside: asyncio.Future | None) -> Coverage:
    """What the count beside found; nothing (so the round counts in its transaction) when there was
    none or it failed — a connection refused to it must not fail the import."""
    if beside is None:
        return {}
    try:
        return await beside
    except Exception:  # noqa: BLE001 - counted again in the transaction
        log.warning("coverage counted beside the round failed; counting in the round's transaction", exc_info=True)
        return {}


def cancel(beside: asyncio.Future | None) -> None:
    if beside is not None and not beside.done():
        beside.cancel()


async def _beside(engine: AsyncEngine, lists: dict[str, pl.Series]) -> Coverage:
    people = pl.concat([keys.unique().to_frame("student_key").with_columns(department=pl.lit(department))
                        for department, keys in lists.items()]).select("department", "student_key")
    async with engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        try:
            await raw.execute("CREATE TEMP TABLE _people (department text, student_key text) ON COMMIT DROP")
            await bulk.copy_rows(raw, "_people", people)
            await raw.execute("ANALYZE _people")
            rows = await (await raw.execute(f"SELECT d.department, {_PER_PERSON} FROM _people d GROUP BY 1")).fetchall()
        finally:
            await raw.rollback()
    return {department: (enrolled, matched) for department, enrolled, matched in rows}


def from_comparison(lists: dict[str, pl.Series], compared: Compared, beside: Coverage) -> Coverage:
    """The coverage of every list that can be told without the round's transaction: its people all
    compared, or counted ``beside`` (then corrected for the people the round compared)."""
    compared_keys = compared.keys.to_frame("student_key")
    known = {}
    for department, keys in lists.items():
        people = keys.unique().to_frame("student_key")
        enrolled, matched = (_among(people, compared.enrolled), _among(people, compared.matched))
        if people.join(compared_keys, on="student_key", how="anti").is_empty():
            known[department] = (enrolled, matched)
        elif department in beside:
            before, in_force = beside[department]
            again = people.join(compared_keys, on="student_key", how="semi")
            known[department] = (before, in_force - _among(again, compared.was_matched) + _among(again, compared.matched))
    return known


def _among(people: pl.DataFrame, keys: pl.Series) -> int:
    return people.join(keys.to_frame("student_key"), on="student_key", how="semi").height


async def in_transaction(session: AsyncSession, departments: list[str], people: int) -> Coverage:
    """Per department, of the people on its list: how many are enrolled, how many have a match in force.

    A few thousand people (a feed) are looked up in the roster and the matches one by one; a
    province's lists are joined to the enrolled and matched keys as wholes (``bench/matching.py``:
    a province's four lists 3.7 s probed, 2.0 s joined; one 250,000-person list 1.1 s either way)."""
    if not departments:
        return {}
    if people <= PROBE_UP_TO:
        rows = await session.execute(text(
            f"SELECT d.department, {_PER_PERSON} FROM (SELECT DISTINCT department, student_key "
            "FROM department_records WHERE department = ANY(:departments)) d GROUP BY d.department"),
            {"departments": departments})
    else:
        rows = await session.execute(text(
            "WITH d AS (SELECT DISTINCT department, student_key FROM department_records "
            "           WHERE department = ANY(:departments)), "
            "r AS (SELECT DISTINCT student_key FROM roster_students), "
            "m AS (SELECT DISTINCT student_key FROM matches WHERE active) "
            "SELECT d.department, count(r.student_key), count(m.student_key) FROM d "
            "LEFT JOIN r ON r.student_key = d.student_key LEFT JOIN m ON m.student_key = d.student_key "
            "GROUP BY d.department"), {"departments": departments})
    return {department: (enrolled, matched) for department, enrolled, matched in rows}
