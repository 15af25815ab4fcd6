"""The roster and the departments' lists, kept as sealed snapshots (``aid_chassis.vault``).

Each is replaced whole by an import and read whole by a comparison, so each is one sealed value,
not rows: no ID number or name lies in the clear in the database, and a province's roster is
stored in about a second instead of PostgreSQL's 4–7 s of ``COPY`` and index upkeep. Replacing
compares the new rows with the stored ones as frames and tells which students changed; a row that
did not change keeps the batch that brought it.

Rows stored before migration 0011 (``roster_students``, ``department_records``) are read while a
snapshot has no sealed value yet, and deleted when its first sealed value is written.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import polars as pl
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis import bulk, db
from aid_chassis.fields import FieldCipher
from aid_chassis.vault import open_frame, seal_frame
from identity_matching.adapters import tables

S = pl.String


@dataclass(frozen=True)
class Kind:
    """A kind of snapshot: its columns (types), the columns a row is known by, the legacy table."""

    name: str
    schema: dict[str, pl.DataType]
    pk: tuple[str, ...]
    legacy: Table
    scoped_by: str | None  # the legacy table's column naming the scope

    @property
    def content(self) -> list[str]:
        return [c for c in self.schema if c != "batch_id"]


ROSTER = Kind("roster", {"student_key": S, "id_number": S, "name": S, "school_code": S, "stage": S,
                         "enrolment_region": S, "household_region": S, "batch_id": S},
              ("student_key", "school_code"), tables.roster_students, None)
LIST = Kind("department", {"department": S, "student_key": S, "category": S, "id_number": S, "name": S,
                           "household_region": S, "poverty_status": S, "exit_year": pl.Int16, "batch_id": S},
            ("department", "student_key", "category"), tables.department_records, "department")


def _name(kind: Kind, scope: str) -> str:
    return f"identity-matching/{kind.name}/{scope}"


async def _sealed(session: AsyncSession, kind: Kind, scopes: list[str] | None, without: list[str]
                  ) -> list[tuple[str, bytes]]:
    """(scope, sealed value) of the snapshots of ``kind`` (of ``scopes`` only, when given), but ``without``."""
    driver = await db.driver(session)
    where = "" if scopes is None else " AND scope = ANY(%s)"
    cursor = await driver.execute(
        f"SELECT scope, sealed FROM sealed_snapshots WHERE kind = %s AND scope <> ALL(%s){where} ORDER BY scope",
        [kind.name, without] + ([scopes] if scopes is not None else []), binary=True)
    return [(scope, bytes(sealed)) for scope, sealed in await cursor.fetchall()]


async def _legacy(session: AsyncSession, kind: Kind, without: list[str], scopes: list[str] | None) -> pl.DataFrame:
    """Rows of the legacy table, but for the scopes in ``without``."""
    where, params = "true", []
    if kind.scoped_by:
        where = f"{kind.scoped_by} <> ALL(%s)" + ("" if scopes is None else f" AND {kind.scoped_by} = ANY(%s)")
        params = [without] + ([scopes] if scopes is not None else [])
    elif without:
        return pl.DataFrame(schema=kind.schema)
    return await bulk.copy_out(session, f"SELECT {', '.join(kind.schema)} FROM {kind.legacy.name} WHERE {where}",
                               kind.schema, params)


async def load(session: AsyncSession, kind: Kind, cipher: FieldCipher, *, scopes: list[str] | None = None,
               without: list[str] = (), columns: list[str] | None = None) -> pl.DataFrame:
    """The snapshots of ``kind`` (of ``scopes`` only, when given; none of ``without``) as one frame
    (of ``columns``)."""
    without = list(without)
    sealed = await _sealed(session, kind, scopes, without)
    wanted = columns or list(kind.schema)

    def opened() -> list[pl.DataFrame]:
        return [open_frame(blob, cipher, _name(kind, scope), wanted).select(wanted) for scope, blob in sealed]

    frames = await asyncio.to_thread(opened)  # opening a province's roster takes ~0.3 s of CPU
    frames.append((await _legacy(session, kind, without + [scope for scope, _ in sealed], scopes)).select(wanted))
    return pl.concat(frames) if len(frames) > 1 else frames[0]


async def replace(session: AsyncSession, kind: Kind, rows: pl.DataFrame, *, scope: str, batch_id: str,
                  cipher: FieldCipher, old: pl.DataFrame | None = None) -> pl.Series:
    """Make the snapshot ``kind``/``scope`` hold exactly ``rows``; returns the student keys that
    changed. ``old``: what ``load`` gave for it in this transaction, when read already (a caller
    reads it while it validates the new rows in a thread)."""
    if old is None:
        old = await load(session, kind, cipher, scopes=[scope] if kind.scoped_by else None)
    snapshot, changed = await asyncio.to_thread(_merged, kind, rows, old)
    await write(session, kind, snapshot, scope=scope, batch_id=batch_id, cipher=cipher)
    return changed


def _merged(kind: Kind, rows: pl.DataFrame, old: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series]:
    """The snapshot to store (unchanged rows keep their batch) and the keys of rows gone or changed."""
    pk, content = list(kind.pk), kind.content
    new = rows.select(list(kind.schema)).cast(kind.schema)
    gone = old.join(new, on=pk, how="anti")
    changed = new.join(old, on=content, how="anti", nulls_equal=True)
    kept = new.join(changed, on=pk, how="anti").drop("batch_id").join(old.select(*pk, "batch_id"), on=pk, how="left")
    snapshot = pl.concat([kept.select(list(kind.schema)), changed])
    return snapshot, pl.concat([gone["student_key"], changed["student_key"]]).unique()


async def write(session: AsyncSession, kind: Kind, snapshot: pl.DataFrame, *, scope: str, batch_id: str,
                cipher: FieldCipher) -> None:
    """Store ``snapshot`` as the sealed value of ``kind``/``scope`` (and drop its legacy rows)."""
    blob = await asyncio.to_thread(seal_frame, snapshot.select(list(kind.schema)), cipher, _name(kind, scope))
    driver = await db.driver(session)
    await driver.execute(
        "INSERT INTO sealed_snapshots (kind, scope, batch_id, rows, sealed) VALUES (%s, %s, %s, %s, %b) "
        "ON CONFLICT (kind, scope) DO UPDATE SET batch_id = excluded.batch_id, rows = excluded.rows, "
        "sealed = excluded.sealed, stored_at = now()", [kind.name, scope, batch_id, snapshot.height, blob])
    del blob
    if kind.scoped_by:
        await driver.execute(f"DELETE FROM {kind.legacy.name} WHERE {kind.scoped_by} = %s", [scope])
    else:
        await driver.execute(f"DELETE FROM {kind.legacy.name}")
