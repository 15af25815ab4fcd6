"""The read side on the running platform: every jurisdiction view after the flow, an export,
reporting's numbers equal to query's, and `aidctl rebuild` arriving at the same views and reports."""

from __future__ import annotations

import asyncio
import csv
import io
import json

from typer.testing import CliRunner

from aid_local import flow, lag
from aid_local.cli import app

VIEWS = ("key-groups", "elsewhere", "self-collected", "unfunded")


def _caught_up(running, *groups: str) -> bool:
    lags = lag.by_group(asyncio.run(lag.consumer_lag(running.platform.bootstrap_servers)))
    return all(lags.get(group, 1) == 0 for group in groups)


def _rebuild(running, service: str) -> dict:
    plat = running.platform
    env = {"AID_HTTP_BASE": str(plat.http_base), "AID_KAFKA_PORT": str(plat.kafka_port),
           "AID_POSTGRES_PORT": str(plat.postgres_port)}
    out = CliRunner().invoke(app, ["rebuild", service, "--state-dir", str(plat.state_dir)], env=env)
    assert out.exit_code == 0, out.output
    flow.wait_for(f"the restarted {service} worker", lambda: _caught_up(running, service), timeout=60)
    return json.loads(out.output.strip().splitlines()[-1])


def _reports(c: flow.Clients, token: dict) -> dict:
    return {dimension: c.call("GET", "reporting", "/reports/progress", headers=token,
                              params={"dimension": dimension}).json()["totals"]
            for dimension in ("enrolment", "household")}


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
    flow.wait_for("query to catch up", lambda: _caught_up(running, "query"), timeout=60)
    before = _views(c, province)
    assert before[("key-groups", "enrolment")]["verified"] >= result.verified
    assert before[("key-groups", "enrolment")]["paid"] >= 1
    page = c.call("GET", "query", "/views/key-groups", headers=province, params={"limit": 500}).json()
    exported = c.call("GET", "query", "/views/key-groups/export", headers=province).content.decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(exported)))) - 1 == page["total"] > 0

    report = _rebuild(running, "query")
    assert report["events"] > 0 and report["students"] >= before[("key-groups", "enrolment")]["students"]
    assert _views(c, province) == before


def test_reporting_counts_what_query_shows_and_survives_a_rebuild(running, result):
    c = flow.Clients(running.platform)
    province = c.token("province_bureau", region=result.school_code[:2] + "0000")
    flow.wait_for("query and reporting to catch up", lambda: _caught_up(running, "query", "reporting"), timeout=60)
    reports = _reports(c, province)
    for dimension, totals in reports.items():
        shown = c.call("GET", "query", "/views/key-groups/summary", headers=province,
                       params={"dimension": dimension}).json()["totals"]
        assert (totals["students"], totals["pending"], totals["invalid"], totals["withdrawn"], totals["paid"]) == (
            shown["students"], shown["pending"], shown["invalid"], shown["withdrawn"], shown["paid"]), dimension
        assert totals["verified_unchanged"] + totals["verified_updated"] == shown["verified"]
    assert reports["enrolment"]["paid"] >= 1
    _rebuild(running, "reporting")
    assert _reports(c, province) == reports
