"""Every event the services ever published, delivered a second time (issue 10: what a relay crash
between publishing and marking leaves behind, at the scale of the whole history): every read
model, counter, list and payment stays exactly as it was — duplicates are absorbed."""

from __future__ import annotations

import asyncio

from aid_chassis import dead_letters
from aid_chassis.kafka import make_producer
from aid_contracts.topics import BUSINESS_TOPICS
from aid_local import flow, lag
from aid_local.platform import SERVICES

from tests.e2e.records import every_record

GROUPS = {s.name for s in SERVICES}


async def _history(bootstrap: str) -> list:
    """Every event record of the business topics now (not poison, not replays of dead letters)."""
    records = await every_record(bootstrap, (t.value for t in BUSINESS_TOPICS))
    return [r for r in records if "ce_id" in dict(r.headers or ()) and not (r.key or b"").startswith(b"poison-")
            and dead_letters.replay_target(r) is None]


async def _publish_again(bootstrap: str, records: list) -> None:
    producer = await make_producer(bootstrap, client_id="republish-test")
    try:
        for r in records:  # the same partition, key, headers and value: what a relay sends again
            await producer.send(r.topic, r.value, key=r.key, partition=r.partition, headers=list(r.headers or ()))
        await producer.flush()
    finally:
        await producer.stop()


def _state(c: flow.Clients, province: dict) -> dict:
    """What people see, province-wide: counters, reports, views, lists, payments, the audit trail."""
    get = lambda service, path: c.call("GET", service, path, headers=province).json()  # noqa: E731
    return {"progress": get("reporting", "/reports/progress")["totals"],
            "funding": get("reporting", "/reports/funding")["rows"],
            "audit": get("reporting", "/audit?limit=1")["total"],
            "verification": get("verification", "/progress")["schools"],
            "key_groups": get("query", "/views/key-groups/summary")["totals"],
            "elsewhere": get("query", "/views/elsewhere/summary?dimension=household")["totals"],
            "lists": get("publicity", "/lists")["total"],
            "payments": get("disbursement", "/payments?limit=1")["total"],
            "paid": get("disbursement", "/payments?status=paid&limit=1")["total"]}


def _drained(bootstrap: str) -> bool:
    return all(v == 0 for g, v in lag.by_group(asyncio.run(lag.consumer_lag(bootstrap))).items() if g in GROUPS)


def test_every_event_delivered_twice_changes_nothing(running, result):
    bootstrap = running.platform.bootstrap_servers
    c = flow.Clients(running.platform)
    province = c.token("province_bureau", region=result.school_code[:2] + "0000")
    flow.wait_for("every group caught up", lambda: _drained(bootstrap), timeout=120, every=1)
    before = _state(c, province)
    history = asyncio.run(_history(bootstrap))
    assert len({r.topic for r in history}) >= 6 and len(history) > 100, len(history)
    asyncio.run(_publish_again(bootstrap, history))
    flow.wait_for("every group past the copies", lambda: _drained(bootstrap), timeout=300, every=1)
    assert _state(c, province) == before
