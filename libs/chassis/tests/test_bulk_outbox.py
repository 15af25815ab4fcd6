"""Packed outbox rows, bulk COPY and the relay's own partitioner, against real Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import traceback
import uuid
from datetime import UTC, datetime

import cramjam
import polars as pl
import pytest
from aiokafka.partitioner import murmur2
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, MetaData, SmallInteger, String, Table, text

from aid_chassis import bulk, outbox, partitioner, records
from aid_chassis.kafka import ensure_topics, make_producer
from aid_chassis.outbox import OutboxRelay
from aid_chassis.tables import ChassisTables
from aid_contracts import Envelope

from .test_outbox_and_inbox import _event, _read_all, sessions_for

ASYNC = pytest.mark.asyncio(loop_scope="function")
metadata = MetaData()
chassis = ChassisTables(metadata)
people = Table("people", metadata, Column("name", String(50), primary_key=True), Column("note", String(50)),
               Column("year", SmallInteger))


@given(st.lists(st.binary(max_size=80), max_size=40), st.integers(min_value=1, max_value=50))
@settings(max_examples=200, deadline=None)
def test_partitions_agree_with_kafkas_default_partitioner(keys, count):
    keys = keys + [k + b"x" for k in keys] * 5  # enough keys of one length to take the vectorised path
    assert partitioner.partitions(keys, count) == [(murmur2(k) & 0x7FFFFFFF) % count for k in keys]


COMMON = {bulk.PACKED: bulk.PACKED_FORMAT, "content-type": "application/json", "ce_source": "test",
          "ce_time": "2026-12-04T00:00:00+00:00", "ce_specversion": "1.0"}


def test_a_packed_row_claiming_a_size_its_value_cannot_hold_is_refused_before_it_is_opened(monkeypatch):
    text = b"k\te\tt\ts\t1\t{}"
    frame = bytes(cramjam.zstd.compress(text, level=1))
    damaged = [(2**31 - 1).to_bytes(4, "little") + b"\x00" * 8,  # "2 GiB" from an lz4 block of 8 bytes
               (2).to_bytes(4, "little") + frame, (40).to_bytes(4, "little") + frame,  # the frame holds more, less
               b"\x01\x00"]
    for value in damaged:
        with pytest.raises(cramjam.DecompressionError, match=bulk.NOT_PACKED):
            bulk.unpack(COMMON, value)
    assert [r[3] for r in bulk.unpack(COMMON, bulk.packed_text(text))] == [b"{}"]
    monkeypatch.setattr(bulk, "MOST_PACKED_TEXT", len(text) - 1)  # more than any row's text: not even opened
    monkeypatch.setattr(bulk.cramjam.zstd, "decompress_into", lambda *_: pytest.fail("opened"))
    with pytest.raises(cramjam.DecompressionError, match=bulk.NOT_PACKED):
        bulk.unpack(COMMON, len(text).to_bytes(4, "little") + frame)
    with pytest.raises(ValueError, match="at most"):
        bulk.packed_text(text)  # nor packed


def test_a_row_packed_in_a_format_this_release_does_not_read_is_refused_not_sent_whole():
    row = bulk.packed_text(b"k\te\tt\ts\t1\t{}")
    later = {**COMMON, bulk.PACKED: "tsv+something-later"}
    assert bulk.is_packed(later) and not bulk.readable(later) and bulk.readable(COMMON)
    with pytest.raises(ValueError, match="does not read"):
        bulk.records_of(later, "1 events", row)


@pytest.mark.parametrize("lz4", [False, True], ids=["zstd", "lz4 (queued before zstd)"])
def test_a_packed_row_that_compresses_well_unpacks_whole(lz4):
    lines = b"\n".join(b"k\te%d\tt\ts\t1\t" % i + b"0" * 100_000 for i in range(20))  # compresses 250-fold or more
    packed = bytes(cramjam.lz4.compress_block(lines)) if lz4 else bulk.packed_text(lines)
    assert len(packed) * 200 < len(lines)
    assert [r[3] for r in bulk.unpack(COMMON, packed)] == [b"0" * 100_000] * 20


@pytest.fixture
async def sessions(fresh_database):
    async for made in sessions_for(fresh_database, metadata):
        yield made


@ASYNC
@pytest.mark.parametrize("wide", [False, True], ids=["csv-text-chunks", "copy-to"])
async def test_copy_round_trip_keeps_empty_text_nulls_and_quotes(sessions, wide):
    frame = pl.DataFrame({"name": ["王,伟", 'say "hi"', "\\N"], "note": ["", None, "行\n二"], "year": [2024, None, 1]},
                         schema={"name": pl.String, "note": pl.String, "year": pl.Int16})
    async with sessions() as s, s.begin():
        await bulk.copy_in(s, "people", frame)
        query = "SELECT name, note, year, year > %s FROM people ORDER BY name"
        back = await bulk.copy_out(s, query, {**frame.schema, "recent": pl.Boolean}, (2000,), wide=wide)
        nothing = await bulk.copy_out(s, "SELECT name FROM people WHERE false", {"name": pl.String}, wide=wide)
    recent = pl.Series("recent", [True, None, False])  # in the frame's order: no year, not known
    assert back.sort("name").to_dicts() == frame.with_columns(recent).sort("name").to_dicts()
    assert nothing.is_empty() and nothing.schema == {"name": pl.String}


@ASYNC
async def test_a_growing_table_is_analysed_at_its_marks_and_only_there(sessions):
    """ANALYZE at 3 rows added, then once the count has doubled (6), not in between, on a connection
    of its own: it counts the rows committed before the batch that reached the mark, and a batch
    rolled back after it keeps the statistics."""
    growth = bulk.Growth("people", ("name",), first=3)

    async def add(names: list[str], *, fail: bool = False) -> tuple:
        with contextlib.suppress(RuntimeError):
            async with sessions() as s, s.begin():
                schema = {"name": pl.String, "note": pl.String, "year": pl.Int16}
                await bulk.copy_in(s, "people", pl.DataFrame({"name": names, "note": None, "year": None}, schema=schema))
                await growth.added_rows(s, len(names))
                if fail:
                    raise RuntimeError("the batch fails after the mark")
        async with sessions() as s:
            return (await s.execute(text("SELECT reltuples::int, (SELECT count(*) FROM pg_stats WHERE "
                                         "tablename = 'people') FROM pg_class WHERE relname = 'people'"))).one()

    seen = [await add(["a", "b"]), await add(["c"]), await add(["d", "e"]), await add(["f"]),
            await add(["g", "h", "i", "j", "k", "l"], fail=True)]
    assert seen == [(-1, 0), (2, 1), (2, 1), (5, 1), (6, 1)]  # never analysed; at 3, 6 and 12 added (name only)


@ASYNC
async def test_a_cancelled_wide_read_cancels_the_statement_and_leaves_the_connection_usable(sessions):
    async with sessions() as s:
        async with s.begin():
            slow = "SELECT CASE WHEN g < 50000 THEN 'row' ELSE pg_sleep(30)::text END FROM generate_series(1, 50000) g"
            reading = asyncio.create_task(bulk.copy_out(s, slow, {"x": pl.String}, wide=True))
            await asyncio.sleep(1)  # rows sent, the last one 30 s away: the thread waiting for it
            reading.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(reading, 10)  # the statement cancelled on the server, not waited out
            assert not _reading_threads()  # no thread left on the connection the rollback uses
            await s.rollback()
        async with s.begin():
            again = await bulk.copy_out(s, "SELECT 'still here'", {"x": pl.String}, wide=True)
    assert again["x"].to_list() == ["still here"]


def _reading_threads() -> list[int]:
    return [ident for ident, frame in sys._current_frames().items()
            if any(f.f_code is bulk._drain.__code__ for f, _ in traceback.walk_stack(frame))]


def test_a_lazy_frame_of_events_packs_as_the_frame_does():
    events = _events("test.lazy", bulk.BATCH_EVENTS + 3, keys=7)
    assert _unpacked(bulk.pack_events(events.lazy())) == _unpacked(bulk.pack_events(events))
    assert [count for _, count, _ in bulk.pack_events(events.lazy())] == [bulk.BATCH_EVENTS, 3]


def _unpacked(packed: list[tuple[str, int, bytes]]) -> list[tuple[str, int, bytes]]:
    return [(topic, count, bulk._lines(value)) for topic, count, value in packed]


def _events(topic: str, count: int, keys: int) -> pl.DataFrame:
    return pl.DataFrame({
        "event_id": [f"e{i}" for i in range(count)], "topic": topic, "key": [f"student-{i % keys:03d}" for i in range(count)],
        "type": "list-imported", "dataschema": "https://schemas.example/aid/list-imported.v1.json", "dataversion": "1",
        "data": [_event(f"b{i}").value().decode() for i in range(count)]})


async def _relay_all(sessions, bootstrap: str) -> int:
    """Relay (claims of 3,000 events) until the outbox is empty; how many events were sent."""
    relay = OutboxRelay(sessions, chassis.outbox, bootstrap_servers=bootstrap, service="test", batch_size=3000)
    relay._producer = await make_producer(bootstrap, client_id="test-relay")
    try:
        sent = 0
        while batch := await relay.relay_once():
            sent += batch
        return sent
    finally:
        await relay._producer.stop()


@ASYNC
async def test_packed_events_reach_kafka_as_ordinary_envelopes_in_order_per_key(sessions, kafka_bootstrap):
    topic = f"test.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, partitions=3, topics=[topic])
    at = datetime.now(UTC).isoformat()
    count = bulk.BATCH_EVENTS + 700  # two packed rows
    async with sessions() as s, s.begin():
        await outbox.add(s, chassis.outbox, topic, _event("before"))
        await bulk.queue_events(s, chassis.outbox, _events(topic, count, keys=40), source="test", time=at)
        await outbox.add(s, chassis.outbox, topic, _event("after"))
    async with sessions() as s:
        assert (await outbox.backlog(s, chassis.outbox))[0] == count + 2
        pending = await outbox.pending(s, chassis.outbox)
    assert [e.id for _, e in pending][1:4] == ["e0", "e1", "e2"] and len(pending) == count + 2
    assert await _relay_all(sessions, kafka_bootstrap) == count + 2
    records = await _read_all(kafka_bootstrap, topic, count + 2)
    envelopes = [Envelope.from_kafka(r.headers, r.value) for r in records]
    packed = [e for e in envelopes if e.id[:1] == "e" and e.id[1:].isdigit()]  # not the uuid-named "before"/"after"
    assert len(packed) == count and {e.source for e in packed} == {"test"}
    first = next(e for e in packed if e.id == "e0")
    assert (first.type, first.partitionkey, first.subject, first.time.isoformat()) == (
        "list-imported", "student-000", "student-000", at)
    assert first.data == _event("b0").data | {"imported_at": first.data["imported_at"]}
    for key in {e.partitionkey for e in packed}:  # one key's events keep their queued order
        numbers = [int(r_id[1:]) for r_id in (e.id for e in packed if e.partitionkey == key)]
        assert numbers == sorted(numbers)
    assert all(dict(r.headers).get("traceparent") is None or dict(r.headers)["traceparent"].startswith(b"00-")
               for r in records)


@ASYNC
async def test_a_row_queued_before_zstd_is_counted_and_relayed_beside_new_ones(sessions, kafka_bootstrap):
    """An outbox row packed as an lz4 block (``tsv+lz4``, queued by the previous release) between
    rows packed with zstd: its events are counted in the backlog and reach Kafka as the others."""
    topic = f"test.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, partitions=3, topics=[topic])
    at, events = datetime.now(UTC).isoformat(), _events("", 90, keys=7)
    events = events.with_columns(topic=pl.lit(topic))
    ((_, old_count, old_value),) = bulk.pack_events(events.slice(30, 30))
    async with sessions() as s, s.begin():
        await bulk.queue_events(s, chassis.outbox, events.head(30), source="test", time=at)
        await outbox.add_raw(s, chassis.outbox, topic=topic, key=f"{old_count} events", event_id="packed-old",
                             headers={**COMMON, bulk.PACKED: "tsv+lz4", "ce_time": at},
                             value=bytes(cramjam.lz4.compress_block(bulk._lines(old_value))))
        await bulk.queue_events(s, chassis.outbox, events.tail(30), source="test", time=at)
    async with sessions() as s:
        assert (await outbox.backlog(s, chassis.outbox))[0] == 90
    assert await _relay_all(sessions, kafka_bootstrap) == 90
    read = await _read_all(kafka_bootstrap, topic, 90)
    assert sorted(Envelope.from_kafka(r.headers, r.value).id for r in read) == sorted(f"e{i}" for i in range(90))


@ASYNC
async def test_natively_made_batches_reach_kafka_as_the_python_paths_records_do(sessions, kafka_bootstrap, monkeypatch):
    """The same packed rows relayed with record batches made natively and by the Python path (the
    module set aside) arrive alike: partitions, offsets, keys, values and headers."""
    if records.native is None:
        pytest.skip("the native module is not built here (no Rust toolchain at `make venv`)")
    at, count, made = datetime.now(UTC).isoformat(), bulk.BATCH_EVENTS + 700, []
    batches, events = records.batches, _events("", count, keys=40)
    got = {}
    for path in ("native", "python"):
        topic = f"test.{uuid.uuid4().hex[:8]}"
        await ensure_topics(kafka_bootstrap, partitions=3, topics=[topic])
        async with sessions() as s, s.begin():
            await bulk.queue_events(s, chassis.outbox, events.with_columns(topic=pl.lit(topic)), source="test", time=at)
        monkeypatch.setattr(records, "batches", lambda *args: made.append(path) or batches(*args))
        if path == "python":
            monkeypatch.setattr(records, "native", None)
        try:
            assert await _relay_all(sessions, kafka_bootstrap) == count
        finally:
            monkeypatch.undo()
        got[path] = [(r.partition, r.offset, r.key, r.value, [h for h in r.headers if h[0] != "traceparent"])
                     for r in await _read_all(kafka_bootstrap, topic, count)]  # each relay's own span
    assert made == ["native", "native"]  # a packed row a claim: two, both native
    assert len(got["native"]) == count and got["native"] == got["python"]
    envelopes = [Envelope.from_kafka(headers, value) for *_, value, headers in got["native"]]
    assert {e.id for e in envelopes} == {f"e{i}" for i in range(count)} and {e.time.isoformat() for e in envelopes} == {at}


@ASYNC
async def test_a_packed_row_that_does_not_unpack_among_packed_rows_is_parked_and_nothing_is_sent_twice(
        sessions, kafka_bootstrap):
    """A topic of packed rows only (the native path when it is built) behind another topic's event in
    the same claim: the claim is refused before anything of it is sent, each good row then goes out
    once, the bad one is parked with the Python path's reason."""
    topic, other = f"test.{uuid.uuid4().hex[:8]}", f"test.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, partitions=3, topics=[topic, other])
    at, count = datetime.now(UTC).isoformat(), 300
    events = _events(topic, count, keys=40)
    async with sessions() as s, s.begin():
        await outbox.add(s, chassis.outbox, other, _event("first"))  # sent by the Python path, before the packed topic
        await bulk.queue_events(s, chassis.outbox, events.head(150), source="test", time=at)
        await outbox.add_raw(s, chassis.outbox, topic=topic, key="2 events", event_id="packed-bad",
                             headers={**COMMON, "ce_time": at},
                             value=b"not zstd nor lz4")
        await outbox.add_raw(s, chassis.outbox, topic=topic, key="1 events", event_id="packed-later",
                             headers={**COMMON, "ce_time": at, bulk.PACKED: "tsv+later"},  # a later release's
                             value=bulk.packed_text(b"k\te\tt\ts\t1\t{}"))  # zstd inside: no matter
        await bulk.queue_events(s, chassis.outbox, events.tail(150), source="test", time=at)
    relay = OutboxRelay(sessions, chassis.outbox, bootstrap_servers=kafka_bootstrap, service="test", batch_size=3000)
    relay._producer = await make_producer(kafka_bootstrap, client_id="test-relay")
    try:
        assert await relay.relay_once() == count + 1
        assert await relay.relay_once() == 0
    finally:
        await relay._producer.stop()
    assert len(await _read_all(kafka_bootstrap, other, 2, timeout=6)) == 1  # once, not again with the rows
    read = await _read_all(kafka_bootstrap, topic, count + 1, timeout=6)  # one more than sent: none comes
    assert sorted(Envelope.from_kafka(r.headers, r.value).id for r in read) == sorted(f"e{i}" for i in range(count))
    async with sessions() as s, s.begin():
        assert [(p["event_id"], p["reason"]) for p in await outbox.parked(s, chassis.outbox)] == [
            ("packed-bad", "DecompressionError"), ("packed-later", "ValueError")]
