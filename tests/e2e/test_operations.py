"""What operators run on the running platform: `aidctl lag` shows a burst's lag rise and drain;
`--watch` refreshes the table."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb
from typer.testing import CliRunner

from aid_chassis.kafka import make_producer
from aid_contracts import AuditRecorded, Envelope
from aid_local import flow
from aid_local.cli import app
from aid_local.platform import SERVICES

REPORTING = next(s for s in SERVICES if s.name == "reporting")
BURST = 50_000


def test_lag_watch_refreshes_as_often_as_asked(running, result):
    plat = running.platform
    env = {"AID_HTTP_BASE": str(plat.http_base), "AID_KAFKA_PORT": str(plat.kafka_port),
           "AID_POSTGRES_PORT": str(plat.postgres_port)}
    out = CliRunner().invoke(app, ["lag", "--watch", "--every", "0.2", "--count", "2", "--json",
                                   "--state-dir", str(plat.state_dir)], env=env)
    assert out.exit_code == 0, out.output
    snapshots = [json.loads(line) for line in out.output.strip().splitlines()]
    assert len(snapshots) == 2
    groups = {row["group"] for row in snapshots[-1]}
    assert {"verification", "query", "reporting"} <= groups
    assert all(row["lag"] == row["end"] - row["committed"] or row["lag"] == 0 for row in snapshots[-1])


def test_lag_of_named_groups_says_which_have_no_offsets(running, result):
    args = ["lag", "--group", "query", "--group", "no-such-group"]
    shown, listed = _aidctl(running.platform, *args), _aidctl(running.platform, *args, "--json")
    assert shown.exit_code == 0 and listed.exit_code == 0, shown.output + listed.output
    assert "no committed offsets for no-such-group" in shown.output and "reporting" not in shown.output
    assert {row["group"] for row in json.loads(listed.output)} == {"query"}


async def _burst(bootstrap: str, n: int, first: int = 1) -> tuple[int, int]:
    """``n`` audit entries of a made-up service, numbered from ``first``, sent at once (only
    reporting reads the topic); all on one partition (one key): (that partition, the last offset)."""
    producer = await make_producer(bootstrap, client_id="test-burst")
    try:
        sends = []
        for i in range(first, first + n):
            event = AuditRecorded(service="burst-test", entry_id=i, entity="probe", entity_id=f"P{i}", action="probed",
                                  actor="system", detail={}, at=datetime.now(UTC), prev_hash="0" * 64,
                                  hash=f"{i:064x}")
            env = Envelope.wrap(event, source="burst-test", key="burst-test")
            sends.append(await producer.send(event.TOPIC, env.value(), key=env.partitionkey.encode(),
                                             headers=env.headers()))
        last = (await asyncio.gather(*sends))[-1]
        return last.partition, last.offset
    finally:
        await producer.stop()


def test_aidctl_lag_rises_during_a_burst_and_returns_to_zero(running, result):
    """`aidctl lag --watch --json --group reporting` runs through a burst of 50,000 events sent
    while reporting's worker is frozen (SIGSTOP): the lag it shows on the topic reaches the whole
    burst, then, the worker let go, comes back to zero. Unfrozen, reporting could read the burst
    about as fast as it came, and a refresh could miss the lag altogether. A first event of the
    burst's key is read before the freeze: reporting has then committed an offset on the burst's
    partition, without which the broker would show no lag there at all."""
    plat = running.platform
    env = {**os.environ, "AID_HTTP_BASE": str(plat.http_base), "AID_KAFKA_PORT": str(plat.kafka_port),
           "AID_POSTGRES_PORT": str(plat.postgres_port)}
    aidctl = Path(sys.executable).parent / "aidctl"
    watch = subprocess.Popen([str(aidctl), "lag", "--watch", "--every", "0.1", "--json", "--group", "reporting",
                              "--state-dir", str(plat.state_dir)], env=env, stdout=subprocess.PIPE, text=True,
                             stdin=subprocess.DEVNULL)
    lags: list[int] = []
    committed: dict[int, int] = {}

    def read_one() -> int:
        rows = [r for r in json.loads(watch.stdout.readline()) if r["topic"] == "aid.audit.v1"]
        assert {r["group"] for r in rows} <= {"reporting"}
        committed.update((r["partition"], r["committed"]) for r in rows)
        lags.append(sum(r["lag"] for r in rows))
        return lags[-1]

    try:
        partition, offset = asyncio.run(_burst(plat.bootstrap_servers, 1))
        flow.wait_for("reporting to read a first event of the burst's key",
                      lambda: read_one() == 0 and committed.get(partition, 0) > offset, timeout=60, every=0)
        assert running.signal(REPORTING, "worker", signal.SIGSTOP)
        try:
            asyncio.run(_burst(plat.bootstrap_servers, BURST, first=2))
            flow.wait_for("reporting's lag to reach the burst", lambda: read_one() >= BURST, timeout=60, every=0)
        finally:
            running.signal(REPORTING, "worker", signal.SIGCONT)
        flow.wait_for("reporting to catch up after the burst", lambda: read_one() == 0, timeout=120, every=0)
    finally:
        watch.terminate()
        watch.wait(timeout=10)
    assert max(lags) >= BURST and lags[-1] == 0


def test_aidctl_outbox_lists_a_parked_row_without_its_content_and_releases_none_when_none(running):
    """A row the relay parked shows in `aidctl outbox parked` (service, id, topic, reason — never
    its key or value); `release` on a service with none parked says 0."""
    plat = running.platform
    reporting = next(s for s in SERVICES if s.name == "reporting")
    url = plat.database_url(reporting).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        row_id = conn.execute(
            "INSERT INTO outbox (event_id, topic, key, headers, value) VALUES (%s, %s, %s, %s, %s) RETURNING id",
            ("parked-by-test", "aid.audit.v1", "S-secret-key", Jsonb({"aid-outbox-parked": "MessageSizeTooLargeError"}),
             b"value that must not be shown")).fetchone()[0]
        try:
            listed, shown = _aidctl(plat, "outbox", "parked", "reporting", "--json"), _aidctl(plat, "outbox", "parked")
        finally:
            conn.execute("DELETE FROM outbox WHERE id = %s", (row_id,))
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.output)
    assert (row["service"], row["id"], row["topic"], row["reason"]) == ("reporting", row_id, "aid.audit.v1",
                                                                         "MessageSizeTooLargeError")
    assert shown.exit_code == 0 and "MessageSizeTooLargeError" in shown.output
    assert "secret" not in listed.output + shown.output and "must not" not in listed.output + shown.output
    released = _aidctl(plat, "outbox", "release", "query")
    assert released.exit_code == 0 and released.output.strip() == "query: 0 released"


def _aidctl(plat, *args: str):
    env = {"AID_HTTP_BASE": str(plat.http_base), "AID_KAFKA_PORT": str(plat.kafka_port),
           "AID_POSTGRES_PORT": str(plat.postgres_port)}
    return CliRunner().invoke(app, [*args, "--state-dir", str(plat.state_dir)], env=env)
