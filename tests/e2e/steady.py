"""A driver that keeps going while the services die under it (issue 10's kill test).

Every call is retried while its service is down (refused connection, connection cut, 5xx), and
every step reads the state before it acts: a step whose answer was lost with its process is
neither lost nor done twice. ``Steady`` stands in for ``flow.Clients`` wherever the flow's own
helpers are idempotent (the card import is).
"""

from __future__ import annotations

import time

import httpx

from aid_local import bank, flow

PATIENCE = 120  # seconds a service may stay away before the driver gives up


class Steady:
    def __init__(self, c: flow.Clients) -> None:
        self.c, self.platform = c, c.platform
        self.retries = 0

    def token(self, role: str, **claims: str) -> dict[str, str]:
        return self.c.token(role, **claims)

    def call(self, method: str, service: str, path: str, *, expect: int | range | tuple = 200, **kwargs) -> httpx.Response:
        wanted = expect if isinstance(expect, (range, tuple)) else (expect,)
        deadline = time.monotonic() + PATIENCE
        while True:
            try:
                resp = self.c.call(method, service, path, expect=range(100, 600), **kwargs)
                if resp.status_code < 500:
                    if resp.status_code in wanted:
                        return resp
                    raise flow.FlowError(f"{method} {service}{path} → {resp.status_code}: {resp.text[:500]}")
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise flow.FlowError(f"{service} did not answer {method} {path} for {PATIENCE}s")
            self.retries += 1
            time.sleep(0.5)

    def get(self, service: str, path: str, token: dict) -> dict:
        return self.call("GET", service, path, headers=token).json()


def _tasks(s: Steady, token: dict, query: str) -> list[dict]:
    return s.get("verification", f"/tasks?{query}&limit=1000", token)["items"]


def verify(s: Steady, school_code: str, county: str, expected: int) -> int:
    """The school verifies and submits every task, the county approves: until ``expected`` are approved."""
    school, bureau = s.token("school", school_code=school_code), s.token("county_bureau", region=county)
    flow.wait_for(f"{expected} tasks at school {school_code}", lambda: s.get(
        "verification", "/tasks?open_only=false&limit=1", school)["total"] >= expected, timeout=300, every=1)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if pending := _tasks(s, school, "status=pending"):
            answers = [{"task_id": t["task_id"], "status": "verified_unchanged"} for t in pending]
            s.call("POST", "verification", "/tasks/verify", headers=school, json={"items": answers})
        elif _tasks(s, school, "audit_state=unsubmitted"):
            s.call("POST", "verification", "/tasks/submit", headers=school, json={})
        elif submitted := _tasks(s, school, "audit_state=submitted"):
            decisions = [{"task_id": t["task_id"], "decision": "approve"} for t in submitted]
            s.call("POST", "verification", "/tasks/audit", headers=bureau, json={"decisions": decisions})
        else:
            return s.get("verification", "/tasks?audit_state=approved&open_only=false&limit=1", school)["total"]
    raise flow.FlowError(f"the tasks of school {school_code} not all approved in 300 s")


def publish(s: Steady, school_code: str, county: str, stage: str, period: str, expected: int) -> str:
    """The school's list built, submitted and approved (published), whichever of these already happened."""
    school, bureau = s.token("school", school_code=school_code), s.token("county_bureau", region=county)
    body = {"programme_code": flow.PROGRAMME_BY_STAGE[stage], "period": period}
    while True:
        mine = [x for x in s.get("publicity", "/lists", school)["items"] if x["period"] == period]
        if not mine:
            flow.wait_for(f"{expected} verified students of {school_code} in publicity", lambda: s.get(
                "publicity", f"/lists/proposal?programme_code={body['programme_code']}&period={period}",
                school)["students"] >= expected, timeout=300, every=1)
            s.call("POST", "publicity", "/lists", headers=school, json=body, expect=(201, 409))
        elif mine[0]["status"] == "draft":
            s.call("POST", "publicity", f"/lists/{mine[0]['list_id']}/submit", headers=school, expect=(200, 409))
        elif mine[0]["status"] == "submitted":
            s.call("POST", "publicity", f"/lists/{mine[0]['list_id']}/approve", headers=bureau, expect=(200, 409))
        else:
            return mine[0]["list_id"]


def pay(s: Steady, county: str, list_id: str, expected: int) -> list[dict]:
    """Batch, bank file, return file, until every payment of the list is paid; the payments."""
    bureau = s.token("county_bureau", region=county)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        payments = s.get("disbursement", f"/payments?list_id={list_id}&limit=1000", bureau)["items"]
        if len(payments) >= expected and all(p["status"] == "paid" for p in payments):
            return payments
        if any(p["status"] == "ready" for p in payments) and len(payments) >= expected:
            s.call("POST", "disbursement", "/batches", headers=bureau, json={"list_id": list_id}, expect=(201, 409))
        for batch_id in sorted({p["batch_id"] for p in payments if p["batch_id"] and p["status"] != "paid"}):
            payment_file = s.call("GET", "disbursement", f"/batches/{batch_id}/file", headers=bureau).content
            s.call("POST", "disbursement", "/returns", headers=bureau, expect=(200, 409),
                   files={"file": ("return.csv", bank.answer(payment_file, fail=set()), "text/csv")})
        time.sleep(1)
    raise flow.FlowError(f"list {list_id} not paid in 300 s")
