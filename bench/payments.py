"""Benchmark: disbursement's bank file out and return file back, at ``BENCH_PAYMENTS`` payments
(default 1,000,000, issue 5's size), on a real PostgreSQL it starts itself, each next to its floor:

- batch.create     ready payments collected into one batch (set-wise SQL)
- file.write       the batch read back with its cards decrypted and the CSV bank file written to disk
- floor.write      the same lines, already in memory, joined and written to disk (no database, no crypto)
- return.reconcile the bank's return file parsed, reconciled against the batch and applied
                   (lines, payments, notices, packed ``paid`` events), committed
- floor.read       the same return file read and split into fields (no checks, no database)

Writes ``bench/results/payments.json``; ``make bench`` prints it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import resource
import tempfile
import time
from pathlib import Path

import polars as pl
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from aid_chassis import bulk, datakeys
from aid_chassis.auth import Principal, Role
from aid_chassis.fields import FieldCipher, new_key_text
from aid_chassis.migrations import upgrade
from aid_local import bank, infra
from aid_local.platform import Platform
from disbursement.service_layer import batches
from report import save

RESULTS = Path(__file__).resolve().parent / "results" / "payments.json"
COUNTY = Principal("bench", Role.PROVINCE_BUREAU, region="520000")
CIPHER = FieldCipher.from_text(f"1={new_key_text()}")
FIELDS = FieldCipher.from_text(f"1={new_key_text()}")  # students' ID numbers and names, sealed


def _data_keys(owners: list[str]) -> list[bytes]:
    """Each student's data key, known to the bench's process as a follower of the topic would have them."""
    issued = dict(zip(owners, datakeys.new_keys(len(owners)), strict=True))
    buckets: dict[int, dict[bytes, bytes]] = {}
    for owner, key in issued.items():
        buckets.setdefault(datakeys.bucket_of(owner), {})[datakeys.student_id(owner)] = key
    known = datakeys.attach(FIELDS)
    for bucket, entries in buckets.items():
        known.put(bucket, datakeys.seal_bucket(FIELDS, bucket, entries))
    return [issued[owner] for owner in owners]


def _payments(n: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``n`` ready payments of a province and the students' encrypted cards."""
    keys = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(n)]
    sealed = FIELDS.seal_columns({"id_number": [f"5201022014{i:07d}X" for i in range(n)], "name": ["张小三"] * n},
                                 keys, _data_keys(keys))  # as events bring them: under each student's data key
    ids, names = sealed["id_number"], sealed["name"]
    student = [f'{{"id_number":"{ids[i]}","name":"{names[i]}","school_code":"5201020001","stage":"primary",'
               f'"enrolment_region":"520102","household_region":"520102"}}' for i in range(n)]
    payments = pl.DataFrame({"payment_id": [f"P{i:010d}" for i in range(n)], "list_id": [str(i // 50) for i in range(n)],
                             "student_key": keys, "programme_code": "compulsory_living_subsidy_primary",
                             "programme_name": "义务教育家庭经济困难学生生活补助（小学）", "period": "2026-autumn",
                             "amount_fen": 50_000, "student": student, "region": "520102"})
    cards = [("\\x" + CIPHER.seal(f"622202{i:013d}", k, "card").hex(), "\\x" + CIPHER.seal("13800138000", k, "phone").hex())
             for i, k in enumerate(keys)]
    accounts = pl.DataFrame({"student_key": keys, "bank": "ICBC", "card_cipher": [c for c, _ in cards],
                             "card_last4": [f"{i % 10000:04d}" for i in range(n)],
                             "phone_cipher": [p for _, p in cards], "registered_by": "bench"})
    return payments, accounts


async def _timed(results: dict, name: str, work):
    t0 = time.perf_counter()
    value = await work
    results[name] = round(time.perf_counter() - t0, 3)
    return value


async def _run(sessions, n: int, out_dir: Path, results: dict) -> None:
    payments, accounts = _payments(n)
    async with sessions() as s, s.begin():
        await bulk.copy_in(s, "payments", payments)
        await bulk.copy_in(s, "payment_states", payments.select("payment_id", pl.lit("ready").alias("status")))
        await bulk.copy_in(s, "bank_accounts", accounts)
        await bulk.refresh_statistics(s, "payments", n)
        await bulk.refresh_statistics(s, "payment_states", n)
        await bulk.refresh_statistics(s, "bank_accounts", n)
    del payments, accounts

    async def create():
        async with sessions() as s, s.begin():
            return await batches.create_batch(s, COUNTY, list_id=None, limit=n)

    batch = await _timed(results, "batch.create", create())
    bank_file = out_dir / "bank.csv"

    async def write():
        async with sessions() as s, s.begin():
            found, lines = await batches.export_lines(s, COUNTY, batch["batch_id"], CIPHER, FIELDS)
        with bank_file.open("wb") as out:
            for chunk in batches.bank_file(found, lines, "csv"):
                out.write(chunk)
        return lines

    lines = await _timed(results, "file.write", write())
    t0 = time.perf_counter()
    raw = "\n".join(f"D,{k},{p},{n},{i},{b},{c},{a}" for k, (p, n, i, b, c, a) in enumerate(lines.iter_rows(), start=1))
    (out_dir / "floor.csv").write_text(raw)
    results["floor.write"] = round(time.perf_counter() - t0, 3)
    del lines, raw
    returned = bank.answer(bank_file.read_bytes(), fail={f"P{i:010d}" for i in range(0, n, 1000)})

    async def reconcile():
        async with sessions() as s, s.begin():
            return await batches.import_return(s, COUNTY, returned)

    report = await _timed(results, "return.reconcile", reconcile())
    t0 = time.perf_counter()
    fields = [line.split(",") for line in returned.decode().splitlines()]
    results["floor.read"] = round(time.perf_counter() - t0, 3)
    assert len(fields) == n + 2 and report["paid"] + report["failed"] == n, report
    results["paid"], results["failed"] = report["paid"], report["failed"]


async def main() -> dict:
    n = int(os.environ.get("BENCH_PAYMENTS", "1000000"))
    results: dict = {"payments": n}
    with tempfile.TemporaryDirectory(prefix="aid-bench-") as state:
        platform = Platform(state_dir=Path(state), kafka_port=24092, postgres_port=24432)
        server = infra.postgres(platform)
        try:
            await asyncio.to_thread(server.start)
            await asyncio.to_thread(infra.create_databases, platform)
            url = f"postgresql+psycopg://aid@127.0.0.1:{platform.postgres_port}/disbursement"
            await asyncio.to_thread(upgrade, "disbursement:migrations", url)
            engine = create_async_engine(url, pool_size=2)
            await _run(async_sessionmaker(engine, expire_on_commit=False), n, Path(state), results)
            await engine.dispose()
        finally:
            await asyncio.to_thread(server.stop)
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    results["write_ratio_to_floor"] = round(results["file.write"] / results["floor.write"], 1)
    results["reconcile_ratio_to_floor"] = round(results["return.reconcile"] / results["floor.read"], 1)
    results["targets"] = {"file.write": 10, "return.reconcile": 30}
    return results


if __name__ == "__main__":
    found = asyncio.run(main())
    save(RESULTS, found)
    print(json.dumps(found, indent=2, ensure_ascii=False))
