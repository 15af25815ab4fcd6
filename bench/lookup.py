"""Benchmark: the public personal lookup (个人查询) under load (issue 6: ≥ 3,000 requests/s, p99 ≤ 20 ms).

On a PostgreSQL and a Kafka broker it starts itself (loopback, temporary state directory), query's
read models hold ``BENCH_LOOKUP_STUDENTS`` students (default 1,500,000; two thirds with a paid aid
record), their names and ID numbers sealed under their own data keys, which are published on the
data-keys topic as identity-matching publishes them (the API follows them and opens what it shows
and compares). The query API runs as in a deployment (its own processes, ``QUERY_API_WORKERS``); the load
generator (``bench/loadgen``, Go, built here) keeps 24 connections busy from the same machine
with lookups that are 90% right, 5% a wrong name and 5% an unknown ID number. Rate limits are
off for the run (one client address would otherwise be limited at once). ``BENCH_LOOKUP_SECONDS``
(default 15): how long the load and the load during the import run; the timing runs take at most
5 s each and the floor at most 10 s.

- ``api``          requests/s and latency percentiles through the HTTP API
- ``floor``        the same query with the bare driver (psycopg, prepared, 8 connections), no
                   framework, in the same run: queries/s and p99
- ``during_import`` the same load while identity-matching imports a roster of as many students
                   (its API on the same machine and PostgreSQL server): requests/s, p50, p99, and
                   how long the import took
- ``timing``       median latency of found / wrong-name / unknown-ID lookups, run apart: the
                   anti-enumeration bound (the answers must not be told apart by time)

Writes ``bench/results/lookup.json``; ``make bench`` runs it.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import subprocess
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import httpx
import polars as pl
import psycopg

from aid_chassis import bulk, datakeys
from aid_chassis.dev_issuer import DevIssuer
from aid_chassis.fields import FieldCipher
from aid_chassis.kafka import make_producer
from aid_contracts.keys import check_digit, student_keys
from aid_local import demo_data, infra
from aid_local.platform import SERVICES, Platform
from aid_local.supervisor import Supervisor
from report import save
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

RESULTS = Path(__file__).resolve().parent / "results" / "lookup.json"
LOADGEN = Path(__file__).resolve().parent / "loadgen"
QUERY = next(s for s in SERVICES if s.name == "query")
MATCHING = next(s for s in SERVICES if s.name == "identity-matching")
CONNECTIONS = int(os.environ.get("BENCH_LOOKUP_CONNECTIONS", "24"))
LOOKUP_SQL = ("SELECT s.name, s.id_number, s.school_code, a.programme_name, a.period, a.amount_fen, a.status, "
              "a.paid_on FROM students s LEFT JOIN aid_records a ON a.student_key = s.student_key "
              "WHERE s.student_key = %s ORDER BY a.published_at")


def _province(n: int, secret: bytes) -> pl.DataFrame:
    """``n`` students with valid ID numbers over 30 counties and 300 schools."""
    ids, schools, regions = [], [], []
    first = date(2008, 1, 1)
    for i in range(n):
        county, rest = f"52{1 + i % 6:02d}{1 + (i // 6) % 5:02d}", i // 30  # unique: (county, rest)
        body = f"{county}{(first + timedelta(days=rest // 1000)):%Y%m%d}{rest % 1000:03d}"
        ids.append(body + check_digit(body))
        schools.append(f"{county}{rest % 10:04d}")
        regions.append(county)
    frame = pl.DataFrame({"student_key": student_keys(ids, secret), "id_number": ids, "school_code": schools,
                          "enrolment_region": regions})
    return frame.unique("student_key", keep="first")


def _sealed(frame: pl.DataFrame, ring: FieldCipher) -> tuple[dict[str, list], dict[int, bytes]]:
    """The students' names (all 张小明) and ID numbers sealed under data keys issued for them, and
    the data keys' buckets ({bucket: plaintext}) to publish."""
    owners = frame["student_key"].to_list()
    keys, plains = datakeys.issued({}, owners)
    columns = {"name": ["张小明"] * len(owners), "id_number": frame["id_number"].to_list()}
    return ring.seal_columns(columns, owners, keys), plains


async def _publish_keys(bootstrap: str, ring: FieldCipher, plains: dict[int, bytes]) -> None:
    """The data keys' buckets on their compacted topic, sealed under the ring."""
    producer = await make_producer(bootstrap, client_id="bench-lookup-keys")
    try:
        for bucket in sorted(plains):
            await producer.send(datakeys.TOPIC, datakeys.seal_plain(ring, bucket, plains[bucket]),
                                key=datakeys.record_key(bucket))
        await producer.flush()
    finally:
        await producer.stop()


async def _fill(url: str, frame: pl.DataFrame, sealed: dict[str, list]) -> None:
    students = frame.with_columns(
        name=pl.Series(sealed["name"]), id_number=pl.Series(sealed["id_number"]), stage=pl.lit("primary"),
        household_region=pl.col("enrolment_region"),
        categories=pl.lit("{registered_poor}"), departments=pl.lit("{poverty_office}"),
        name_mismatch=pl.lit("f"), origin=pl.lit("matched"), match_revision=pl.lit(1), verified_revision=pl.lit(1),
        matched=pl.lit("t"), status=pl.lit("verified_unchanged"), updated_at=pl.lit("2026-11-02 09:00:00+00"))
    paid = frame.filter(pl.int_range(pl.len()) % 3 != 0).select(
        "student_key", list_id=pl.lit("L2026A"), programme_code=pl.lit("compulsory_living_subsidy_primary"),
        programme_name=pl.lit("义务教育家庭经济困难学生生活补助"), period=pl.lit("2026-autumn"),
        amount_fen=pl.lit(62_500), status=pl.lit("paid"), published_at=pl.lit("2026-10-01 09:00:00+00"),
        paid_on=pl.lit("2026-11-02"))
    engine = create_async_engine(url)
    try:
        async with async_sessionmaker(engine)() as s, s.begin():
            await bulk.copy_in(s, "students", students)
            await bulk.copy_in(s, "aid_records", paid)
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql("VACUUM ANALYZE students")
            await conn.exec_driver_sql("VACUUM ANALYZE aid_records")
    finally:
        await engine.dispose()


def _bodies(frame: pl.DataFrame, path: Path, *, kind: str = "mix", count: int = 20_000) -> Path:
    rng = random.Random(kind)
    rows = frame.sample(count, seed=7, with_replacement=True).rows(named=True)
    lines = []
    for i, row in enumerate(rows):
        body = {"name": "张小明", "id_number": row["id_number"], "school_code": row["school_code"]}
        roll = rng.random() if kind == "mix" else {"found": 0.0, "wrong_name": 0.92, "unknown": 0.97}[kind]
        if 0.90 <= roll < 0.95:
            body["name"] = "张小"
        elif roll >= 0.95:
            body["id_number"] = body["id_number"][:6] + "19000101" + f"{i % 1000:03d}" + "X"
        lines.append(json.dumps(body, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def _ready(base: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(120):
            try:
                if (await client.get(f"{base}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
    raise RuntimeError("the query API did not become ready")


def _loadgen(binary: Path, url: str, bodies: Path, seconds: int, connections: int = CONNECTIONS) -> dict:
    done = subprocess.run([str(binary), "-url", url, "-bodies", str(bodies), "-c", str(connections),
                           "-d", f"{seconds}s", "-warmup", "2s"], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


async def _floor(dsn: str, keys: list[str], seconds: float = 10, connections: int = 8) -> dict:
    """The lookup's query alone, with the bare driver: prepared, ``connections`` at once."""
    latencies: list[float] = []
    stop = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        async with await psycopg.AsyncConnection.connect(dsn, prepare_threshold=0) as conn:
            i = offset
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                await (await conn.execute(LOOKUP_SQL, (keys[i % len(keys)],))).fetchall()
                latencies.append((time.perf_counter() - t0) * 1000)
                i += connections

    began = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(connections)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {"queries": len(latencies), "qps": round(len(latencies) / elapsed),
            "p99_ms": round(latencies[int(0.99 * len(latencies)) - 1], 2)}


def _roster_csv(n: int) -> bytes:
    """A roster of ``n`` students of five real counties (valid ID numbers), for the import run during load."""
    counties, first = list(demo_data.COUNTIES), date(2012, 1, 1)
    lines = [",".join(demo_data.ROSTER_HEADER)]
    for i in range(n):
        county, rest = counties[i % len(counties)], i // len(counties)
        body = f"{county}{first + timedelta(days=rest // 1000):%Y%m%d}{rest % 1000:03d}"
        lines.append(f"{body}{check_digit(body)},张小明,{county}{1 + rest % 10:04d},primary,{county},{county}")
    return ("\n".join(lines) + "\n").encode()


async def _during_import(platform: Platform, supervisor: Supervisor, binary: Path, url: str, bodies: Path,
                         seconds: int, n: int) -> dict:
    """The same lookups while identity-matching imports a roster of ``n`` students on the same machine
    and the same PostgreSQL server (issue 10: the public lookup under load while imports run)."""
    roster = _roster_csv(n)
    supervisor.migrate([MATCHING])
    supervisor.start(MATCHING, "api")
    await _ready(platform.url(MATCHING))
    token = DevIssuer(platform.keys_dir).issue(subject="bench", role="province_bureau", region="520000")

    async def upload() -> tuple[float, dict]:
        async with httpx.AsyncClient(timeout=900) as client:
            t0 = time.perf_counter()
            resp = await client.post(f"{platform.url(MATCHING)}/imports/roster", headers={"Authorization": f"Bearer {token}"},
                                     files={"file": ("roster.csv", roster, "text/csv")})
            resp.raise_for_status()
            return round(time.perf_counter() - t0, 1), resp.json()

    importing = asyncio.create_task(upload())
    await asyncio.sleep(1)
    found = await asyncio.to_thread(_loadgen, binary, url, bodies, seconds)
    import_seconds, report = await importing
    return {**{k: found[k] for k in ("rps", "p50_ms", "p99_ms", "errors")}, "import_seconds": import_seconds,
            "import_rows": report.get("read"), "import_accepted": report.get("accepted")}


async def main() -> dict:
    n = int(os.environ.get("BENCH_LOOKUP_STUDENTS", "1500000"))
    seconds = int(os.environ.get("BENCH_LOOKUP_SECONDS", "15"))
    results: dict = {"students": n}
    with tempfile.TemporaryDirectory(prefix="aid-bench-") as state:
        platform = Platform(state_dir=Path(state), http_base=24200, kafka_port=24292, postgres_port=24232)
        platform.extra_env.update({"QUERY_LOOKUP_PER_CLIENT": "0", "QUERY_LOOKUP_PER_STUDENT": "0",
                                   "QUERY_API_WORKERS": os.environ.get("QUERY_API_WORKERS", "1"),
                                   "AID_LOG_LEVEL": "WARNING"})
        binary = Path(state) / "loadgen"
        subprocess.run(["go", "build", "-o", str(binary), "."], cwd=LOADGEN, check=True,
                       env={**os.environ, "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"})
        supervisor = Supervisor(platform)
        try:
            await asyncio.to_thread(infra.start, platform)
            DevIssuer(platform.keys_dir)
            supervisor.migrate([QUERY])
            frame, ring = _province(n, platform.pseudonym_key().encode()), FieldCipher.from_text(platform.field_keys())
            t0 = time.perf_counter()
            sealed, plains = _sealed(frame, ring)
            results["seal_seconds"] = round(time.perf_counter() - t0, 1)
            await _publish_keys(platform.bootstrap_servers, ring, plains)
            t0 = time.perf_counter()
            await _fill(platform.database_url(QUERY).replace("postgresql://", "postgresql+psycopg://", 1), frame, sealed)
            results["fill_seconds"] = round(time.perf_counter() - t0, 1)
            supervisor.start(QUERY, "api")
            await _ready(platform.url(QUERY))
            url = f"{platform.url(QUERY)}/public/lookup"
            results["api"] = _loadgen(binary, url, _bodies(frame, Path(state) / "mix.jsonl"), seconds)
            results["timing"] = {kind: _loadgen(binary, url, _bodies(frame, Path(state) / f"{kind}.jsonl", kind=kind),
                                                min(5, seconds))["p50_ms"] for kind in ("found", "wrong_name", "unknown")}
            results["during_import"] = await _during_import(platform, supervisor, binary, url,
                                                            _bodies(frame, Path(state) / "mix.jsonl"), seconds, n)
            supervisor.stop(QUERY, "api")
            dsn = platform.database_url(QUERY)
            sample = frame["student_key"].sample(min(20_000, frame.height), seed=3)
            results["floor"] = await _floor(dsn, sample.to_list(), seconds=min(10, seconds))
        finally:
            supervisor.stop(QUERY, "api")
            supervisor.stop(MATCHING, "api")
            await asyncio.to_thread(infra.stop, platform)
    api = results["api"]
    results["ratio_to_floor"] = round(api["rps"] / results["floor"]["qps"], 2)
    spread = statistics.pstdev(results["timing"].values())
    results["timing"]["spread_ms"] = round(spread, 3)
    results["targets"] = {"rps": 3000, "p99_ms": 20}
    results["met"] = {"rps": api["rps"] >= 3000, "p99_ms": api["p99_ms"] <= 20}
    return results


if __name__ == "__main__":
    found = asyncio.run(main())
    save(RESULTS, found)
    print(json.dumps(found, indent=2, ensure_ascii=False))
