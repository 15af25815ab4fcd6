"""Students' data keys (学生数据密钥, ``aid_chassis.datakeys``): issued here, published as buckets.

identity-matching is the one issuer: a comparison round issues a key to each student whose ID
number and name its events carry, in the round's transaction, and queues every bucket it changed
for ``aid.student-keys.v1`` before the events (the outbox keeps that order). Shredding (销毁)
takes a student's key out of its bucket and publishes the bucket again.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aid_chassis import datakeys, outbox
from aid_chassis.fields import FieldCipher, SealedFieldError
from identity_matching.adapters import tables

HEADERS = {"content-type": "application/octet-stream", "aid-data-keys": "bucket"}


async def issue(session: AsyncSession, owners: list[str], ring: FieldCipher) -> list[bytes]:
    """Every owner's data key, in the order of ``owners``: the one issued before, or a new one (its
    bucket stored again and queued). A list, not found through the buckets."""
    keys, changed = await draw(session, owners, ring)
    await save(session, changed, ring)
    return keys


async def draw(session: AsyncSession, owners: list[str], ring: FieldCipher) -> tuple[list[bytes], dict[int, bytes]]:
    """``issue`` but the store: the keys, and the buckets it changed (plaintexts) for ``save`` to
    store and queue before any event sealed under one of their keys is queued (a round saves them
    while its events are sealed and packed, and lets them go before its store of the matches)."""
    plains = await _load(session, datakeys.buckets_of(owners), ring)
    keys, changed = datakeys.issued(plains, owners)
    return keys, changed


async def shred(session: AsyncSession, owner: str, ring: FieldCipher) -> bool:
    """Take the student's data key out of its bucket and publish the bucket again; False when the
    student had none (never in an event, or shredded already)."""
    bucket, sid = datakeys.filed(owner)
    entries = datakeys.unpack((await _load(session, [bucket], ring)).get(bucket, b""))
    if sid not in entries:
        return False
    await save(session, {bucket: datakeys.pack({k: v for k, v in entries.items() if k != sid})}, ring)
    return True


async def rekey(sessions: async_sessionmaker, ring: FieldCipher, progress: Callable[[str], None], *,
                every: bool = False) -> dict:
    """Key rotation (``python -m identity_matching rekey``): every bucket not sealed under the
    ring's sealing key sealed again and published again — the students' keys, not their events.
    ``every``: all buckets, to fill a topic that was lost (``republish-data-keys``). A bucket that
    does not open is counted and left as it is."""
    async with sessions() as session, session.begin():
        rows = (await session.execute(select(tables.data_keys.c.bucket, tables.data_keys.c.sealed)
                                      .with_for_update())).all()
        stale, unopened = {}, 0
        for bucket, sealed in rows:
            if ring.is_current(sealed) and not every:
                continue
            try:
                stale[bucket] = datakeys.open_plain(ring, bucket, sealed)
            except (SealedFieldError, ValueError):
                unopened += 1
        await save(session, stale, ring)
    progress(f"data_keys: {len(stale)} buckets sealed and published again, {unopened} not opened")
    return {"resealed": len(stale), "unopened": unopened}


def republish_command() -> tuple[str, Callable]:
    """``python -m identity_matching republish-data-keys``: every bucket published again (a lost or
    recreated ``aid.student-keys.v1``: until then every process finds no student's key)."""
    def run(settings) -> int:
        from aid_chassis import db

        async def go() -> dict:
            engine = db.make_engine(settings)
            try:
                return await rekey(db.make_sessions(engine), settings.field_cipher(),
                                   lambda line: print(line, file=sys.stderr), every=True)
            finally:
                await engine.dispose()

        report = asyncio.run(go())
        print(json.dumps({"data_keys": report}))
        return 1 if report["unopened"] else 0

    return "publish every bucket of students' data keys again (a lost aid.student-keys.v1)", run


async def known_here(session: AsyncSession, ring: FieldCipher) -> datakeys.DataKeys:
    """The ring's data keys filled from this database, as a follower of the topic would have them
    (for opening this service's own events, and in tests)."""
    keys = datakeys.attach(ring)
    for bucket, sealed in (await session.execute(select(tables.data_keys.c.bucket, tables.data_keys.c.sealed))).all():
        keys.put(bucket, sealed)
    return keys


async def _load(session: AsyncSession, buckets: list[int], ring: FieldCipher) -> dict[int, bytes]:
    """The stored buckets' plaintexts (``datakeys.pack``), locked for this transaction."""
    c = tables.data_keys.c
    query = select(c.bucket, c.sealed).where(c.bucket.in_(buckets))
    rows = (await session.execute(query.with_for_update())).all()
    return {bucket: datakeys.open_plain(ring, bucket, sealed) for bucket, sealed in rows}


async def save(session: AsyncSession, buckets: dict[int, bytes], ring: FieldCipher) -> None:
    """Store the buckets' plaintexts sealed, and queue them for ``aid.student-keys.v1``."""
    if not buckets:
        return
    now = datetime.now(UTC)
    rows = [{"bucket": bucket, "students": len(plain) // datakeys.ENTRY,
             "sealed": datakeys.seal_plain(ring, bucket, plain), "updated_at": now}
            for bucket, plain in sorted(buckets.items())]
    upsert = insert(tables.data_keys)
    await session.execute(upsert.on_conflict_do_update(
        index_elements=["bucket"], set_={"students": upsert.excluded.students, "sealed": upsert.excluded.sealed,
                                         "updated_at": upsert.excluded.updated_at}), rows)
    records = [(datakeys.record_key(row["bucket"]).decode(), f"data-keys-{row['bucket']}-{uuid.uuid4().hex}",
                row["sealed"]) for row in rows]
    await outbox.add_records(session, tables.chassis.outbox, datakeys.TOPIC, records, HEADERS)
