"""The read side on the running platform: every jurisdiction view after the flow, an export, and
`aidctl rebuild query` arriving at the same views."""

from __future__ import annotations

import asyncio
import csv
import io
import json

from typer.testing import CliRunner

from aid_local import flow, lag
from aid_local.cli import app

VIEWS = ("key-groups", "elsewhere", "self-collected", "unfunded")


def _query_lag(running) -> int:
    return lag.by_group(asyncio.run(lag.consumer_lag(running.platform.bootstrap_servers))).get("query", 1)


def _views(c: flow.Clients, token: dict) -> dict:
    seen = {}
    for view in VIEWS:
        params = {"period": "2026-autumn"}
        for dimension in ("enrolment", "household"):
            body = c.call("GET", "query", f"/views/{view}/summary", headers=token,
                          params={**params, "dimension": dimension}).json()
            seen[(view, dimension)] = body["totals"]
    return seen


def test_every_view_answers_and_a_rebuild_arrives_at_the_same_views(running, result):
    c = flow.Clients(running.platform)
    province = c.token("province_bureau", region=result.school_code[:2] + "0000")
    flow.wait_for("query to catch up", lambda: _query_lag(running) == 0, timeout=60)
    before = _views(c, province)
    assert before[("key-groups", "enrolment")]["verified"] >= result.verified
    assert before[("key-groups", "enrolment")]["paid"] >= 1
    page = c.call("GET", "query", "/views/key-groups", headers=province, params={"limit": 500}).json()
    exported = c.call("GET", "query", "/views/key-groups/export", headers=province).content.decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(exported)))) - 1 == page["total"] > 0

    plat = running.platform
    env = {"AID_HTTP_BASE": str(plat.http_base), "AID_KAFKA_PORT": str(plat.kafka_port),
           "AID_POSTGRES_PORT": str(plat.postgres_port)}
    out = CliRunner().invoke(app, ["rebuild", "query", "--state-dir", str(plat.state_dir)], env=env)
    assert out.exit_code == 0, out.output
    report = json.loads(out.output.strip().splitlines()[-1])
    assert report["events"] > 0 and report["students"] >= before[("key-groups", "enrolment")]["students"]
    flow.wait_for("the restarted query worker", lambda: running.is_ready(flow.SVC["query"]), timeout=60)
    assert _views(c, province) == before
