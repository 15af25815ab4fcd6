"""Snapshots of the matches kept as sealed parts plus small sealed amendments: their texts in force
(``TEXTS``) and their states (``STATES``).

A comparison that changes a few matches does not open and seal again a province's 600,000: it
writes its changes as one more sealed amendment (part ``~<number>``). Once the amendments hold a
tenth as many rows as the parts, the next comparison folds them into the parts. Readers apply the
amendments in order over the parts. Rows stored before a kind's first fold (in the ``matches``
table) are read until that fold moves them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import polars as pl
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis import db
from aid_chassis.fields import FieldCipher
from aid_chassis.vault import open_frame, seal_frame
from identity_matching.service_layer import snapshots
from identity_matching.service_layer.snapshots import (MATCH_STATES, MATCHES, Kind, Part, bound_name, by_part,
                                                       legacy_frame, opened, sealed_parts)

AMENDMENT = "~"  # sorts after every key character
FOLD_SHARE = 10  # amendments are folded into the parts once they hold a tenth as many rows


@dataclass(frozen=True)
class Amended:
    """A kind kept with amendments: ``kept`` tells which rows of a change stay in the snapshot (the
    others take their key out); ``moved`` clears the legacy rows once the first fold moved them."""

    kind: Kind
    kept: pl.Expr
    moved: str


TEXTS = Amended(MATCHES, pl.col("canonical").is_not_null(),  # a withdrawn match: no text
                f"UPDATE matches SET canonical = NULL WHERE {MATCHES.legacy_rows}")
STATES = Amended(MATCH_STATES, pl.lit(True),  # every match ever made, withdrawn ones too (their revision goes on)
                 "DELETE FROM matches")  # after the texts' first fold, in the same round (``rematch._store``)


def _names(sizes: dict[str, int]) -> tuple[list[str], list[str]]:
    """The parts' names and the amendments' (in order) of a kind's ``_sizes``."""
    return (sorted(p for p in sizes if not p.startswith(AMENDMENT)),
            sorted(p for p in sizes if p.startswith(AMENDMENT)))


async def _sizes(session: AsyncSession, kind: Kind) -> dict[str, int]:
    driver = await db.driver(session)
    cursor = await driver.execute("SELECT part, rows FROM sealed_snapshots WHERE kind = %s AND scope = ''",
                                  [kind.name])
    return dict(await cursor.fetchall())


async def _amendments(session: AsyncSession, kind: Kind, cipher: FieldCipher, sizes: dict[str, int]
                      ) -> pl.DataFrame:
    """The amendments in order, the last of each key kept."""
    _, names = _names(sizes)
    if not names:
        return kind.empty()
    sealed = await sealed_parts(session, kind, scopes=[""], without=[], parts=names)
    frames = await asyncio.to_thread(opened, kind, sealed, cipher, list(kind.schema), None)
    return pl.concat(frames).unique("student_key", keep="last", maintain_order=True)


async def amend(session: AsyncSession, amended: Amended, change: pl.DataFrame, *, batch_id: str,
                cipher: FieldCipher) -> None:
    """Put ``change``'s rows (the kind's columns, a row per key) in force."""
    if change.is_empty():
        return
    kind = amended.kind
    change = change.select(list(kind.schema)).cast(kind.schema)
    sizes = await _sizes(session, kind)
    parts, amendments = _names(sizes)
    in_parts = sum(sizes[p] for p in parts)
    if sizes and (sum(sizes.values()) - in_parts + change.height) * FOLD_SHARE <= in_parts:  # the first: a fold
        name = f"{AMENDMENT}{len(amendments) + 1:08d}"
        sealed = await asyncio.to_thread(seal_frame, change, cipher, bound_name(kind, "", name), whole=kind.whole)
        await snapshots.write_part(await db.driver(session), kind, "", name, batch_id,
                                   Part(sealed, change.height, change["student_key"], change["student_key"]))
        return
    await _fold(session, amended, change, sizes, batch_id=batch_id, cipher=cipher)


async def _fold(session: AsyncSession, amended: Amended, change: pl.DataFrame, sizes: dict[str, int], *,
                batch_id: str, cipher: FieldCipher) -> None:
    """The amendments so far and ``change`` written into the parts they touch; the amendments dropped."""
    kind = amended.kind
    before = await _amendments(session, kind, cipher, sizes)
    if before.is_empty() and change["student_key"].n_unique() == change.height:
        merged = change  # a province's first round: its 600,000 rows not copied once more (the round's memory peak)
    else:
        merged = pl.concat([before, change]).unique("student_key", keep="last", maintain_order=True)
    del before
    if not sizes:  # the first fold moves the rows stored before, all of them
        legacy = await legacy_frame(session, kind, [], None)
        if not legacy.is_empty():
            merged = pl.concat([legacy.select(list(kind.schema)).join(merged, on="student_key", how="anti"), merged])
        await session.execute(text(amended.moved))
    changes = by_part(merged)
    del merged
    touched = sorted(changes)
    stored = {part: blob for _, part, blob in await sealed_parts(session, kind, scopes=[""], without=[],
                                                                 parts=touched)}
    jobs = [(part, _fold_part, (amended, stored.pop(part, None), changes.pop(part), cipher,
                                bound_name(kind, "", part))) for part in touched]
    await snapshots.written(session, kind, "", batch_id, jobs)
    driver = await db.driver(session)
    await driver.execute("DELETE FROM sealed_snapshots WHERE kind = %s AND scope = '' AND part LIKE %s",
                         [kind.name, AMENDMENT + "%"])


def _fold_part(amended: Amended, sealed: bytes | None, change: pl.DataFrame, cipher: FieldCipher, name: str
               ) -> Part:
    """One part with its keys' changes applied (CPU work only)."""
    kind = amended.kind
    old = open_frame(sealed, cipher, name).select(list(kind.schema)) if sealed is not None else kind.empty()
    snapshot = _applied(old, change, amended)
    return Part(seal_frame(snapshot, cipher, name, whole=kind.whole) if snapshot.height else None, snapshot.height,
                change["student_key"], old["student_key"])


def _applied(rows: pl.DataFrame, change: pl.DataFrame, amended: Amended) -> pl.DataFrame:
    """``rows`` with ``change`` applied: a changed key's row replaced, or taken out when not kept."""
    if change.is_empty():
        return rows
    return pl.concat([rows.join(change, on="student_key", how="anti"),
                      change.filter(amended.kept).select(rows.columns)])


async def each_part(session: AsyncSession, amended: Amended, cipher: FieldCipher):
    """The rows in force a part at a time, in key order (a province's export holds a sixteenth of
    them at once); the rows stored before the first fold, while there are some."""
    kind = amended.kind
    sizes = await _sizes(session, kind)
    changed = by_part(await _amendments(session, kind, cipher, sizes))
    for part in sorted(set(_names(sizes)[0]) | set(changed)):
        sealed = await sealed_parts(session, kind, scopes=[""], without=[], parts=[part])
        [old] = await asyncio.to_thread(opened, kind, sealed, cipher, list(kind.schema), None) or [kind.empty()]
        yield _applied(old, changed.get(part, kind.empty()), amended).sort("student_key")
    if not sizes:
        yield (await legacy_frame(session, kind, [], None)).select(list(kind.schema)).sort("student_key")


async def in_force(session: AsyncSession, amended: Amended, cipher: FieldCipher) -> pl.DataFrame:
    """Every row in force."""
    return pl.concat([amended.kind.empty(), *[part async for part in each_part(session, amended, cipher)]])


async def load(session: AsyncSession, amended: Amended, cipher: FieldCipher, *, columns: list[str],
               keys: pl.Series | None = None) -> pl.DataFrame:
    """The rows in force as one frame of ``columns`` (with student_key), of ``keys`` only when given:
    only their parts are opened, every part on every core."""
    kind = amended.kind
    sizes = await _sizes(session, kind)
    changed = await _amendments(session, kind, cipher, sizes)
    parts, _ = _names(sizes)
    if keys is not None:
        changed = changed.join(keys.to_frame("student_key"), on="student_key", how="semi")
        parts = sorted(set(parts) & set(keys.str.slice(0, 1).unique().to_list()))
    sealed = await sealed_parts(session, kind, scopes=[""], without=[], parts=parts) if parts else []
    frames = await asyncio.to_thread(opened, kind, sealed, cipher, columns, keys)
    if not sizes:
        frames.append((await legacy_frame(session, kind, [], None, keys)).select(columns))
    rows = pl.concat([kind.empty().select(columns), *frames])
    return _applied(rows, changed, amended)
