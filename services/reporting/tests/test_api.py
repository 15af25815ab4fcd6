"""reporting's HTTP API on a real PostgreSQL: each report by role and dimension, in every format."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from aid_chassis.dev_issuer import DevIssuer
from aid_contracts.events import Category, VerificationStatus as V
from reporting.entrypoints.api import create
from reporting.service_layer import projections
from reporting.settings import Settings
from tests import factories as f
from tests.api_client import MATRIX_CALLERS, Api, authorization_tests, seed

CALLERS = MATRIX_CALLERS
POOR = (Category.REGISTERED_POOR,)
HISTORY = [f.matched(1, categories=POOR), f.verified(1), f.published(1, final=True), f.paid(1, amount_fen=62_500),
           f.matched(2, categories=POOR), f.verified(2), f.unfunded_reason(2),
           f.matched(3), f.verified(3, status=V.INVALID),
           f.matched(4, school="5201030001", region="520103", household="520102"),
           f.task(1, sequence=5, status="verified_unchanged", audit_state="approved"),
           f.task(2, sequence=6, status="verified_unchanged", audit_state="submitted"),
           f.task(3, sequence=7, status="invalid", audit_state="returned"),
           f.task(5, sequence=8, batch="B2"), f.deadline("B1", due=date(2026, 11, 20)),
           f.deadline("B2", due=date(2099, 1, 1)), f.deadline("C1", due=date(2026, 11, 20), kind="abnormal_check"),
           f.check(sequence=9, items=4, answers={"confirmed_correct": 1, "corrected": 1}),
           f.check("C2", sequence=10, items=2, school="5201030001", county="520103"),
           f.audit(1, actor="clerk-a", role="school", institution="5201020001"),
           f.audit(2, actor="official-102", role="county_bureau", institution="520102", action="approved"),
           f.audit(3, actor="clerk-b", role="school", institution="5201030001", entity_id="T9"),
           f.audit(1, actor="official-52", role="province_bureau", institution="520000", service="publicity",
                   entity="aid_list", entity_id="L1", action="approved", at=f.NOW.replace(day=5)),
           f.audit(4, actor="system", role=None, institution=None, action="closed"),
           f.institution(name="南明区第一小学", at=f.NOW.replace(day=3)), f.institution(name="旧名", at=f.NOW)]


@pytest.fixture
def api(migrate, tmp_path):
    url = migrate("reporting")
    issuer = DevIssuer(tmp_path)
    seed(url, projections.project, HISTORY)
    app = create(Settings(database_url=url, pseudonym_key="api-test-secret-0123456789",
                          jwt_public_key_file=issuer.public_path))
    with TestClient(app) as client:
        yield Api(client, issuer, url, CALLERS)


def _json(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def test_progress_by_jurisdiction_on_both_dimensions(api):
    county = _json(api.call("county", "GET", "/reports/progress"))
    assert county["level"] == "school"
    assert [(x["code"], x["students"], x["verified_unchanged"], x["invalid"], x["paid"], x["paid_yuan"],
             x["completion"]) for x in county["rows"]] == [("5201020001", 3, 2, 1, 1, "625.00", 100.0)]
    household = _json(api.call("county", "GET", "/reports/progress", params={"dimension": "household"}))
    assert sorted(x["code"] for x in household["rows"]) == ["5201020001", "5201030001"]
    province = _json(api.call("province", "GET", "/reports/progress"))
    assert (province["level"], [x["code"] for x in province["rows"]]) == ("city", ["5201"])
    assert province["totals"]["students"] == 4 and province["totals"]["pending"] == 1
    poor = _json(api.call("province", "GET", "/reports/progress", params={"category": "registered_poor"}))
    assert poor["totals"]["students"] == 2
    assert _json(api.call("school", "GET", "/reports/progress"))["totals"]["students"] == 3
    assert api.call("county", "GET", "/reports/progress", params={"region": "520103"}).status_code == 403
    assert api.call("operator", "GET", "/reports/progress").status_code == 403
    assert api.call(None, "GET", "/reports/progress").status_code == 401


def test_funding_and_unfunded_reasons(api):
    funding = _json(api.call("county", "GET", "/reports/funding"))["rows"]
    assert [(x["programme_name"], x["period"], x["listed"], x["paid"], x["paid_yuan"]) for x in funding] == [
        ("生活补助", "2026-autumn", 1, 1, "625.00")]
    unfunded = _json(api.call("county", "GET", "/reports/unfunded", params={"period": "2026-autumn"}))["rows"]
    assert [(x["code"], x["family_declined"], x["total"]) for x in unfunded] == [("5201020001", 1, 1)]
    assert api.call("county", "GET", "/reports/unfunded").status_code == 422


def test_every_format(api):
    rows = list(csv.reader(io.StringIO(api.call("county", "GET", "/reports/progress",
                                                params={"format": "csv"}).content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["地区/学校", "名称", "学生数"] and rows[-1][0] == "合计"
    book = load_workbook(io.BytesIO(api.call("county", "GET", "/reports/funding", params={"format": "xlsx"}).content))
    assert [c.value for c in next(book.active.iter_rows(min_row=1, max_row=1))][:3] == ["项目代码", "资助项目", "期次"]
    page = api.call("province", "GET", "/reports/progress", params={"format": "html"})
    assert page.headers["content-type"].startswith("text/html")
    assert page.text.count("<svg") == 2 and "<script" not in page.text and "核对完成率" in page.text
    assert "贵阳市" in page.text  # the province's rows are cities, named (GB/T 2260)
    cities = _json(api.call("province", "GET", "/reports/progress"))["rows"]
    assert [(x["code"], x["name"]) for x in cities] == [("5201", "贵阳市")]
    assert "http://" not in page.text.split("<svg", 1)[0]  # nothing fetched from elsewhere


def test_the_short_progress_form(api):
    body = _json(api.call("province", "GET", "/progress"))
    assert body["totals"] == {"matched": 4, "verified": 2, "invalid": 1, "published": 1, "paid": 1, "paid_fen": 62_500}


def test_progress_shows_answers_audits_and_overdue_tasks(api):
    county = _json(api.call("county", "GET", "/reports/progress"))
    row = county["rows"][0]
    assert (row["tasks"], row["answered"], row["submitted"], row["approved"], row["returned"]) == (4, 3, 1, 1, 1)
    assert row["overdue"] == 2  # batch B1's deadline has passed: submitted and returned are unfinished; B2's has not
    assert county["totals"]["overdue"] == 2
    header = next(csv.reader(io.StringIO(api.call("county", "GET", "/reports/progress", params={"format": "csv"})
                                         .content.decode("utf-8-sig"))))
    assert "逾期未完成" in header and "已上报待审核" in header


def test_abnormal_checks_by_jurisdiction(api):
    province = _json(api.call("province", "GET", "/reports/checks"))
    assert [(x["code"], x["records"], x["answered"], x["overdue"]) for x in province["rows"]] == [("5201", 6, 2, 2)]
    county = _json(api.call("county", "GET", "/reports/checks"))["rows"]
    assert [(x["code"], x["confirmed_correct"], x["corrected"], x["overdue"], x["completion"]) for x in county] == [
        ("5201020001", 1, 1, 2, 50.0)]
    assert _json(api.call("province", "GET", "/reports/checks", params={"check_id": "C2"}))["rows"][0]["records"] == 2
    html = api.call("county", "GET", "/reports/checks", params={"format": "html"}).text
    assert "异常数据核查汇总" in html and "<svg" in html
    assert api.call("city", "GET", "/reports/checks", params={"region": "520103"}).json()["rows"] == [
        {"code": "5201030001", "name": "", "records": 2, "answered": 0, "confirmed_correct": 0, "corrected": 0,
         "wrongly_funded": 0, "other": 0, "overdue": 0, "completion": 0.0}]


def test_audit_trail_search_in_the_callers_jurisdiction(api):
    county = _json(api.call("county", "GET", "/audit"))
    assert [(r["service"], r["entry_id"]) for r in county["rows"]] == [("verification", 2), ("verification", 1)]
    province = _json(api.call("province", "GET", "/audit"))
    assert province["total"] == 5 and province["rows"][0]["entity_id"] == "L1"  # newest first
    narrowed = _json(api.call("province", "GET", "/audit", params={"action": "approved", "service": "verification"}))
    assert [r["actor"] for r in narrowed["rows"]] == ["official-102"]
    assert _json(api.call("province", "GET", "/audit", params={"target": "T9"}))["rows"][0]["actor"] == "clerk-b"
    days = _json(api.call("province", "GET", "/audit", params={"since": "2026-11-03", "until": "2026-11-05"}))
    assert [r["entity_id"] for r in days["rows"]] == ["L1"]
    assert _json(api.call("province", "GET", "/audit", params={"limit": 2, "offset": 1}))["rows"][0]["actor"] == "system"
    rows = list(csv.reader(io.StringIO(api.call("county", "GET", "/audit", params={"format": "csv"})
                                       .content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["时间", "系统", "操作人"] and len(rows) == 3 and "status=invalid" in rows[1]
    assert api.call("school", "GET", "/audit").status_code == 403
    assert api.call("county", "GET", "/audit", params={"since": "2026-11-05", "until": "2026-11-01"}).status_code == 422


READERS = ("school", "other_school", "county", "city", "province", "other_county")
BUREAUS = ("county", "city", "province", "other_county")
# Every route on both dimensions: (method, path, expected status per caller); others get 403.
MATRIX = [
    *[(f"/reports/{name}{query}", dict.fromkeys(READERS, 200))
      for name, query in (("progress", ""), ("funding", ""), ("unfunded", "?period=2026-autumn"), ("checks", ""))],
    *[(f"/reports/{name}?dimension=household{query}", dict.fromkeys(READERS, 200))
      for name, query in (("progress", ""), ("funding", ""), ("unfunded", "&period=2026-autumn"), ("checks", ""))],
    ("/reports/progress?region=520103", {"school": 200, "other_school": 200, "city": 200, "province": 200}),
    ("/reports/funding?region=5201", {"school": 200, "other_school": 200, "county": 200, "city": 200, "province": 200}),
    ("/progress", dict.fromkeys((*BUREAUS, "operator"), 200)),
    ("/progress?dimension=household", dict.fromkeys((*BUREAUS, "operator"), 200)),
    ("/audit", dict.fromkeys(BUREAUS, 200)),
]


test_every_route_is_in_the_authorization_matrix, test_authorization_matrix = authorization_tests(
    [("GET", path, {}, expected) for path, expected in MATRIX], lambda path: path.split("?")[0])


def test_schools_are_named_as_their_county_named_them(api):
    rows = _json(api.call("county", "GET", "/reports/progress"))["rows"]
    assert [(x["code"], x["name"]) for x in rows] == [("5201020001", "南明区第一小学")]  # the later name, though sent first
    checks = _json(api.call("city", "GET", "/reports/checks", params={"region": "520103"}))["rows"]
    assert checks[0]["name"] == ""  # a school nobody named yet


def test_requests_are_counted_by_route_and_status(api):
    api.call("county", "GET", "/reports/progress")
    api.call(None, "GET", "/reports/progress")
    text = api.client.get("/metrics").text
    assert 'aid_http_requests_total{method="GET",route="/reports/progress",service="reporting",status="200"}' in text
    assert 'route="/reports/progress",service="reporting",status="401"}' in text
    assert 'aid_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/reports/progress"' in text
