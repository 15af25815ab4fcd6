"""Sealed snapshots (密封快照): a whole table of personal data kept as one sealed value.

A snapshot that is only ever replaced whole and read whole — a province's roster, a department's
list — need not be a table of rows in the clear: it is written as an Arrow IPC file
(zstd-compressed, by column or whole: ``seal_frame``), sealed with AES-256-GCM under the key ring
of ``aid_chassis.fields`` and bound to its name, and stored as one value. A 1.5M-row roster seals
in under a second and opens in about 0.3 s (``bench/matching.py``), where storing the same rows
took PostgreSQL 4–7 s and left every ID number and name readable to anyone with the database's
files or a backup. Rotation: the next snapshot written is sealed under the ring's first key; the
old keys open what is stored until then, and ``rekey`` re-seals what is stored (``python -m
<service> rekey``) so the old keys can go.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import cramjam
import polars as pl
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from aid_chassis.bulk import ZSTD_MAGIC  # an Arrow IPC file's first bytes are "ARROW1"
from aid_chassis.fields import FieldCipher, SealedFieldError

FIELD = "snapshot"


def seal_frame(frame: pl.DataFrame, cipher: FieldCipher, name: str, *, whole: bool = False) -> bytes:
    """``frame`` as sealed bytes, bound to ``name`` (a snapshot copied under another name does not open).

    Its columns are compressed one by one (Arrow's zstd, at level 3), so that a reader of a few
    columns decompresses only those, on several threads; or, ``whole``, the file is written plain
    and compressed as it is written, at zstd's level 1 (``_Compressing``): no larger, in half the
    time to write (a round's 600,000 matches' states 0.65 → 0.27 CPU-s), but every column is
    decompressed to read any (the states' two columns 0.09 → 0.15 s; a roster's parts read whole
    0.55 → 0.75 s) — for snapshots written on a comparison's path and mostly read whole."""
    if whole:
        out = _Compressing()
        frame.write_ipc(out)
        return cipher.seal_bytes(out.finish(), name, FIELD)
    out = io.BytesIO()
    frame.write_ipc(out, compression="zstd")
    return cipher.seal_bytes(out.getbuffer().tobytes(), name, FIELD)


class _Compressing(io.RawIOBase):
    """A stream compressing each chunk written to it (the IPC writer's, up to a few MB) as a zstd
    frame at level 1; the frames one after the other read back as one. A round's 600,000 matches
    are never held as a plain IPC file, and each chunk is compressed without the GIL (cramjam's
    one-shot ``compress`` lets it go, its streaming ``Compressor`` does not), so parts sealed on
    several threads compress side by side."""

    def __init__(self) -> None:
        super().__init__()
        self._frames: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._frames.append(bytes(cramjam.zstd.compress(data, level=1)))
        return len(data)

    def finish(self) -> bytes:
        return b"".join(self._frames)


def open_frame(blob: bytes, cipher: FieldCipher, name: str, columns: list[str] | None = None) -> pl.DataFrame:
    """The frame ``seal_frame`` sealed under ``name`` (only ``columns``, when given), either way."""
    plain = cipher.open_bytes(blob, name, FIELD)
    if plain[:4] == ZSTD_MAGIC:  # sealed whole: authenticated, so its size is the one it was written with
        plain = cramjam.zstd.decompress(plain)
    return pl.read_ipc(io.BytesIO(plain), columns=columns)


def reseal(blob: bytes, cipher: FieldCipher, name: str) -> bytes:
    """The same snapshot sealed under the ring's sealing key (as it is when it is already)."""
    return blob if cipher.is_current(blob) else cipher.seal_bytes(cipher.open_bytes(blob, name, FIELD), name, FIELD)


async def rekey(sessions: async_sessionmaker, table: str, keys: tuple[str, ...], name_of: Callable[[tuple], str],
                cipher: FieldCipher, progress: Callable[[str], None]) -> dict[str, int]:
    """Re-seal every sealed snapshot of ``table`` (its ``sealed`` column; ``keys`` name a row,
    ``name_of(keys' values)`` what it is bound to) not under the sealing key yet, one per
    transaction; {resealed, unopened}. A snapshot that does not open is counted and left as it is."""
    columns, match = ", ".join(keys), " AND ".join(f"{k} = :k{i}" for i, k in enumerate(keys))
    stale = text(f"SELECT {columns} FROM {table} WHERE substring(sealed from 1 for :n) <> :prefix ORDER BY {columns}")
    async with sessions() as session:
        rows = (await session.execute(stale, {"n": len(cipher.prefix), "prefix": cipher.prefix})).all()
    done = unopened = 0
    for row in rows:
        at = {f"k{i}": value for i, value in enumerate(row)}
        async with sessions() as session, session.begin():
            blob = await session.scalar(text(f"SELECT sealed FROM {table} WHERE {match} FOR UPDATE"), at)
            try:
                fresh = reseal(bytes(blob), cipher, name_of(tuple(row))) if blob is not None else None
            except SealedFieldError:
                unopened += 1
                continue
            if fresh is not None:
                await session.execute(text(f"UPDATE {table} SET sealed = :blob WHERE {match}"), {**at, "blob": fresh})
                done += 1
        progress(f"{table}: {done} re-sealed, {unopened} not opened")
    return {"resealed": done, "unopened": unopened}

