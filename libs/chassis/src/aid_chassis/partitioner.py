"""Kafka's default partitioner (murmur2 of the key), for many keys at once.

The outbox relay picks each record's partition itself so it can send whole record batches;
it must pick exactly what Kafka's own clients pick (Java's ``BuiltInPartitioner`` and
aiokafka's ``DefaultPartitioner``), or one student's events would split across partitions.
Keys of equal length are hashed together with numpy; the tests compare with aiokafka.
"""

from __future__ import annotations

import numpy as np
from aiokafka.partitioner import murmur2

_SEED, _M, _R = 0x9747B28C, 0x5BD1E995, 24


def _murmur2_same_length(keys: list[bytes]) -> np.ndarray:
    """murmur2 of keys that all have the same length, as uint32 values in uint64."""
    length = len(keys[0])
    whole = length // 4 * 4
    data = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), length)
    words = np.ascontiguousarray(data[:, :whole]).view("<u4").astype(np.uint64)
    mask, m = np.uint64(0xFFFFFFFF), np.uint64(_M)
    h = np.full(len(keys), (_SEED ^ length) & 0xFFFFFFFF, dtype=np.uint64)
    for i in range(whole // 4):
        k = (words[:, i] * m) & mask
        k ^= k >> np.uint64(_R)
        h = ((h * m) & mask) ^ ((k * m) & mask)
    if length > whole:
        for j in reversed(range(length - whole)):
            h ^= data[:, whole + j].astype(np.uint64) << np.uint64(8 * j)
        h = (h * m) & mask
    h ^= h >> np.uint64(13)
    h = (h * m) & mask
    h ^= h >> np.uint64(15)
    return h


def partitions(keys: list[bytes], count: int) -> list[int]:
    """The partition (of ``count``, numbered from 0) Kafka's default partitioner gives each key."""
    result = [0] * len(keys)
    by_length: dict[int, list[int]] = {}
    for index, key in enumerate(keys):
        by_length.setdefault(len(key), []).append(index)
    for length, indexes in by_length.items():
        if length == 0 or len(indexes) < 8:
            for i in indexes:
                result[i] = (murmur2(keys[i]) & 0x7FFFFFFF) % count
            continue
        hashes = _murmur2_same_length([keys[i] for i in indexes])
        for i, value in zip(indexes, ((hashes & np.uint64(0x7FFFFFFF)) % np.uint64(count)).tolist(), strict=True):
            result[i] = value
    return result
