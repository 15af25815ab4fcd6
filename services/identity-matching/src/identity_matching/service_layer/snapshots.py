"""The roster and the departments' lists, kept as sealed snapshots (``aid_chassis.vault``).

Each is replaced whole by an import and read by a comparison, so each is kept as a few sealed
values, not rows: no ID number or name lies in the clear in the database, and a province's roster
is stored in about a second instead of PostgreSQL's 4–7 s of ``COPY`` and index upkeep.

A snapshot is sealed in parts by its student keys' first character (16 parts: keys are hex), so a
reader that wants some students opens only their parts and holds one part at a time, never the
whole roster; replacing compares each part's new rows with its stored ones, tells which students
changed, and writes only the parts that did (a row that did not change keeps the batch that
brought it).

Rows stored before migration 0011 (``roster_students``, ``department_records``) are read while a
snapshot has no sealed part yet, and deleted when its first parts are written.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import orjson
import polars as pl
from sqlalchemy import Table, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis import bulk, db
from aid_chassis.fields import FieldCipher
from aid_chassis.vault import open_frame, seal_frame
from identity_matching.adapters import tables
from identity_matching.domain import columnar

S = pl.String


@dataclass(frozen=True)
class Kind:
    """A kind of snapshot: its columns (types), the columns a row is known by, the legacy table."""

    name: str
    schema: dict[str, pl.DataType]
    pk: tuple[str, ...]
    legacy: Table
    scoped_by: str | None  # the legacy table's column naming the scope
    legacy_rows: str = "true"  # which of the legacy table's rows belong to the snapshot
    whole: bool = True  # parts compressed whole (``vault.seal_frame``): all but the roster, read by column

    @property
    def content(self) -> list[str]:
        return [c for c in self.schema if c != "batch_id"]

    def empty(self) -> pl.DataFrame:
        return pl.DataFrame(schema=self.schema)


ROSTER = Kind("roster", {"student_key": S, "id_number": S, "name": S, "school_code": S, "stage": S,
                         "enrolment_region": S, "household_region": S, "batch_id": S},
              ("student_key", "school_code"), tables.roster_students, None, whole=False)
LIST = Kind("department", {"department": S, "student_key": S, "category": S, "id_number": S, "name": S,
                           "household_region": S, "poverty_status": S, "exit_year": pl.Int16, "batch_id": S},
            ("department", "student_key", "category"), tables.department_records, "department")
MATCHES = Kind("matches", {"student_key": S, "canonical": S}, ("student_key",), tables.matches, None,
               "active AND canonical IS NOT NULL")  # each match in force as its canonical text (MatchFacts)
MATCH_STATES = Kind("match_states", {"student_key": S, "match_id": S, "revision": pl.Int32, "fingerprint": S,
                                     "active": pl.Boolean, "school_code": S},
                    ("student_key",), tables.matches, None)  # every match made, as a comparison compares it again
PART = pl.col("student_key").str.slice(0, 1)
WORKERS = min(os.cpu_count() or 1, 4)


async def consistent(session: AsyncSession) -> None:
    """Read what follows as of one moment (a reader outside the import lock reads several
    statements: parts, amendments, legacy rows). The first statement of its transaction."""
    await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))


def bound_name(kind: Kind, scope: str, part: str) -> str:
    """What a part's seal is bound to: a part copied to another kind, scope or part does not open."""
    return bound_name_of((kind.name, scope, part))


SEALED_KEYS = ("kind", "scope", "part")  # a stored part's key (``python -m identity_matching rekey``)


def bound_name_of(key: tuple[str, str, str]) -> str:
    kind, scope, part = key
    return f"identity-matching/{kind}/{scope}/{part}"


def by_part(frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
    split = frame.with_columns(PART.alias("_part")).partition_by("_part", as_dict=True)
    return {part: rows.drop("_part") for (part,), rows in split.items()}


async def sealed_parts(session: AsyncSession, kind: Kind, *, scopes: list[str] | None, without: list[str],
                       parts: list[str] | None) -> list[tuple[str, str, bytes]]:
    """(scope, part, sealed value) of the stored parts of ``kind``, as filtered."""
    where, params = ["kind = %s", "scope <> ALL(%s)"], [kind.name, without]
    for column, allowed in (("scope", scopes), ("part", parts)):
        if allowed is not None:
            where.append(f"{column} = ANY(%s)")
            params.append(allowed)
    driver = await db.driver(session)
    cursor = await driver.execute(f"SELECT scope, part, sealed FROM sealed_snapshots WHERE {' AND '.join(where)} "
                                  "ORDER BY scope, part", params, binary=True)
    return [(scope, part, bytes(sealed)) for scope, part, sealed in await cursor.fetchall()]


async def _scopes(session: AsyncSession, kind: Kind) -> list[str]:
    """The scopes of ``kind`` with sealed parts."""
    driver = await db.driver(session)
    cursor = await driver.execute("SELECT DISTINCT scope FROM sealed_snapshots WHERE kind = %s", [kind.name])
    return [scope for (scope,) in await cursor.fetchall()]


async def legacy_frame(session: AsyncSession, kind: Kind, without: list[str], scopes: list[str] | None,
                       keys: pl.Series | None = None) -> pl.DataFrame:
    """Rows of the legacy table, but for the scopes in ``without`` (of ``keys`` only, when given).

    A scope's legacy rows move into its sealed parts at its first import since the vault, so there
    are mostly none: that is asked first, before a round's hundreds of thousands of keys are sent
    (as one JSON text: psycopg adapting them as an array took a province's round 7.9 s)."""
    where, params = kind.legacy_rows, []
    if kind.scoped_by:
        where += f" AND {kind.scoped_by} <> ALL(%s)" + ("" if scopes is None else f" AND {kind.scoped_by} = ANY(%s)")
        params = [without] + ([scopes] if scopes is not None else [])
    elif without:
        return kind.empty()
    if keys is not None:
        driver = await db.driver(session)
        cursor = await driver.execute(f"SELECT EXISTS (SELECT FROM {kind.legacy.name} WHERE {where})", params)
        if not (await cursor.fetchone())[0]:
            return kind.empty()
        where += " AND student_key IN (SELECT json_array_elements_text(%s::json))"
        params.append(orjson.dumps(keys.to_list()).decode())
    return await bulk.copy_out(session, f"SELECT {', '.join(kind.schema)} FROM {kind.legacy.name} WHERE {where}",
                               kind.schema, params)


def _only(frame: pl.DataFrame, keys: pl.Series | None) -> pl.DataFrame:
    return frame if keys is None else frame.join(keys.to_frame("student_key"), on="student_key", how="semi")


def opened(kind: Kind, sealed: list[tuple[str, str, bytes]], cipher: FieldCipher, wanted: list[str],
           keys: pl.Series | None) -> list[pl.DataFrame]:
    """Each part opened and narrowed to its share of ``keys``."""
    shares = None if keys is None else by_part(keys.to_frame("student_key"))

    def one(item: tuple[str, str, bytes]) -> pl.DataFrame:
        scope, part, blob = item
        share = None if shares is None else shares[part]["student_key"]
        return _only(open_frame(blob, cipher, bound_name(kind, scope, part), wanted).select(wanted), share)

    return _in_parallel(one, sealed)


def _in_parallel(work, items: list) -> list:
    """``work`` over ``items`` on every core (zstd and Arrow decoding release the GIL: two cores
    seal a roster in half the time)."""
    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(work, items))


async def load(session: AsyncSession, kind: Kind, cipher: FieldCipher, *, scopes: list[str] | None = None,
               without: list[str] = (), columns: list[str] | None = None, keys: pl.Series | None = None
               ) -> pl.DataFrame:
    """The snapshots of ``kind`` (of ``scopes`` only, when given; none of ``without``) as one frame
    of ``columns`` — only the rows of ``keys``, when given (then ``columns`` must hold student_key)."""
    without, wanted = list(without), columns or list(kind.schema)
    parts = None if keys is None else keys.str.slice(0, 1).unique().to_list()
    sealed = await sealed_parts(session, kind, scopes=scopes, without=without, parts=parts)
    frames = await asyncio.to_thread(opened, kind, sealed, cipher, wanted, keys)  # a roster: ~0.3 s of CPU
    legacy = await legacy_frame(session, kind, without + await _scopes(session, kind), scopes, keys)
    frames.append(legacy.select(wanted))
    return pl.concat(frames) if len(frames) > 1 else frames[0]


@dataclass
class Replaced:
    changed: pl.Series  # the student keys whose rows went away, came or changed
    was: pl.Series  # the student keys the snapshot held before


@dataclass
class Part:
    sealed: bytes | None  # the part to store; None: nothing to write
    rows: int
    changed: pl.Series
    was: pl.Series


async def replace(session: AsyncSession, kind: Kind, rows: pl.DataFrame, *, scope: str, batch_id: str,
                  cipher: FieldCipher) -> Replaced:
    """Make the snapshot ``kind``/``scope`` hold exactly ``rows``; tells which student keys changed."""
    new = by_part(rows.select(list(kind.schema)).cast(kind.schema))
    legacy = {} if scope in await _scopes(session, kind) else by_part(
        await legacy_frame(session, kind, [], [scope] if kind.scoped_by else None))
    stored = {part: blob for _, part, blob in await sealed_parts(session, kind, scopes=[scope], without=[], parts=None)}
    parts = sorted(set(new) | set(stored) | set(legacy))
    jobs = [(part, _replace_part, (kind, new.pop(part, kind.empty()), stored.pop(part, None),
                                   legacy.get(part, kind.empty()), cipher, bound_name(kind, scope, part)))
            for part in parts]
    results = await written(session, kind, scope, batch_id, jobs)
    driver = await db.driver(session)
    if legacy:
        where = f" WHERE {kind.scoped_by} = %s" if kind.scoped_by else ""
        await driver.execute(f"DELETE FROM {kind.legacy.name}{where}", [scope] if kind.scoped_by else [])
    none = pl.Series("student_key", [], dtype=S)  # parts hold apart keys: no repeats
    return Replaced(pl.concat([none, *(r.changed for r in results)]), pl.concat([none, *(r.was for r in results)]))


async def written(session: AsyncSession, kind: Kind, scope: str, batch_id: str, jobs: list) -> list[Part]:
    """Each (part, work, arguments) done on every core, each part written while the next are sealed."""
    driver = await db.driver(session)
    loop, pool = asyncio.get_running_loop(), ThreadPoolExecutor(WORKERS)
    results, futures = [], []
    try:
        futures = [(part, loop.run_in_executor(pool, work, *arguments)) for part, work, arguments in jobs]
        jobs.clear()
        for part, future in futures:
            done = await future
            await write_part(driver, kind, scope, part, batch_id, done)
            done.sealed = None
            results.append(done)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        for _, future in futures:  # after a failure, the parts still sealing end unheard
            future.add_done_callback(lambda f: f.cancelled() or f.exception())
    return results


async def write_part(driver, kind: Kind, scope: str, part: str, batch_id: str, done: Part) -> None:
    if done.rows == 0:
        await driver.execute("DELETE FROM sealed_snapshots WHERE kind = %s AND scope = %s AND part = %s",
                             [kind.name, scope, part])
    elif done.sealed is not None:
        await driver.execute(
            "INSERT INTO sealed_snapshots (kind, scope, part, batch_id, rows, sealed) VALUES (%s, %s, %s, %s, %s, %b) "
            "ON CONFLICT (kind, scope, part) DO UPDATE SET batch_id = excluded.batch_id, rows = excluded.rows, "
            "sealed = excluded.sealed, stored_at = now()", [kind.name, scope, part, batch_id, done.rows, done.sealed])


def _replace_part(kind: Kind, new: pl.DataFrame, sealed: bytes | None, legacy: pl.DataFrame, cipher: FieldCipher,
                  name: str) -> Part:
    """One part replaced: CPU work only (run in a thread)."""
    old = open_frame(sealed, cipher, name).select(list(kind.schema)) if sealed is not None else legacy
    was = old["student_key"].unique()
    if old.is_empty():  # the part's first rows (a first import): every one comes, nothing to join with
        snapshot, keys = new, new["student_key"].unique()
    else:
        snapshot, keys = _merged(kind, old, new)
        if keys.is_empty() and sealed is not None:
            return Part(None, new.height, keys, was)
    return Part(seal_frame(snapshot, cipher, name, whole=kind.whole) if snapshot.height else None, snapshot.height,
                keys, was)


def _merged(kind: Kind, old: pl.DataFrame, new: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series]:
    """``new`` as the part to store (unchanged rows keep their batch) and the keys whose rows went,
    came or changed."""
    pk, content = list(kind.pk), kind.content
    gone = old.join(new, on=pk, how="anti")
    came = new.join(old, on=content, how="anti", nulls_equal=True)
    keys = pl.concat([gone["student_key"], came["student_key"]]).unique()
    kept = new.join(came, on=pk, how="anti").drop("batch_id").join(old.select(*pk, "batch_id"), on=pk, how="left")
    return pl.concat([kept.select(list(kind.schema)), came]), keys


async def keep_list_statistics(session: AsyncSession, department: str, rows: pl.DataFrame) -> None:
    """A department's list in force counted by category and by county (what ``GET /imports`` shows
    without opening the lists), from the rows its snapshot now holds."""
    counted = columnar.statistics(rows, by="category", county="household_region")
    await session.execute(pg_insert(tables.list_statistics).values(department=department, statistics=counted)
                          .on_conflict_do_update(index_elements=["department"], set_={"statistics": counted}))
