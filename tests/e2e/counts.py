"""What reporting counts against what verification itself counts, once both have caught up."""

from __future__ import annotations

import asyncio

from aid_local import flow, lag

KEYS = ("tasks", "answered", "submitted", "approved", "returned", "overdue")


def reported(c: flow.Clients, token: dict) -> dict:
    totals = c.call("GET", "reporting", "/reports/progress", headers=token).json()["totals"]
    return {k: totals[k] for k in KEYS}


def verification(c: flow.Clients, token: dict) -> dict:
    schools = c.call("GET", "verification", "/progress", headers=token).json()["schools"]
    sums = {k: sum(s[k] for s in schools) for k in ("tasks", "verified", "invalid", "submitted", "approved",
                                                   "returned", "overdue")}
    return {"tasks": sums["tasks"], "answered": sums["verified"] + sums["invalid"], **{k: sums[k] for k in KEYS[2:]}}


def caught_up(running) -> bool:
    lags = lag.by_group(asyncio.run(lag.consumer_lag(running.platform.bootstrap_servers)))
    return lags.get("reporting", 1) == 0 and lags.get("verification", 1) == 0
