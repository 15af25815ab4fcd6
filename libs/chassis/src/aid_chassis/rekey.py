"""Key rotation's second step (密钥轮换): re-seal stored personal fields under the ring's sealing key.

A service lists its sealed columns; ``python -m <service> rekey`` walks each in key order, a chunk
per transaction (rows locked, others skipped and left for the next run), re-seals every value not
under the sealing key yet and prints its progress. A value that does not open (its key already
dropped, or tampered) is counted and left as it is, never dropped. Run it again until it reports
nothing left; then the old keys can leave the ring.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Table, delete, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aid_chassis.fields import FieldCipher, SealedFieldError

CHUNK = 5_000
Resealer = Callable[[dict, FieldCipher], dict]  # a row → its sealed columns sealed again


@dataclass(frozen=True)
class Sealed:
    """A column of sealed values: its table, the table's key columns, its field name, the owner column."""

    table: str
    keys: tuple[str, ...]
    column: str
    field: str
    owner: str = "student_key"

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"


async def _chunk(session: AsyncSession, sealed: Sealed, cipher: FieldCipher, after: tuple | None) -> list:
    keys = ", ".join(sealed.keys)
    since = f"AND ({keys}) > ({', '.join(f':k{i}' for i in range(len(sealed.keys)))}) " if after else ""
    params = {f"k{i}": value for i, value in enumerate(after or ())}
    return (await session.execute(text(
        f"SELECT {keys}, {sealed.owner}, {sealed.column} FROM {sealed.table} "
        f"WHERE {sealed.column} IS NOT NULL AND substring({sealed.column} from 1 for :n) <> :prefix {since}"
        f"ORDER BY {keys} LIMIT :chunk FOR UPDATE SKIP LOCKED"),
        {"n": len(cipher.prefix), "prefix": cipher.prefix, "chunk": CHUNK, **params})).all()


async def rekey_column(sessions: async_sessionmaker, sealed: Sealed, cipher: FieldCipher,
                       progress: Callable[[str], None]) -> dict[str, int]:
    """Re-seal one column; {resealed, unopened}."""
    width = len(sealed.keys)
    match = " AND ".join(f"{k} = :k{i}" for i, k in enumerate(sealed.keys))
    update = text(f"UPDATE {sealed.table} SET {sealed.column} = :blob WHERE {match}")
    done, unopened, after = 0, 0, None
    while True:
        async with sessions() as session, session.begin():
            rows = await _chunk(session, sealed, cipher, after)
            if not rows:
                break
            changes = []
            for row in rows:
                try:
                    blob = cipher.reseal(bytes(row[width + 1]), row[width], sealed.field)
                except SealedFieldError:
                    unopened += 1
                    continue
                changes.append({"blob": blob, **{f"k{i}": row[i] for i in range(width)}})
            if changes:
                await session.execute(update, changes)
            after = tuple(rows[-1][:width])
        done += len(changes)
        progress(f"{sealed.name}: {done} re-sealed, {unopened} not opened")
    return {"resealed": done, "unopened": unopened}


async def rekey(sessions: async_sessionmaker, columns: list[Sealed], cipher: FieldCipher,
                progress: Callable[[str], None]) -> dict[str, dict[str, int]]:
    """Re-seal every listed column; per column {resealed, unopened}."""
    return {sealed.name: await rekey_column(sessions, sealed, cipher, progress) for sealed in columns}


def _command(help_text: str, cipher_of: Callable, work: Callable, name: str) -> tuple[str, Callable]:
    """A ``python -m <service> rekey`` command: ``work(sessions, cipher, progress)`` gives the
    report; progress on stderr, the report as JSON under ``name``; exit 1 when a value did not open."""
    def run(settings) -> int:
        from aid_chassis import db

        cipher = cipher_of(settings)

        async def go() -> dict:
            engine = db.make_engine(settings)
            try:
                return await work(db.make_sessions(engine), cipher, lambda line: print(line, file=sys.stderr))
            finally:
                await engine.dispose()

        report = asyncio.run(go())
        print(json.dumps({"sealing_key": cipher.current, name: report}))
        return 1 if any(part["unopened"] for part in report.values()) else 0

    return help_text, run


def rekey_command(columns: list[Sealed], cipher_of: Callable) -> tuple[str, Callable]:
    """``python -m <service> rekey`` for sealed columns (under ``cipher_of(settings)``)."""
    return _command("re-seal stored personal fields under the key ring's first key (after a rotation)", cipher_of,
                    lambda sessions, cipher, progress: rekey(sessions, columns, cipher, progress), "columns")


async def _put(session: AsyncSession, table: Table, row: dict, changed: dict) -> None:
    """The row with its ``changed`` values. When a sealed value is part of the row's key (a
    deterministic token), the row is moved — and dropped when its twin under the new key exists."""
    at = [c == row[c.name] for c in table.primary_key.columns]
    if set(changed) & {c.name for c in table.primary_key.columns}:
        await session.execute(pg_insert(table).values({**row, **changed}).on_conflict_do_nothing())
        await session.execute(delete(table).where(*at))
    else:
        await session.execute(update(table).where(*at).values(**changed))


async def rekey_rows(sessions: async_sessionmaker, table: Table, reseal: Resealer,
                     cipher: FieldCipher, progress: Callable[[str], None]) -> dict[str, int]:
    """Every row of ``table`` walked in key order, a chunk per transaction (locked rows waited
    for, never skipped); ``reseal(row, cipher)`` gives the row's sealed columns as they should be
    — opened and sealed again, so values under the sealing key come back the same (deterministic
    tokens) and plain ones get sealed. {resealed, unopened}."""
    pk = list(table.primary_key.columns)
    done = unopened = 0
    after = None
    while True:
        async with sessions() as session, session.begin():
            query = select(table).order_by(*pk).limit(CHUNK).with_for_update()
            if after is not None:
                query = query.where(tuple_(*pk) > tuple_(*after))
            rows = [dict(r) for r in (await session.execute(query)).mappings()]
            if not rows:
                break
            for row in rows:
                try:
                    changed = {k: v for k, v in reseal(row, cipher).items() if v != row[k]}
                except SealedFieldError:
                    unopened += 1
                    continue
                if changed:
                    await _put(session, table, row, changed)
                    done += 1
            after = tuple(rows[-1][c.name] for c in pk)
        progress(f"{table.name}: {done} re-sealed, {unopened} not opened")
    return {"resealed": done, "unopened": unopened}


async def rekey_stored(sessions: async_sessionmaker, stored: list[tuple[Table, Resealer]], cipher: FieldCipher,
                       progress: Callable[[str], None], before=None) -> dict[str, dict[str, int]]:
    """``before(sessions, cipher, progress)``'s report (something else re-sealed first), then each
    table's rows re-sealed; per table {resealed, unopened}."""
    report = await before(sessions, cipher, progress) if before else {}
    for table, reseal in stored:
        report[table.name] = await rekey_rows(sessions, table, reseal, cipher, progress)
    return report


def rows_command(stored: list[tuple[Table, Resealer]], before=None) -> tuple[str, Callable]:
    """``python -m <service> rekey`` for values kept inside rows (tokens, JSON holding tokens) under
    ``AID_FIELD_KEYS``' ring (``rekey_stored``)."""
    return _command("re-seal every stored personal value under the key ring's first key (after a rotation)",
                    lambda settings: settings.field_cipher(),
                    lambda sessions, cipher, progress: rekey_stored(sessions, stored, cipher, progress, before),
                    "tables")
