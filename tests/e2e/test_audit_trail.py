"""The audit trail on the running platform: people's actions in every service reach reporting's
search, and `aidctl audit verify` finds an entry changed behind the services' backs."""

from __future__ import annotations

import json

import psycopg
from typer.testing import CliRunner

from aid_local import flow
from aid_local.cli import app
from aid_local.platform import SERVICES

SVC = {s.name: s for s in SERVICES}


def _verify(running) -> tuple[int, str]:
    plat = running.platform
    env = {"AID_HTTP_BASE": str(plat.http_base), "AID_KAFKA_PORT": str(plat.kafka_port),
           "AID_POSTGRES_PORT": str(plat.postgres_port)}
    out = CliRunner().invoke(app, ["audit", "verify", "--json", "--state-dir", str(plat.state_dir)], env=env)
    return out.exit_code, out.output


def test_every_services_audit_entries_reach_the_search(running, result):
    c = flow.Clients(running.platform)
    province = c.token("province_bureau", region=result.school_code[:2] + "0000")

    def seen(service: str) -> bool:
        return c.call("GET", "reporting", "/audit", headers=province, params={"service": service}).json()["total"] > 0

    flow.wait_for("audit entries of identity-matching, verification, publicity and disbursement",
                  lambda: all(seen(s) for s in ("identity-matching", "verification", "publicity", "disbursement")),
                  timeout=60)
    approved = c.call("GET", "reporting", "/audit", headers=province,
                      params={"service": "verification", "action": "approved"}).json()
    assert approved["total"] >= result.verified and approved["rows"][0]["role"] == "county_bureau"
    assert approved["rows"][0]["institution"].startswith(result.school_code[:4])


def test_audit_verify_finds_a_changed_entry(running, result):
    code, output = _verify(running)
    reports = json.loads(output)
    assert code == 0 and {r["service"] for r in reports} == {"identity-matching", "verification", "publicity",
                                                            "disbursement", "query"}
    assert all(r["problems"] == [] for r in reports) and sum(r["entries"] for r in reports) > 0
    url = running.platform.database_url(SVC["verification"]).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        entry, actor = conn.execute("SELECT id, actor FROM verification_audit_log ORDER BY id LIMIT 1").fetchone()
        conn.execute("UPDATE verification_audit_log SET actor = 'someone-else' WHERE id = %s", (entry,))
        try:
            code, output = _verify(running)
        finally:
            conn.execute("UPDATE verification_audit_log SET actor = %s WHERE id = %s", (actor, entry))
    broken = next(r for r in json.loads(output) if r["service"] == "verification")
    assert code == 1 and [(p["entry"], p["problem"]) for p in broken["problems"]] == [(entry, "changed")]
    assert _verify(running)[0] == 0  # the entry put back as it was: the chain holds again


def test_audit_verify_finds_entries_cut_from_the_end(running, result):
    c = flow.Clients(running.platform)
    province = c.token("province_bureau", region=result.school_code[:2] + "0000")
    with psycopg.connect(running.platform.database_url(SVC["verification"]), autocommit=True) as conn:
        newest = conn.execute("SELECT max(id) FROM verification_audit_log").fetchone()[0]
        flow.wait_for("reporting to hold the newest verification entry", lambda: any(
            r["entry_id"] == newest for r in c.call("GET", "reporting", "/audit", headers=province,
                                                    params={"service": "verification", "limit": 5}).json()["rows"]))
        conn.execute("CREATE TEMP TABLE cut AS SELECT * FROM verification_audit_log WHERE id = %s", (newest,))
        conn.execute("DELETE FROM verification_audit_log WHERE id = %s", (newest,))
        try:
            code, output = _verify(running)
        finally:
            conn.execute("INSERT INTO verification_audit_log SELECT * FROM cut")
    broken = next(r for r in json.loads(output) if r["service"] == "verification")
    assert code == 1 and [(p["entry"], p["problem"]) for p in broken["problems"]] == [(newest, "truncated")]
    assert _verify(running)[0] == 0  # put back: intact again
