"""Benchmark: how long the platform takes to recover from a broker or database-server restart (issue 10).

On servers it starts itself (loopback, a temporary state directory) with all six services running
as in a deployment: the broker (then PostgreSQL) is stopped, left down ``BENCH_DOWN_SECONDS``
(default 5), and started again (``<server>.server_start``: seconds until it answers); from the
moment the server answers again:

- ``<server>.apis_ready``  seconds until every API answers ``/readyz`` again
- ``<server>.event_path``  seconds until a new ``student-matched`` event, produced then, shows in
                           query's timeline and as a verification task (consumers, their
                           databases and the outbox relays all working again)

Each is measured ``BENCH_RESTARTS`` times (default 3); the figure is the worst. Issue 10's bar:
every service recovers by itself within 30 s. No process is restarted by the benchmark; one that
died is reported (``died``). Writes ``bench/results/recovery.json``; ``make bench`` runs it.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

import httpx

from aid_chassis.dev_issuer import DevIssuer
from aid_chassis.fields import FieldCipher
from aid_chassis.kafka import make_producer
from aid_local import infra
from aid_local.platform import PROCESSES, SERVICES, Platform
from aid_local.supervisor import Supervisor
from read_side import _events
from report import save

RESULTS = Path(__file__).resolve().parent / "results" / "recovery.json"
SVC = {s.name: s for s in SERVICES}


def _until(probe, limit: float = 120) -> float:
    start = time.monotonic()
    while not probe():
        if time.monotonic() - start > limit:
            raise RuntimeError(f"not recovered within {limit:.0f} s")
        time.sleep(0.1)
    return round(time.monotonic() - start, 2)


def _get(url: str, headers: dict | None = None) -> httpx.Response | None:
    try:
        return httpx.get(url, headers=headers, timeout=5)
    except httpx.HTTPError:
        return None


class Probe:
    """New students' matches, one per measurement, and where they should show."""

    def __init__(self, platform: Platform) -> None:
        self.platform, self.n = platform, 0
        self.secret = platform.pseudonym_key().encode()
        self.fields = FieldCipher.from_text(platform.field_keys())  # names and ID numbers sealed, as published
        self.token = {"Authorization": "Bearer " + DevIssuer(platform.keys_dir).issue(
            subject="bench", role="province_bureau", region="520000")}

    def send(self):
        self.n += 1
        event = _events(self.n, self.secret, self.fields)[-1]
        asyncio.run(self._produce(event))
        return event

    async def _produce(self, event) -> None:
        producer = await make_producer(self.platform.bootstrap_servers, client_id="bench-recovery")
        try:
            await producer.send_and_wait("aid.student-matched.v1", event.value(), key=event.partitionkey.encode(),
                                         headers=event.headers())
        finally:
            await producer.stop()

    def arrived(self, event) -> bool:
        query = self.platform.url(SVC["query"]) + f"/students/{event.partitionkey}/timeline"
        number = self.fields.open_student(event.data["student"], event.partitionkey)["id_number"]
        tasks = self.platform.url(SVC["verification"]) + f"/tasks?id_number={number}"
        timeline, found = _get(query, self.token), _get(tasks, self.token)
        return bool(timeline and timeline.status_code == 200 and found and found.status_code == 200
                    and found.json()["total"] == 1)


def _restart(server, supervisor: Supervisor, probe: Probe, down: float) -> dict:
    server.stop()
    time.sleep(down)
    booting = time.monotonic()
    server.start()
    start = time.monotonic()
    apis = _until(lambda: all(supervisor.is_ready(s) for s in SERVICES))
    event = probe.send()
    path = _until(lambda: probe.arrived(event))
    return {"server_start": round(start - booting, 2), "apis_ready": apis,
            "event_path": round(time.monotonic() - start, 2), "after_apis": path}


def run(platform: Platform, restarts: int, down: float) -> dict:
    supervisor = Supervisor(platform)
    DevIssuer(platform.keys_dir)
    supervisor.migrate()
    supervisor.start_all()
    results: dict = {"restarts": restarts, "down_seconds": down}
    try:
        supervisor.wait_ready(timeout=180)
        probe = Probe(platform)
        warm = probe.send()
        results["first_event_path"] = _until(lambda: probe.arrived(warm), limit=180)
        pids = {f"{s.name}-{r}": supervisor.pid(s, r) for s, r in PROCESSES}
        for name, server in (("broker", infra.kafka(platform)), ("database", infra.postgres(platform))):
            runs = [_restart(server, supervisor, probe, down) for _ in range(restarts)]
            results[name] = {k: max(r[k] for r in runs) for k in runs[0]} | {"runs": runs}
        results["died"] = sorted(k for k, v in pids.items() if supervisor.pid(*_process(k)) != v)
    finally:
        supervisor.stop_all()
    return results


def _process(key: str):
    return next((s, r) for s, r in PROCESSES if f"{s.name}-{r}" == key)


def main() -> dict:
    restarts = int(os.environ.get("BENCH_RESTARTS", "3"))
    down = float(os.environ.get("BENCH_DOWN_SECONDS", "5"))
    with tempfile.TemporaryDirectory(prefix="aid-bench-") as state:
        platform = Platform(state_dir=Path(state), http_base=26100, kafka_port=26092, postgres_port=26432)
        infra.start(platform, partitions=3)
        try:
            results = run(platform, restarts, down)
        finally:
            infra.stop(platform)
    results["targets"] = {"broker.event_path": 30, "database.event_path": 30}
    return results


if __name__ == "__main__":
    found = main()
    save(RESULTS, found)
    print(json.dumps({k: v for k, v in found.items()}, indent=1, ensure_ascii=False))
