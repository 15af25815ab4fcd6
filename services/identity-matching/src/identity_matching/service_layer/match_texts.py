"""The matches in force as their canonical text (``MatchFacts.canonical_text``, what the export
shows), sealed: ``snapshots.MATCHES``' parts plus small sealed amendments.

A comparison that changes a few matches does not open and seal again a province's 600,000 texts:
it writes its changes as one more sealed amendment (part ``~<number>``: the new texts, and the
withdrawn keys with no text). Once the amendments hold a tenth as many rows as the parts, the
next comparison folds them into the parts. Readers apply the amendments in order over the parts.
Texts stored before migration 0011 (``matches.canonical``) are read until the first fold moves them.
"""

from __future__ import annotations

import asyncio

import polars as pl
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis import db
from aid_chassis.fields import FieldCipher
from aid_chassis.vault import open_frame, seal_frame
from identity_matching.service_layer import snapshots
from identity_matching.service_layer.snapshots import (MATCHES, Part, bound_name, by_part, legacy_frame, opened,
                                                       sealed_parts)

AMENDMENT = "~"  # sorts after every key character
FOLD_SHARE = 10  # amendments are folded into the parts once they hold a tenth as many rows


async def _sizes(session: AsyncSession) -> dict[str, int]:
    driver = await db.driver(session)
    cursor = await driver.execute("SELECT part, rows FROM sealed_snapshots WHERE kind = %s AND scope = ''",
                                  [MATCHES.name])
    return dict(await cursor.fetchall())


async def _amendments(session: AsyncSession, cipher: FieldCipher, sizes: dict[str, int]) -> pl.DataFrame:
    """The amendments in order, the last of each key kept (canonical null: withdrawn)."""
    names = sorted(p for p in sizes if p.startswith(AMENDMENT))
    if not names:
        return MATCHES.empty()
    sealed = await sealed_parts(session, MATCHES, scopes=[""], without=[], parts=names)
    frames = await asyncio.to_thread(opened, MATCHES, sealed, cipher, list(MATCHES.schema), None)
    return pl.concat(frames).unique("student_key", keep="last", maintain_order=True)


async def amend(session: AsyncSession, rows: pl.DataFrame, gone: pl.Series, *, batch_id: str,
                cipher: FieldCipher) -> None:
    """The texts of ``rows`` (student_key, canonical) put in force, those of the keys ``gone`` taken out."""
    change = pl.concat([rows.select(list(MATCHES.schema)),
                        gone.to_frame("student_key").with_columns(canonical=pl.lit(None, dtype=pl.String))])
    if change.is_empty():
        return
    sizes = await _sizes(session)
    parts = sum(n for p, n in sizes.items() if not p.startswith(AMENDMENT))
    if (sum(sizes.values()) - parts + change.height) * FOLD_SHARE <= parts:
        name = f"{AMENDMENT}{len(sizes) - len([p for p in sizes if not p.startswith(AMENDMENT)]) + 1:08d}"
        sealed = await asyncio.to_thread(seal_frame, change, cipher, bound_name(MATCHES, "", name))
        await snapshots.write_part(await db.driver(session), MATCHES, "", name, batch_id,
                               Part(sealed, change.height, change["student_key"], change["student_key"]))
        return
    await _fold(session, change, sizes, batch_id=batch_id, cipher=cipher)


async def _fold(session: AsyncSession, change: pl.DataFrame, sizes: dict[str, int], *, batch_id: str,
                cipher: FieldCipher) -> None:
    """The amendments so far and ``change`` written into the parts they touch; the amendments dropped."""
    amended = await _amendments(session, cipher, sizes)
    if amended.is_empty() and change["student_key"].n_unique() == change.height:
        merged = change  # a province's first round: its 600,000 texts not copied once more (the round's memory peak)
    else:
        merged = pl.concat([amended, change]).unique("student_key", keep="last", maintain_order=True)
    del amended
    if not sizes:  # the first fold moves the texts stored before the vault, all of them
        legacy = await legacy_frame(session, MATCHES, [], None)
        merged = pl.concat([legacy.join(merged, on="student_key", how="anti"), merged])
        await session.execute(text(f"UPDATE matches SET canonical = NULL WHERE {MATCHES.legacy_rows}"))
    changes = by_part(merged)
    del merged
    touched = sorted(changes)
    stored = {part: blob for _, part, blob in await sealed_parts(session, MATCHES, scopes=[""], without=[],
                                                                 parts=touched)}
    jobs = [(part, _fold_part, (stored.pop(part, None), changes.pop(part), cipher, bound_name(MATCHES, "", part)))
            for part in touched]
    await snapshots.written(session, MATCHES, "", batch_id, jobs)
    driver = await db.driver(session)
    await driver.execute("DELETE FROM sealed_snapshots WHERE kind = %s AND scope = '' AND part LIKE %s",
                         [MATCHES.name, AMENDMENT + "%"])


def _fold_part(sealed: bytes | None, change: pl.DataFrame, cipher: FieldCipher, name: str) -> Part:
    """One part with its keys' changes applied (CPU work only)."""
    old = open_frame(sealed, cipher, name).select(list(MATCHES.schema)) if sealed is not None else MATCHES.empty()
    snapshot = pl.concat([old.join(change, on="student_key", how="anti"),
                          change.filter(pl.col("canonical").is_not_null())])
    return Part(seal_frame(snapshot, cipher, name) if snapshot.height else None, snapshot.height,
                 change["student_key"], old["student_key"])


async def each_part(session: AsyncSession, cipher: FieldCipher):
    """The texts in force a part at a time, in key order (a province's export holds a sixteenth of
    them at once); the texts stored before the vault, while there are some."""
    sizes = await _sizes(session)
    amended = await _amendments(session, cipher, sizes)
    changed = by_part(amended)
    for part in sorted({p for p in sizes if not p.startswith(AMENDMENT)} | set(changed)):
        sealed = await sealed_parts(session, MATCHES, scopes=[""], without=[], parts=[part])
        [old] = await asyncio.to_thread(opened, MATCHES, sealed, cipher, list(MATCHES.schema), None) or [
            MATCHES.empty()]
        mine = changed.get(part, MATCHES.empty())
        yield pl.concat([old.join(mine, on="student_key", how="anti"),
                         mine.filter(pl.col("canonical").is_not_null())]).sort("student_key")
    if not sizes:
        yield (await legacy_frame(session, MATCHES, [], None)).sort("student_key")


async def in_force(session: AsyncSession, cipher: FieldCipher) -> pl.DataFrame:
    """Every text in force (student_key, canonical)."""
    return pl.concat([MATCHES.empty(), *[part async for part in each_part(session, cipher)]])
