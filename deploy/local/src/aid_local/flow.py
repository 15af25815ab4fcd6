"""The walking skeleton driven through the services' HTTP APIs, as people would.

Import the roster and the department lists → the school verifies and submits its students →
the county approves them → the school builds and submits an aid list → the county approves and
publishes it → the notice closes → the county sends the bank file, the (stand-in) bank answers
with a return file → the public lookup shows the payment. Used by ``make run`` and the e2e test.
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from aid_chassis.dev_issuer import DevIssuer
from aid_chassis.telemetry import JsonLinesSpanExporter
from aid_contracts import student_key
from aid_local import bank
from aid_local.demo_data import DEPARTMENTS, DemoProvince
from aid_local.platform import SERVICES, Platform

SVC = {s.name: s for s in SERVICES}
PROGRAMME_BY_STAGE = {"primary": "compulsory_living_subsidy_primary", "junior": "compulsory_living_subsidy_junior",
                      "senior": "senior_national_grant"}  # per-term programmes: the demo pays a term


class FlowError(RuntimeError):
    pass


@dataclass
class FlowResult:
    import_reports: dict[str, dict]
    school_code: str
    verified: int
    list_id: str
    lookup_request: dict[str, str]
    lookup: dict[str, Any]
    trace_id: str


class Clients:
    """HTTP clients of the services, with dev tokens for the roles the flow needs.

    Every call is a client span of ``aidctl`` (in the platform's trace files) whose context
    travels in ``traceparent``: calls made inside ``self.span(...)`` share that span's trace.
    """

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.issuer = DevIssuer(platform.keys_dir)
        self.tracer = _tracer(platform.trace_dir)

    def token(self, role: str, **claims: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.issue(subject=f'demo-{role}', role=role, **claims)}"}

    def span(self, name: str) -> trace.Span:
        """A span the calls made under it belong to (``with c.span("…") as s:``)."""
        return self.tracer.start_as_current_span(name)

    def call(self, method: str, service: str, path: str, *, expect: int | range | tuple = 200, **kwargs) -> httpx.Response:
        """The response; a FlowError unless its status is ``expect`` (one status, or several)."""
        base = self.platform.url(SVC[service])
        attributes = {"http.request.method": method, "url.full": base + path.split("?", 1)[0],  # no query: it may
                      "server.address": "127.0.0.1", "server.port": self.platform.port(SVC[service]),  # hold personal data
                      "peer.service": service}
        with self.tracer.start_as_current_span(f"{method} {service}", kind=trace.SpanKind.CLIENT,
                                               attributes=attributes) as span:
            headers = dict(kwargs.pop("headers", None) or {})
            propagate.inject(headers)
            resp = httpx.request(method, base + path, timeout=120, headers=headers, **kwargs)
            span.set_attribute("http.response.status_code", resp.status_code)
        if resp.status_code not in (expect if isinstance(expect, (range, tuple)) else (expect,)):
            raise FlowError(f"{method} {service}{path} → {resp.status_code}: {resp.text[:500]}")
        return resp


@cache
def _tracer(trace_dir: Path) -> trace.Tracer:
    """A tracer of its own (not the process's global one) writing where the services write; one
    per trace directory, however many clients are made."""
    provider = TracerProvider(resource=Resource.create({"service.name": "aidctl"}))
    exporter = JsonLinesSpanExporter(trace_dir / f"aidctl-{os.getpid()}.jsonl")
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("aid_local.flow")


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 90, every: float = 0.3) -> Any:
    """Poll ``probe`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = probe()
        except FlowError:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise FlowError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def import_lists(c: Clients, province: DemoProvince) -> dict[str, dict]:
    province_token = c.token("province_bureau", region="520000")
    resp = c.call("POST", "identity-matching", "/imports/roster", headers=province_token,
                  files={"file": ("roster.csv", province.roster_csv(), "text/csv")})
    reports = {"roster": resp.json()}
    for department in DEPARTMENTS:
        resp = c.call("POST", "identity-matching", f"/imports/lists/{department}",
                      headers=c.token("department", department=department),
                      files={"file": (f"{department}.csv", province.list_csv(department), "text/csv")})
        reports[department] = resp.json()
    return reports


def verify_school(c: Clients, school_code: str, county: str, expected: int) -> int:
    """Once all ``expected`` tasks have arrived: the school verifies and submits them all (批量核对,
    上报) and the county bureau approves them (审核通过), which emits ``verified``."""
    school = c.token("school", school_code=school_code)

    def arrived():
        body = c.call("GET", "verification", "/tasks?status=pending&limit=1000", headers=school).json()
        return body["items"] if body["total"] >= expected else None

    tasks = wait_for(f"{expected} verification tasks at school {school_code}", arrived)
    answers = [{"task_id": t["task_id"], "status": "verified_unchanged"} for t in tasks]
    c.call("POST", "verification", "/tasks/verify", headers=school, json={"items": answers})
    submitted = c.call("POST", "verification", "/tasks/submit", headers=school, json={}).json()
    decisions = [{"task_id": r["task_id"], "decision": "approve"} for r in submitted["results"] if r["ok"]]
    c.call("POST", "verification", "/tasks/audit", headers=c.token("county_bureau", region=county),
           json={"decisions": decisions})
    return len(decisions)


def publish_list(c: Clients, school_code: str, county: str, stage: str, period: str, expected: int) -> str:
    """Once all ``expected`` verified students reached publicity: the school builds and submits
    its list, the county approves it and it goes under public notice."""
    school = c.token("school", school_code=school_code)
    body = {"programme_code": PROGRAMME_BY_STAGE[stage], "period": period}
    wait_for(f"{expected} verified students to reach publicity", lambda: c.call(
        "GET", "publicity", f"/lists/proposal?programme_code={body['programme_code']}&period={period}",
        headers=school).json()["students"] >= expected)
    created = c.call("POST", "publicity", "/lists", headers=school, json=body, expect=201).json()
    c.call("POST", "publicity", f"/lists/{created['list_id']}/submit", headers=school)
    c.call("POST", "publicity", f"/lists/{created['list_id']}/approve", headers=c.token("county_bureau", region=county))
    return created["list_id"]


def register_cards(c: Clients, province: DemoProvince, school_code: str) -> dict:
    """The school imports its approved students' bank cards (登记银行卡) in one CSV, once
    disbursement has heard of the approvals (a card is registered only by the student's school)."""
    ids = matched_ids(province)
    rows = [[s.id_number, "ICBC", bank.card_for(s.id_number), "13800" + s.id_number[-6:-1] + "0"]
            for s in province.students if s.school_code == school_code and s.id_number in ids]
    out = io.StringIO()
    csv.writer(out).writerows([["身份证号", "开户银行", "银行卡号", "手机号"], *rows])

    def imported() -> dict | None:
        report = c.call("POST", "disbursement", "/accounts/import", headers=c.token("school", school_code=school_code),
                        files={"file": ("cards.csv", out.getvalue().encode(), "text/csv")}).json()
        return report if report["accepted"] == len(rows) else None  # a card registered again is the same card

    return wait_for(f"disbursement to accept the {len(rows)} cards of school {school_code}", imported, every=1)


def pay_list(c: Clients, county: str, list_id: str, expected: int, *, fail: int = 0) -> dict:
    """The county pays a final list through the bank (统一办卡 集中支付): batch, payment file, the
    bank's return file (the first ``fail`` lines refused), reconciliation."""
    bureau = c.token("county_bureau", region=county)
    wait_for(f"{expected} payments of list {list_id} ready", lambda: c.call(
        "GET", "disbursement", f"/payments?list_id={list_id}&status=ready&limit=1000",
        headers=bureau).json()["total"] >= expected, timeout=120)
    batch = c.call("POST", "disbursement", "/batches", headers=bureau, json={"list_id": list_id}, expect=201).json()
    payment_file = c.call("GET", "disbursement", f"/batches/{batch['batch_id']}/file", headers=bureau).content
    refused = {row.split(",")[2] for row in payment_file.decode().splitlines() if row.startswith("D,")}
    returned = bank.answer(payment_file, fail=set(sorted(refused)[:fail]))
    report = c.call("POST", "disbursement", "/returns", headers=bureau,
                    files={"file": ("return.csv", returned, "text/csv")}).json()
    return {"batch": batch, "report": report, "payment_file": payment_file, "return_file": returned}


def paid_lookup(c: Clients, request: dict[str, str], timeout: float = 120) -> dict:
    """Wait (on the bureau's timeline, not the rate-limited public lookup) until the student is paid,
    then look the payment up as a parent would."""
    key = student_key(request["id_number"], c.platform.pseudonym_key().encode())
    province = c.token("province_bureau", region=request["school_code"][:2] + "0000")

    def paid():
        timeline = c.call("GET", "query", f"/students/{key}/timeline", headers=province).json()  # 404 until matched
        return any(a["status"] == "paid" for a in timeline["aid"])

    wait_for("the payment to show in the query read models", paid, timeout=timeout)
    return c.call("POST", "query", "/public/lookup", json=request).json()


def run_flow(platform: Platform, province: DemoProvince, *, period: str = "2026-autumn") -> FlowResult:
    """The whole flow, one trace (its id in the result): every service's spans are in it or linked to it."""
    c = Clients(platform)
    with c.span("walking skeleton") as root:
        reports = import_lists(c, province)
        school_code, expected = choose_school(province)
        county, stage = province.schools[school_code]
        verified = verify_school(c, school_code, county, expected)
        register_cards(c, province, school_code)
        list_id = publish_list(c, school_code, county, stage, period, verified)
        pay_list(c, county, list_id, verified)
        student = next(s for s in province.students if s.id_number in matched_ids(province) and s.school_code == school_code)
        request = {"name": student.name, "id_number": student.id_number, "school_code": school_code}
        lookup = paid_lookup(c, request)
    trace_id = f"{root.get_span_context().trace_id:032x}"
    return FlowResult(reports, school_code, verified, list_id, request, lookup, trace_id)


def matched_ids(province: DemoProvince) -> set[str]:
    """ID numbers expected to match: on the roster and on some department's valid rows."""
    on_lists = {row[0] for rows in province.lists.values() for row in rows}
    return {s.id_number for s in province.students} & on_lists


def choose_school(province: DemoProvince) -> tuple[str, int]:
    """The school with the most matched students whose stage has a programme."""
    ids = matched_ids(province)
    counts: dict[str, int] = {}
    for s in province.students:
        if s.id_number in ids and s.stage in PROGRAMME_BY_STAGE:
            counts[s.school_code] = counts.get(s.school_code, 0) + 1
    school = max(counts, key=counts.get)
    return school, counts[school]
