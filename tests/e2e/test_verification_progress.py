"""reporting's verification counters on the running platform equal what verification itself
counts: tasks, answers before audit, submitted, approved, returned and overdue ones."""

from __future__ import annotations

import asyncio

from aid_local import flow, lag

KEYS = ("tasks", "answered", "submitted", "approved", "returned", "overdue")


def _reported(c: flow.Clients, token: dict) -> dict:
    totals = c.call("GET", "reporting", "/reports/progress", headers=token).json()["totals"]
    return {k: totals[k] for k in KEYS}


def _verification(c: flow.Clients, token: dict) -> dict:
    schools = c.call("GET", "verification", "/progress", headers=token).json()["schools"]
    sums = {k: sum(s[k] for s in schools) for k in ("tasks", "verified", "invalid", "submitted", "approved",
                                                   "returned", "overdue")}
    return {"tasks": sums["tasks"], "answered": sums["verified"] + sums["invalid"], **{k: sums[k] for k in KEYS[2:]}}


def _caught_up(running) -> bool:
    lags = lag.by_group(asyncio.run(lag.consumer_lag(running.platform.bootstrap_servers)))
    return lags.get("reporting", 1) == 0 and lags.get("verification", 1) == 0


def test_reporting_counts_the_tasks_as_verification_does_and_overdue_once_a_deadline_passes(running, result):
    c = flow.Clients(running.platform)
    province = c.token("province_bureau", region=result.school_code[:2] + "0000")
    for report in result.import_reports.values():
        c.call("PUT", "verification", f"/deadlines/verification/{report['batch_id']}", headers=province,
               json={"due": "2026-01-05"})

    def agreed() -> bool:
        return _caught_up(running) and _reported(c, province) == _verification(c, province)

    try:
        flow.wait_for("reporting to count what verification counts", agreed, timeout=60)
    except flow.FlowError:
        pass  # the comparison below shows the difference
    counted = _reported(c, province)
    assert counted == _verification(c, province)
    assert counted["tasks"] > 0 and counted["approved"] >= 1 and counted["overdue"] > 0
    assert counted["overdue"] == counted["tasks"] - counted["approved"]
