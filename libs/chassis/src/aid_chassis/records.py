"""Kafka record batches of packed outbox rows, made natively (``aid_native.record_batches``,
``libs/native``) and handed to aiokafka whole.

The records are those the Python path makes (``bulk.unpack``, then aiokafka's builder): the same
keys, values and CloudEvents headers in the same order, each on the partition Kafka's default
partitioner gives its key, in outbox order, cut into batches of the producer's size and compressed
with lz4 (the packed rows' own zstd or lz4 undone first). A province's 600,000 comparison events
took the relay about 5 s of Python (unpacking, partitioning, aiokafka's appends and compression:
``bench/matching.py``); natively, without the GIL, 1–2 s, most of it the lz4 compression both
paths do. Without the module (no Rust toolchain at ``make venv``) the relay takes the Python path.
"""

from __future__ import annotations

import time

try:
    import aid_native as native
except ImportError:  # the Python path: bulk.unpack and aiokafka's own batches
    native = None


class PackedBatch:
    """A record batch made natively, in place of aiokafka's ``BatchBuilder`` (what its
    ``send_batch``, accumulator and sender call). The producer writes its id, epoch and first
    sequence when it drains the batch (an idempotent producer's), and the checksum is written
    then (``aid_native.stamp_batch``); a retried batch sends the same bytes."""

    def __init__(self, data: bytes, count: int) -> None:
        self._data: bytes | None = data
        self._count = count
        self._state = (-1, -1, -1)  # no producer id, epoch or sequence: a producer without idempotence
        self._buffer: bytes | None = None

    def _set_producer_state(self, producer_id: int, producer_epoch: int, base_sequence: int) -> None:
        self._state = (producer_id, producer_epoch, base_sequence)

    def _build(self) -> bytes:
        if self._buffer is None:
            self._buffer, self._data = native.stamp_batch(self._data, *self._state), None
        return self._buffer

    def size(self) -> int:
        return len(self._buffer if self._buffer is not None else self._data)

    def record_count(self) -> int:
        return self._count

    def closed(self) -> bool:
        return True  # nothing is appended to it

    def close(self) -> None:
        """Already closed."""


def batches(rows: list[tuple], partitions: int, max_bytes: int) -> dict[int, list[PackedBatch]]:
    """Each partition's record batches, in order, of packed rows of one topic (in outbox order):
    (value, content type, source, time, spec version, the headers each record ends with). A row
    that does not unpack raises the Python path's error (``cramjam.DecompressionError`` or
    ``ValueError``), naming its place."""
    made: dict[int, list[PackedBatch]] = {}
    for partition, count, data in native.record_batches(rows, partitions, max_bytes, int(time.time() * 1000)):
        made.setdefault(partition, []).append(PackedBatch(data, count))
    return made
