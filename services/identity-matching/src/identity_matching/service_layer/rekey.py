"""Key rotation's second step for identity-matching (``python -m identity_matching rekey``):
everything it stores sealed is sealed again under ``AID_FIELD_KEYS``' first key — the snapshots'
parts (``aid_chassis.vault.rekey``), then the values kept beside them (rejected rows' raw values,
review candidates, accepted corrections, pushed records waiting for their batch), a chunk of rows
per transaction. Values stored plain before sealing began are sealed on the way. A value that
does not open (its key already dropped, or tampered) is counted and left as it is. Run it until it
reports nothing re-sealed; then the old key can leave the ring (unless retained events need it).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable

from sqlalchemy import Table, delete, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import async_sessionmaker

from aid_chassis import vault
from aid_chassis.fields import FieldCipher, SealedFieldError
from identity_matching.adapters import tables
from identity_matching.service_layer import candidates, personal, snapshots

CHUNK = 1_000


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


STORED: list[tuple[Table, Callable[[dict, FieldCipher], dict]]] = [
    (tables.import_batches, _rejections), (tables.review_candidates, _candidate),
    (tables.id_corrections, _correction), (tables.feed_records, _record)]


async def _put(session, table: Table, row: dict, changed: dict) -> None:
    """The row with its ``changed`` values; a correction's sealed number is part of its key: the
    row is moved (and dropped when the same correction is stored under the new key already)."""
    at = [c == row[c.name] for c in table.primary_key.columns]
    if table is tables.id_corrections:
        await session.execute(pg_insert(table).values({**row, **changed}).on_conflict_do_nothing())
        await session.execute(delete(table).where(*at))
    else:
        await session.execute(update(table).where(*at).values(**changed))


async def rekey_table(sessions: async_sessionmaker, table: Table, reseal: Callable[[dict, FieldCipher], dict],
                      cipher: FieldCipher, progress: Callable[[str], None]) -> dict[str, int]:
    """Every row of ``table`` walked in key order; {resealed, unopened}."""
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


async def rekey(sessions: async_sessionmaker, cipher: FieldCipher, progress: Callable[[str], None]) -> dict:
    report = {"sealed_snapshots": await vault.rekey(sessions, tables.sealed_snapshots.name, snapshots.SEALED_KEYS,
                                                    snapshots.bound_name_of, cipher, progress)}
    for table, reseal in STORED:
        report[table.name] = await rekey_table(sessions, table, reseal, cipher, progress)
    return report


def command() -> tuple[str, Callable]:
    def run(settings) -> int:
        from aid_chassis import db

        async def go() -> dict:
            engine = db.make_engine(settings)
            try:
                return await rekey(db.make_sessions(engine), settings.field_cipher(),
                                   lambda line: print(line, file=sys.stderr))
            finally:
                await engine.dispose()

        report = asyncio.run(go())
        print(json.dumps({"sealing_key": settings.field_cipher().current, "tables": report}))
        return 1 if any(r["unopened"] for r in report.values()) else 0

    return "re-seal every stored personal value under the key ring's first key (after a rotation)", run
