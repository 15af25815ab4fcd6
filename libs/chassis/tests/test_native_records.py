"""The record batches ``aid_native.record_batches`` makes of packed outbox rows hold what the Python
path sends (``bulk.unpack``, ``partitioner.partitions``, aiokafka's builder): the same records, on
the same partitions, in the same order, cut at the producer's batch size; aiokafka reads them back
with a valid checksum once stamped with the producer's state."""

from __future__ import annotations

import os

import cramjam
import pytest
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from hypothesis import given, settings
from hypothesis import strategies as st

from aid_chassis import bulk, partitioner, records

if records.native is None:
    if os.environ.get("CI"):
        raise RuntimeError("the native module is not installed: `make venv` builds it with cargo (libs/native)")
    pytest.skip("the native module is not built here (no Rust toolchain at `make venv`): the relay's Python path runs",
                allow_module_level=True)

COMMON = {"content-type": "application/json", "ce_source": "identity-matching", "ce_time": "2026-12-04T01:00:00+00:00",
          "ce_specversion": "1.0", bulk.PACKED: bulk.PACKED_FORMAT}
FIELD = st.binary(max_size=40).map(lambda b: b.replace(b"\t", b" ").replace(b"\n", b" "))
LINE = st.tuples(FIELD, FIELD, FIELD, FIELD, FIELD, st.binary(max_size=300).map(lambda b: b.replace(b"\n", b" ")))


def _row(lines: list[tuple], lz4: bool = False) -> bytes:
    """A packed row of ``lines``: as ``bulk.pack_events`` packs it (zstd), or as rows queued before were (lz4)."""
    text = b"\n".join(b"\t".join(line) for line in lines)
    return bytes(cramjam.lz4.compress_block(text)) if lz4 else bulk.packed_text(text)


def _native_row(value: bytes, extra: list[tuple[str, bytes]]) -> tuple:
    return (value, *(COMMON[name].encode() for name in bulk.PACKED_COMMON), extra)


def _read(batch: bytes) -> tuple:
    """(producer id, epoch, base sequence, [(offset, key, value, headers)]) of one stamped batch,
    checked as aiokafka reads it: checksum, lz4, no leader epoch, timestamps, offsets."""
    read = MemoryRecords(batch).next_batch()
    assert read.validate_crc() and read.compression_type == read.CODEC_LZ4 and not read.is_transactional
    assert int.from_bytes(batch[12:16], "big", signed=True) == -1  # no partition leader epoch: the broker's
    held = list(read)  # a batch's records are read once
    assert read.first_timestamp == read.max_timestamp and {r.timestamp for r in held} == {read.first_timestamp}
    return (read.producer_id, read.producer_epoch, read.base_sequence,
            [(r.offset, r.key, r.value, list(r.headers)) for r in held])


def _aiokafka_cuts(records: list[tuple], max_bytes: int, timestamp: int) -> list[int]:
    """How many of ``records`` (key, value, headers) each batch of aiokafka's own builder takes (its
    compiled one, the producer's, cuts a batch that would reach ``max_bytes``; its Python one one
    that would pass it)."""
    counts, builder = [], None
    for key, value, headers in records:
        if builder is None or builder.append(counts[-1], timestamp, key, value, headers) is None:
            builder = DefaultRecordBatchBuilder(2, 0, 0, -1, -1, -1, max_bytes)
            builder.append(0, timestamp, key, value, headers)
            counts.append(0)
        counts[-1] += 1
    return counts


def _python_path(rows: list[bytes], extra: list[tuple[str, bytes]], partitions: int) -> dict[int, list]:
    """Each partition's (key, value, headers), in order, as the relay's Python path sends them."""
    events = [record for value in rows for record in bulk.unpack(COMMON, value)]
    expected: dict[int, list] = {}
    for (_, key, headers, value), partition in zip(events, partitioner.partitions([e[1] for e in events], partitions),
                                                    strict=True):
        expected.setdefault(partition, []).append((key, value, [*headers, *extra]))
    return expected


@given(st.lists(st.tuples(st.lists(LINE, min_size=1, max_size=12), st.booleans()), min_size=1, max_size=4),
       st.integers(1, 7), st.integers(200, 3000))
@settings(max_examples=150, deadline=None)
def test_native_batches_hold_the_python_paths_records_in_order(lines, partitions, max_bytes):
    """Rows packed with zstd and rows queued before with lz4, mixed."""
    extra = [("traceparent", b"00-" + b"1" * 32 + b"-" + b"2" * 16 + b"-01")]
    rows = [_row(row, lz4) for row, lz4 in lines]
    made = records.native.record_batches([_native_row(v, extra) for v in rows], partitions, max_bytes, 1_700_000_000_000)
    got: dict[int, list] = {}
    cuts: dict[int, list] = {}
    for partition, count, data in made:
        cuts.setdefault(partition, []).append(count)
        assert len(data) > 61 and data[16] == 2  # magic 2
        producer_id, epoch, sequence, read = _read(records.native.stamp_batch(data, 4711, 3, 100 + partition))
        assert (producer_id, epoch, sequence) == (4711, 3, 100 + partition)
        assert [offset for offset, *_ in read] == list(range(count))
        uncompressed = 61 + sum(_size(key, value, headers, offset) for offset, key, value, headers in read)
        assert count == 1 or uncompressed < max_bytes  # cut under the producer's batch size; a lone record always fits
        got.setdefault(partition, []).extend((key, value, headers) for _, key, value, headers in read)
    expected = _python_path(rows, extra, partitions)
    assert got == expected
    assert cuts == {p: _aiokafka_cuts(records_, max_bytes, 1_700_000_000_000) for p, records_ in expected.items()}


def _size(key: bytes, value: bytes, headers: list, offset: int) -> int:
    """A record's encoded size (magic 2, timestamp delta 0)."""
    def varint(n: int) -> int:
        zigzag, size = (n << 1) ^ (n >> 63), 1
        while zigzag >= 0x80:
            zigzag, size = zigzag >> 7, size + 1
        return size

    def field(data: bytes) -> int:
        return varint(len(data)) + len(data)

    body = 1 + varint(0) + varint(offset) + field(key) + field(value) + varint(len(headers)) + sum(
        field(name.encode()) + field(text) for name, text in headers)
    return varint(body) + body


def test_a_batch_is_cut_where_the_next_record_would_pass_the_size_and_carries_on_in_order():
    rows = [_row([(b"k", b"e%d" % i, b"t", b"s", b"1", b"x" * 100) for i in range(50)])]
    made = records.native.record_batches([_native_row(v, []) for v in rows], 1, 1_000, 0)
    counts = [count for _, count, _ in made]
    assert len(counts) > 1 and sum(counts) == 50
    read = [record for _, _, data in made for record in _read(records.native.stamp_batch(data, -1, -1, -1))[3]]
    ids = [dict(headers)["ce_id"] for *_, headers in read]
    assert ids == [b"e%d" % i for i in range(50)]


LINE_TEXT = b"k\te\tt\ts\t1\t{}"
FRAME = bytes(cramjam.zstd.compress(LINE_TEXT, level=1))


@pytest.mark.parametrize(("value", "error", "why"), [
    (b"\x00\x01", cramjam.DecompressionError, bulk.NOT_PACKED),
    ((len(LINE_TEXT) - 1).to_bytes(4, "little") + FRAME, cramjam.DecompressionError, bulk.NOT_PACKED),  # holds more
    ((len(LINE_TEXT) + 1).to_bytes(4, "little") + FRAME, cramjam.DecompressionError, bulk.NOT_PACKED),  # holds less
    (len(LINE_TEXT).to_bytes(4, "little") + FRAME[:-3], cramjam.DecompressionError, bulk.NOT_PACKED),  # cut short
    (bytes(cramjam.lz4.compress_block(b"k\te\tt\ts\t1")), ValueError, "a line without its six fields"),
    (bulk.packed_text(b"k\te\tt\ts\t1"), ValueError, "a line without its six fields"),
])
def test_a_row_that_does_not_unpack_raises_the_python_paths_error_naming_its_place(value, error, why):
    good = _row([(b"k", b"e", b"t", b"s", b"1", b"{}")])
    with pytest.raises(error) as python_path:
        bulk.unpack(COMMON, value)
    with pytest.raises(error, match=f"packed outbox row 1: {why}") as native_path:
        records.native.record_batches([_native_row(good, []), _native_row(value, [])], 3, 1_000_000, 0)
    assert type(native_path.value) is type(python_path.value)
    with pytest.raises(ValueError):
        records.native.stamp_batch(b"short", 1, 0, 0)


def test_a_size_no_row_could_have_is_refused_before_anything_is_unpacked():
    """lz4 could not reach "4 GiB" from 8 bytes; no row's text is over ``bulk.MOST_PACKED_TEXT``
    (a true frame of that size, which would unpack, and then fail as a line without its fields)."""
    lz4 = (2**32 - 1).to_bytes(4, "little") + b"\x00" * 8
    size = bulk.MOST_PACKED_TEXT + 1
    zstd = size.to_bytes(4, "little") + bytes(cramjam.zstd.compress(bytes(size), level=1))
    for claimed in (lz4, zstd):
        with pytest.raises(cramjam.DecompressionError, match=f"packed outbox row 0: {bulk.NOT_PACKED}"):
            records.native.record_batches([_native_row(claimed, [])], 3, 1_000_000, 0)
    with pytest.raises(ZeroDivisionError):  # a topic without partitions is no row's fault (not parked)
        records.native.record_batches([_native_row(_row([(b"k", b"e", b"t", b"s", b"1", b"{}")]), [])], 0, 1_000_000, 0)


def test_a_packed_batch_stands_in_for_aiokafkas_builder():
    rows = [_row([(b"k", b"e", b"t", b"s", b"1", b"{}")])]
    (batch,) = records.batches([_native_row(v, []) for v in rows], 1, 1_000_000)[0]
    before = batch.size()
    assert (batch.record_count(), batch.closed()) == (1, True)
    batch._set_producer_state(9, 1, 5)
    built = batch._build()
    assert batch._build() is built and batch.size() == len(built) == before  # built once: a retry sends the same bytes
    assert _read(built)[:3] == (9, 1, 5)
    (plain,) = records.batches([_native_row(v, []) for v in rows], 1, 1_000_000)[0]
    assert _read(plain._build())[:3] == (-1, -1, -1)  # a producer without idempotence sets no state
