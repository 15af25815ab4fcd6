"""Killing and restarting service processes during the flow loses nothing and duplicates nothing."""

from __future__ import annotations

import asyncio
import time

from aid_local import dlq, flow
from aid_local.platform import SERVICES
from tests.e2e.schools import nth_school

SVC = {s.name: s for s in SERVICES}


def _crash_and_restart(supervisor, service: str, role: str, down_for: float = 1.0) -> None:
    supervisor.kill(SVC[service], role)
    assert supervisor.pid(SVC[service], role) is None
    time.sleep(down_for)
    supervisor.start(SVC[service], role)


async def _dead_letters(bootstrap: str) -> list:
    """The platform's services' dead letters (other tests share the broker and leave their own)."""
    return [x for x in await dlq.read(bootstrap) if x.group in SVC]


def test_crashes_during_the_flow_lose_and_duplicate_nothing(running, province, result):
    platform = running.platform
    c = flow.Clients(platform)
    school, expected = nth_school(province, 1)
    assert school != result.school_code
    county, stage = province.schools[school]

    running.kill(SVC["verification"], "worker")  # its outbox fills while the relay is dead
    verified = flow.verify_school(c, school, county, expected)
    _crash_and_restart(running, "query", "worker")
    running.start(SVC["verification"], "worker")
    flow.register_cards(c, province, school)
    _crash_and_restart(running, "publicity", "worker", down_for=0.2)
    list_id = flow.publish_list(c, school, county, stage, "2027-spring", verified)
    _crash_and_restart(running, "disbursement", "worker", down_for=0.5)
    _crash_and_restart(running, "reporting", "worker")
    _crash_and_restart(running, "query", "api", down_for=0.2)
    running.wait_ready(timeout=60)
    flow.pay_list(c, county, list_id, verified)

    bureau = c.token("county_bureau", region=county)
    payments = flow.wait_for("every student of the list paid", lambda: _all_paid(c, bureau, list_id, verified), timeout=120)
    students = [s for s in province.students if s.school_code == school and s.id_number in flow.matched_ids(province)]
    assert len(payments) == verified == len(students)
    for student in students:
        request = {"name": student.name, "id_number": student.id_number, "school_code": school}
        lookup = flow.paid_lookup(c, request, timeout=60)
        assert [a["status"] for a in lookup["aid"] if a["period"] == "2027-spring"] == ["paid"]
    assert asyncio.run(_dead_letters(platform.bootstrap_servers)) == []
    _assert_reporting_matches_payments(c, county)


def _all_paid(c: flow.Clients, bureau: dict, list_id: str, expected: int):
    body = c.call("GET", "disbursement", f"/payments?list_id={list_id}&limit=1000", headers=bureau).json()
    items = body["items"]
    return items if len(items) == expected and all(p["status"] == "paid" for p in items) else None


def _assert_reporting_matches_payments(c: flow.Clients, county: str) -> None:
    """Every payment counted once: reporting's paid amount equals disbursement's, county by county."""
    bureau = c.token("county_bureau", region=county)

    def settled():
        paid = c.call("GET", "disbursement", "/payments?limit=1000", headers=bureau).json()["items"]
        total_paid = sum(p["amount_fen"] for p in paid if p["status"] == "paid")
        report = c.call("GET", "reporting", "/progress", headers=bureau).json()["totals"]
        return (report["paid_fen"], total_paid) if report["paid_fen"] == total_paid else None

    counted, paid = flow.wait_for("reporting to count every payment exactly once", settled, timeout=60)
    assert counted == paid > 0
