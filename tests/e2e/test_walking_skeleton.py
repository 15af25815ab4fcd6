"""One department list travels through all six services, as separate processes."""

from __future__ import annotations

import time

import httpx

from aid_local import flow, traces
from aid_local.platform import SERVICES

SVC = {s.name: s for s in SERVICES}


def test_every_row_is_accepted_or_rejected_with_a_reason(result, province):
    for name, report in result.import_reports.items():
        assert report["accepted"] + report["rejected"] == report["read"], name
        assert all(r["row"] >= 2 and r["field"] and r["code"] and r["message"] for r in report["rejections"])
    for department in province.lists:  # the two malformed demo rows
        codes = sorted(r["code"] for r in result.import_reports[department]["rejections"])
        assert codes == ["bad_check_digit", "bad_length"]
    assert result.import_reports["roster"]["rejected"] == 0


def test_matches_equal_the_people_on_both_sides(result, province):
    reports = result.import_reports.values()
    assert sum(r["matched_new"] for r in reports) == len(flow.matched_ids(province))


def test_public_lookup_shows_the_payment_masked(result):
    lookup = result.lookup
    paid = [a for a in lookup["aid"] if a["status"] == "paid"]
    assert len(paid) == 1 and paid[0]["amount_fen"] > 0 and paid[0]["paid_on"]
    assert "*" in lookup["id_number"] and result.lookup_request["id_number"] not in str(lookup)


def test_wrong_name_gets_the_same_answer_as_no_record(running, result):
    url = running.platform.url(SVC["query"]) + "/public/lookup"
    wrong_name = httpx.post(url, json={**result.lookup_request, "name": "无此人"})
    unknown = httpx.post(url, json={**result.lookup_request, "id_number": "11010519491231002X"})
    assert wrong_name.status_code == unknown.status_code == 404
    assert wrong_name.json() == unknown.json()


def test_timeline_runs_from_match_to_payment(running, result):
    c = flow.Clients(running.platform)
    from aid_contracts import student_key

    key = student_key(result.lookup_request["id_number"], running.platform.pseudonym_key().encode())
    body = c.call("GET", "query", f"/students/{key}/timeline", headers=c.token("province_bureau", region="520000")).json()
    types = [e["type"] for e in body["events"] if e.get("list_id") in (None, result.list_id)]  # this flow's list
    assert types[0] == "student-matched" and "verified" in types and types[-1] == "paid"
    assert types.count("published") == 2  # under notice, then final


def test_reporting_counts_the_payment(running, result):
    c = flow.Clients(running.platform)
    body = c.call("GET", "reporting", "/progress", headers=c.token("province_bureau", region="520000")).json()
    assert body["totals"]["paid"] >= 1 and body["totals"]["verified"] >= result.verified


def test_school_cannot_see_another_schools_tasks(running, result, province):
    c = flow.Clients(running.platform)
    other = next(code for code in province.schools if code != result.school_code)
    body = c.call("GET", "verification", "/tasks", headers=c.token("school", school_code=other)).json()
    assert all(t["student"]["school_code"] == other for t in body["items"])


def test_one_trace_spans_the_flow_through_all_six_services(running, result):
    """The flow's root span (aidctl's) holds every request it made; each service's spans are in
    its trace or in a batch span linked to it."""
    six = {s.name for s in SERVICES}
    deadline = time.monotonic() + 15
    while True:
        spans = traces.load_spans(running.platform.trace_dir, result.trace_id)
        services = {s["service"] for s in spans}
        if six <= services or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert six <= services, six - services
    roots = [s for s in spans if s["parent_id"] is None and not s.get("linked_to")]
    assert [(r["service"], r["name"]) for r in roots] == [("aidctl", "walking skeleton")]
    names = {s["name"] for s in spans}
    for event in ("student-matched", "verified", "published", "paid"):
        assert f"aid.{event}.v1 publish" in names and f"aid.{event}.v1 process" in names, event
    assert traces.render(spans)[0].startswith("aidctl")


def test_workers_export_what_they_handled(running, result):
    """Each worker serves its counters; together they applied events (a restarted one starts at zero)."""
    applied = 0.0
    for name in ("verification", "publicity", "disbursement", "query", "reporting"):
        text = httpx.get(f"http://127.0.0.1:{running.platform.metrics_port(SVC[name])}/metrics").text
        assert "# TYPE aid_events_handled_total counter" in text, name
        applied += sum(float(line.split()[-1]) for line in text.splitlines()
                       if line.startswith("aid_events_handled_total") and 'outcome="applied"' in line)
    assert applied > 0
    reporting = httpx.get(f"http://127.0.0.1:{running.platform.metrics_port(SVC['reporting'])}/metrics").text
    assert 'aid_consumer_lag{group="reporting",partition="' in reporting
    assert "aid_consumer_last_event_age_seconds{" in reporting


def test_api_exports_the_outbox_backlog(running, result):
    text = httpx.get(running.platform.url(SVC["identity-matching"]) + "/metrics").text
    assert 'aid_outbox_backlog{service="identity-matching"}' in text
