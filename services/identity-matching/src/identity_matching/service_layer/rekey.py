"""Key rotation's second step for identity-matching (``python -m identity_matching rekey``):
everything it stores sealed is sealed again under ``AID_FIELD_KEYS``' first key — the snapshots'
parts (``aid_chassis.vault.rekey``), then the values kept beside them (rejected rows' raw values,
review candidates, accepted corrections, pushed records waiting for their batch), a chunk of rows
per transaction; the students' data keys' buckets are sealed again and published again (the events
sealed under those data keys are left as they are). Values stored plain before sealing began are sealed on the way. A value that
does not open (its key already dropped, or tampered) is counted and left as it is. Run it until it
reports nothing re-sealed; then the old key can leave the ring (unless retained events need it).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import async_sessionmaker

from aid_chassis import vault
from aid_chassis.fields import FieldCipher
from aid_chassis.rekey import Resealer, rekey_stored, rows_command
from identity_matching.adapters import tables
from identity_matching.service_layer import candidates, data_keys, personal, snapshots


def _rejections(row: dict, cipher: FieldCipher) -> dict:
    opened = personal.open_rejections(row["rejections"], row["batch_id"], cipher)
    return {"rejections": personal.seal_rejections(opened, row["batch_id"], cipher)}


def _candidate(row: dict, cipher: FieldCipher) -> dict:
    again = candidates.sealed(candidates.opened(row, cipher), cipher)
    return {k: again[k] for k in ("raw_id_number", "candidate_id_number", "record")}


def _correction(row: dict, cipher: FieldCipher) -> dict:
    values = {k: row[k] for k in candidates.CORRECTION}
    return personal.seal(personal.opened(values, row["department"], cipher), row["department"], cipher)


def _record(row: dict, cipher: FieldCipher) -> dict:
    fields = personal.open_record(row["fields"], row["batch_id"], row["row"], cipher)
    return {"fields": personal.seal_record(fields, row["batch_id"], row["row"], cipher)}


STORED: list[tuple[Table, Resealer]] = [
    (tables.import_batches, _rejections), (tables.review_candidates, _candidate),
    (tables.id_corrections, _correction), (tables.feed_records, _record)]


async def _snapshots(sessions: async_sessionmaker, cipher: FieldCipher, progress: Callable[[str], None]) -> dict:
    """The snapshots' parts, and the students' data keys' buckets (published again)."""
    return {"sealed_snapshots": await vault.rekey(sessions, tables.sealed_snapshots.name, snapshots.SEALED_KEYS,
                                                  snapshots.bound_name_of, cipher, progress),
            "data_keys": await data_keys.rekey(sessions, cipher, progress)}


async def rekey(sessions: async_sessionmaker, cipher: FieldCipher, progress: Callable[[str], None]) -> dict:
    return await rekey_stored(sessions, STORED, cipher, progress, before=_snapshots)


def command() -> tuple[str, Callable]:
    return rows_command(STORED, before=_snapshots)
