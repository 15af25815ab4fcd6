"""A slow consumer (issue 10): query's worker frozen (SIGSTOP) while a school's approvals flow —
past its session timeout, so its group gives its partitions up — then let go (SIGCONT). Its lag
grows while it is frozen, drains once it runs again, and query shows every approval, once."""

from __future__ import annotations

import asyncio
import signal
import time

from aid_local import flow, lag
from aid_local.platform import SERVICES
from tests.e2e.schools import nth_school

QUERY = next(s for s in SERVICES if s.name == "query")
FROZEN_SECONDS = 15  # longer than the consumers' session timeout (10 s)


def _query_lag(bootstrap: str) -> int:
    return lag.by_group(asyncio.run(lag.consumer_lag(bootstrap, groups=["query"]))).get("query", 0)


def _verified_in_query(c: flow.Clients, school: str) -> int:
    county = school[:6]
    token = c.token("county_bureau", region=county)
    groups = c.call("GET", "query", f"/views/key-groups/summary?region={county}", headers=token).json()["groups"]
    return next((g["verified"] for g in groups if g["code"] == school), 0)


def test_a_frozen_consumer_falls_behind_then_catches_up_with_nothing_lost(running, province, result):
    c = flow.Clients(running.platform)
    bootstrap = running.platform.bootstrap_servers
    school, expected = nth_school(province, 7)
    county, _ = province.schools[school]
    pid = running.pid(QUERY, "worker")
    before = _verified_in_query(c, school)
    assert running.signal(QUERY, "worker", signal.SIGSTOP)
    try:
        verified = flow.verify_school(c, school, county, expected)
        flow.wait_for("query's lag to grow", lambda: _query_lag(bootstrap) >= verified, timeout=60)
        time.sleep(FROZEN_SECONDS)
        behind = _query_lag(bootstrap)
    finally:
        running.signal(QUERY, "worker", signal.SIGCONT)
    flow.wait_for("query's lag to drain", lambda: _query_lag(bootstrap) == 0, timeout=120, every=1)
    flow.wait_for("every approval in query", lambda: _verified_in_query(c, school) == before + verified, timeout=60)
    assert behind >= verified and running.pid(QUERY, "worker") == pid  # the same process caught up
    assert _verified_in_query(c, school) == before + verified  # once each
