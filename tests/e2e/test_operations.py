"""What operators run on the running platform: `aidctl lag --watch` refreshes the lag table."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from aid_local.cli import app


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
