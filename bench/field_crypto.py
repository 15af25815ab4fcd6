"""Benchmark: the cost of encrypting personal fields one by one from Python (docs/security.md's
plan: ID numbers and names as AES-256-GCM tokens bound to the student key).

For ``BENCH_FIELDS`` (default 300,000) ID numbers: sealing each as ``v1.<key id>.<base64url(nonce
‖ ciphertext)>`` with the student key and field name as associated data, and opening them again;
the floor is the same loop building an equally long string without the cipher, in the same run.
Projected onto the comparison's bulk path (1.5 million students × two fields).

``students``: what the platform does now — ``BENCH_STUDENTS_SEALED`` (default 200,000) students'
ID numbers and names sealed under each student's own data key (``FieldCipher.seal_columns``) and
opened again (``open_columns``), by the native sealer (``libs/native``) and by the Python path in
the same run (each the fastest of three); null for the native when it is not built. Writes
``bench/results/field_crypto.json``.
"""

from __future__ import annotations

import base64
import json
import os
import platform
import time
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from aid_chassis import datakeys, fields
from aid_chassis.fields import FieldCipher, new_key_text
from report import save

RESULTS = Path(__file__).resolve().parent / "results" / "field_crypto.json"
PROVINCE_FIELDS = 1_500_000 * 2


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _fastest(fn, rounds: int = 3) -> float:
    return min(_timed(fn) for _ in range(rounds))


def students() -> dict:
    """Microseconds a student (two fields) sealed and opened under their own data keys, natively and in Python."""
    n = int(os.environ.get("BENCH_STUDENTS_SEALED", "200000"))
    owners = [os.urandom(32).hex() for _ in range(n)]
    keys = datakeys.new_keys(n)
    ring = FieldCipher.from_text(f"k1={new_key_text()}")
    held = datakeys.attach(ring)
    by_bucket: dict[int, dict[bytes, bytes]] = {}
    for owner, key in zip(owners, keys, strict=True):
        bucket, sid = datakeys.filed(owner)
        by_bucket.setdefault(bucket, {})[sid] = key
    for bucket, entries in by_bucket.items():
        held.put(bucket, datakeys.seal_bucket(ring, bucket, entries))
    columns = {"id_number": [f"52010220140101{i % 10000:04d}" for i in range(n)], "name": ["张小明"] * n}
    native, timings = fields.native, {}
    for path, module in (("native", native), ("python", None)):
        if path == "native" and native is None:
            timings[path] = None
            continue
        fields.native = module
        try:
            sealed = ring.seal_columns(columns, owners, keys)
            timings[path] = {"seal": _fastest(lambda: ring.seal_columns(columns, owners, keys)) / n * 1e6,  # noqa: B023
                             "open": _fastest(lambda: ring.open_columns(sealed, owners)) / n * 1e6}  # noqa: B023
            assert ring.open_columns(sealed, owners) == columns
        finally:
            fields.native = native
    python = timings["python"]
    return {"students": n, "microseconds_per_student": {
        path: None if t is None else {k: round(v, 2) for k, v in t.items()} for path, t in timings.items()},
        "native_to_python": None if timings["native"] is None else {
            k: round(timings["native"][k] / python[k], 2) for k in ("seal", "open")}}


def main() -> dict:
    n = int(os.environ.get("BENCH_FIELDS", "300000"))
    values = [f"52010220140101{i % 10000:04d}" for i in range(n)]
    keys = [f"key-{i:060d}".encode() for i in range(n)]
    cipher = AESGCM(AESGCM.generate_key(bit_length=256))
    tokens: list[str] = []

    def seal() -> None:
        for value, key in zip(values, keys, strict=True):
            nonce = os.urandom(12)
            sealed = cipher.encrypt(nonce, value.encode(), key + b"|id_number")
            tokens.append("v1.k1." + base64.urlsafe_b64encode(nonce + sealed).decode())

    def open_all() -> None:
        for token, key in zip(tokens, keys, strict=True):
            raw = base64.urlsafe_b64decode(token[6:])
            cipher.decrypt(raw[:12], raw[12:], key + b"|id_number").decode()

    def floor() -> None:
        out = []
        for value, key in zip(values, keys, strict=True):
            out.append("v1.k1." + base64.urlsafe_b64encode(value.encode() + key[:30]).decode())

    seconds = {"floor": _timed(floor), "seal": _timed(seal), "open": _timed(open_all)}
    per_field = {k: round(v / n * 1e6, 2) for k, v in seconds.items()}
    result = {"fields": n, "microseconds_per_field": per_field,
              "ratio_to_floor": {k: round(seconds[k] / seconds["floor"], 1) for k in ("seal", "open")},
              "projected_province_seconds": {k: round(per_field[k] * PROVINCE_FIELDS / 1e6, 1)
                                             for k in ("seal", "open")},
              "students": students(),
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
    save(RESULTS, result)
    return result


if __name__ == "__main__":
    print(json.dumps(main(), indent=1))
