"""query's HTTP API on a real PostgreSQL: the jurisdiction views by role and dimension, paging,
drill-down, exports (masked, formula-safe, audited), timelines and the public personal lookup."""

from __future__ import annotations

import asyncio
import csv
import io

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from aid_chassis.dev_issuer import DevIssuer
from aid_chassis.fields import FieldCipher, SealedFieldError
from aid_chassis.masking import mask_id_number
from aid_contracts import Envelope, student_key
from aid_contracts.events import Category
from query.adapters import tables
from query.entrypoints.api import create
from query.service_layer import projections
from query.settings import Settings
from tests import factories as f
from tests.factories import FIELD_KEYS
from tests.api_client import MATRIX_CALLERS, Api, authorization_tests, seed

SECRET = "api-test-secret-0123456789"
CALLERS = {"school": {"role": "school", "school_code": "5201020001"},
           "county": {"role": "county_bureau", "region": "520102"},
           "other_county": {"role": "county_bureau", "region": "520103"},
           "city": {"role": "city_bureau", "region": "520100"},
           "province": {"role": "province_bureau", "region": "520000"},
           "operator": {"role": "operator"}}
POOR = (Category.REGISTERED_POOR,)


def _real_key(envelope: Envelope) -> Envelope:
    """The factory's event about student 7 under the key the lookup derives from the ID number."""
    return f.sealed(envelope, student_key(f.id_number(7, "530103"), SECRET.encode()))


HISTORY = [  # students 1 and 7 as sealed events bring them, the others plain (as before sealing)
    *map(f.sealed, (f.matched(1, categories=POOR), f.verified(1), f.published(1, final=True), f.paid(1))),
    f.matched(2, name="=1+1"),
    f.matched(3, school="5301020001", region="530102", household="520102"),
    f.verified(4, origin="supplementary", categories=POOR, school="5201030001", region="520103"),
    f.matched(5, categories=POOR), f.verified(5), f.unfunded_reason(5),
    *[_real_key(e) for e in (f.matched(7, name="王小明", school="5301030001", region="530103"),
                                    f.published(7, final=True), f.paid(7, amount_fen=62_500))],
]


@pytest.fixture
def api(migrate, tmp_path):
    url = migrate("query")
    issuer = DevIssuer(tmp_path)
    seed(url, projections.project, HISTORY)
    app = create(Settings(database_url=url, field_keys=FIELD_KEYS, pseudonym_key=SECRET, jwt_public_key_file=issuer.public_path,
                          lookup_per_client=0, lookup_per_student=3))
    with TestClient(app) as client:
        yield Api(client, issuer, url, CALLERS)


def _keys(response) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(i["student_key"] for i in response.json()["items"])


def test_each_role_sees_its_own_jurisdiction_on_both_dimensions(api):
    view = "/views/key-groups"
    assert _keys(api.call("county", "GET", view)) == [f.key(1), f.key(2), f.key(5)]
    assert _keys(api.call("county", "GET", view, params={"dimension": "household"})) == [
        f.key(1), f.key(2), f.key(3), f.key(5)]
    assert _keys(api.call("other_county", "GET", view)) == [f.key(4)]
    assert _keys(api.call("school", "GET", view)) == [f.key(1), f.key(2), f.key(5)]
    assert _keys(api.call("city", "GET", view, params={"region": "520103"})) == [f.key(4)]
    assert api.call("county", "GET", view, params={"region": "530102"}).status_code == 403
    assert api.call("operator", "GET", view).status_code == 403
    assert api.call(None, "GET", view).status_code == 401


def test_the_named_views(api):
    assert _keys(api.call("county", "GET", "/views/elsewhere")) == [f.key(3)]
    assert _keys(api.call("city", "GET", "/views/self-collected")) == [f.key(4)]
    assert api.call("county", "GET", "/views/unfunded").status_code == 422
    unfunded = api.call("county", "GET", "/views/unfunded", params={"period": "2026-autumn"}).json()["items"]
    assert [(i["student_key"], i["reason"]) for i in unfunded] == [(f.key(5), "family_declined")]
    assert _keys(api.call("county", "GET", "/views/unfunded", params={"period": "2027-spring"})) == [
        f.key(1), f.key(5)]
    assert api.call("school", "GET", "/views/elsewhere").status_code == 403


def test_filters_paging_and_masks(api):
    params = {"status": "verified", "category": "registered_poor"}
    assert _keys(api.call("county", "GET", "/views/key-groups", params=params)) == [f.key(1), f.key(5)]
    paid = {"programme": "compulsory_living_subsidy_primary", "period": "2026-autumn"}
    assert _keys(api.call("county", "GET", "/views/key-groups", params=paid)) == [f.key(1)]
    first = api.call("county", "GET", "/views/key-groups", params={"limit": 2}).json()
    second = api.call("county", "GET", "/views/key-groups", params={"limit": 2, "after": first["next"]}).json()
    assert (first["total"], len(first["items"]), len(second["items"]), second["next"]) == (3, 2, 1, None)
    assert api.call("county", "GET", "/views/key-groups", params={"after": "junk!"}).status_code == 422
    assert api.call("county", "GET", "/views/key-groups", params={"stage": "college"}).status_code == 422
    for who in ("county", "province", "school"):
        masked = api.call(who, "GET", "/views/key-groups").json()["items"][0]["id_number"]
        assert masked[:4] + "**********" + masked[-4:] == masked


def test_drill_down_from_province_to_school(api):
    province = api.call("province", "GET", "/views/key-groups/summary").json()
    assert (province["level"], [(g["code"], g["name"]) for g in province["groups"]]) == ("city", [("5201", "贵阳市")])
    city = api.call("city", "GET", "/views/key-groups/summary").json()
    assert [(g["code"], g["name"], g["students"], g["verified"], g["paid"]) for g in city["groups"]] == [
        ("520102", "南明区", 3, 2, 1), ("520103", "云岩区", 1, 1, 0)]
    county = api.call("city", "GET", "/views/key-groups/summary", params={"region": "520102"}).json()
    assert (county["level"], county["totals"]["pending"]) == ("school", 1)
    assert all(g["name"] is None for g in county["groups"])  # schools: codes only (the roster has no names)


def test_exports_are_masked_formula_safe_and_audited(api):
    response = api.call("province", "GET", "/views/key-groups/export", params={"format": "csv"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["姓名", "身份证号", "学校代码"] and len(rows) == 5
    assert "'=1+1" in [r[0] for r in rows] and all("*" in r[1] for r in rows[1:])
    assert "建档立卡" in {r[6] for r in rows}
    book = load_workbook(io.BytesIO(api.call("county", "GET", "/views/key-groups/export",
                                             params={"format": "xlsx"}).content))
    sheet = book.active
    cells = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert len(cells) == 3 and "=1+1" in [c[0] for c in cells] and all("*" not in c[1] for c in cells)
    household = api.call("county", "GET", "/views/key-groups/export", params={"dimension": "household"})
    lines = list(csv.reader(io.StringIO(household.content.decode("utf-8-sig"))))[1:]
    assert lines and all("*" in r[1] for r in lines)  # households here, studying elsewhere: not this county's to see
    assert api.count(tables.audit_log) == 3


def test_timeline_within_jurisdiction(api):
    mine = api.call("county", "GET", f"/students/{f.key(1)}/timeline").json()
    assert [e["type"] for e in mine["events"]] == ["student-matched", "verified", "published", "paid"]
    assert mine["aid"][0]["status"] == "paid"
    assert api.call("other_county", "GET", f"/students/{f.key(1)}/timeline").status_code == 404
    assert api.call("school", "GET", f"/students/{f.key(3)}/timeline").status_code == 404


LOOKUP = {"name": "王小明", "id_number": f.id_number(7, "530103"), "school_code": "5301030001"}


def test_the_personal_lookup_needs_all_three_and_masks(api):
    found = api.call(None, "POST", "/public/lookup", json=LOOKUP)
    assert found.status_code == 200, found.text
    body = found.json()
    assert (body["name"], body["id_number"]) == ("王*明", LOOKUP["id_number"][:4] + "*" * 10 + LOOKUP["id_number"][-4:])
    assert [(a["amount_yuan"], a["status"], a["status_label"]) for a in body["aid"]] == [("625.00", "paid", "已发放")]
    assert LOOKUP["id_number"] not in found.text
    unknown = api.call(None, "POST", "/public/lookup", json={**LOOKUP, "id_number": f.id_number(8, "530103")})
    wrong_name = api.call(None, "POST", "/public/lookup", json={**LOOKUP, "name": "王小"})
    wrong_school = api.call(None, "POST", "/public/lookup", json={**LOOKUP, "school_code": "5301030002"})
    assert unknown.status_code == wrong_name.status_code == wrong_school.status_code == 404
    assert unknown.json() == wrong_name.json() == wrong_school.json()
    assert api.call(None, "POST", "/public/lookup", json={"name": "王小明"}).status_code == 422


def test_an_unknown_id_number_opens_as_many_values_as_a_wrong_name(api, monkeypatch):
    """Anti-enumeration by time: once a student has been found, an unknown ID number opens a
    name and an ID number too (the last found student's, dropped), as a wrong name does."""
    opened = []
    real = FieldCipher.open_text
    monkeypatch.setattr(FieldCipher, "open_text", lambda self, *a, **kw: opened.append(a[2]) or real(self, *a, **kw))
    assert api.call(None, "POST", "/public/lookup", json=LOOKUP).status_code == 200
    counts = []
    for body in ({**LOOKUP, "name": "王小"}, {**LOOKUP, "id_number": f.id_number(8, "530103")}):
        opened.clear()
        response = api.call(None, "POST", "/public/lookup", json=body)
        assert response.status_code == 404 and response.json()["detail"].startswith("未查询到资助信息")
        counts.append(sorted(opened))
    assert counts[0] == counts[1] == ["id_number", "name"]


def test_values_that_do_not_open_answer_as_unknown_and_are_no_decoy(api, monkeypatch):
    """A found student whose values no longer open (a shredded key) answers 404 like an unknown ID
    and does not become the decoy; a decoy that no longer opens is dropped."""
    real = FieldCipher.open_text
    assert api.call(None, "POST", "/public/lookup", json=LOOKUP).status_code == 200
    state = api.client.app.app.state  # the FastAPI app behind LookupFront
    assert state.decoy is not None

    def shredded(self, *a, **kw):
        raise SealedFieldError("no key opens it")

    monkeypatch.setattr(FieldCipher, "open_text", shredded)
    unknown = {**LOOKUP, "id_number": f.id_number(8, "530103")}
    assert api.call(None, "POST", "/public/lookup", json=unknown).status_code == 404
    assert state.decoy is None  # dropped
    found_but_shut = api.call(None, "POST", "/public/lookup", json=LOOKUP)
    assert found_but_shut.status_code == 404 and found_but_shut.json()["detail"].startswith("未查询到资助信息")
    assert state.decoy is None  # not made of values that do not open
    monkeypatch.setattr(FieldCipher, "open_text", real)
    assert api.call(None, "POST", "/public/lookup", json=LOOKUP).status_code == 200
    assert state.decoy is not None


def test_one_id_number_is_tried_a_few_times_only(api):
    for _ in range(3):
        assert api.call(None, "POST", "/public/lookup", json={**LOOKUP, "name": "猜名字"}).status_code == 404
    refused = api.call(None, "POST", "/public/lookup", json=LOOKUP)  # even the right name, now
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    other = api.call(None, "POST", "/public/lookup", json={**LOOKUP, "id_number": f.id_number(8, "530103")})
    assert other.status_code == 404  # another ID number is not limited by the first


def test_one_client_is_limited_across_id_numbers(migrate, tmp_path):
    issuer = DevIssuer(tmp_path)
    app = create(Settings(database_url=migrate("query"), field_keys=FIELD_KEYS, pseudonym_key=SECRET, jwt_public_key_file=issuer.public_path,
                          lookup_per_client=2))
    with TestClient(app) as client:
        codes = [client.post("/public/lookup", json={**LOOKUP, "id_number": f.id_number(i, "530103")}).status_code
                 for i in range(1, 4)]
    assert codes == [404, 404, 429]


READERS = ("school", "other_school", "county", "city", "province", "other_county")
BUREAU_CALLERS = ("county", "city", "province", "other_county")
ALL = (*MATRIX_CALLERS, None)
WIDER = {"school": 200, "other_school": 200, "city": 200, "province": 200}  # narrowed to 520103
# Every route on both dimensions: (method, path, request, expected status per caller); others get 403.
MATRIX = [
    ("GET", "/views", {}, dict.fromkeys(READERS, 200)),
    *[("GET", f"/views/{view}{suffix}?dimension={dimension}{period}", {}, dict.fromkeys(READERS, 200))
      for view, period in (("key-groups", ""), ("self-collected", ""), ("unfunded", "&period=2026-autumn"))
      for suffix in ("", "/summary", "/export") for dimension in ("enrolment", "household")],
    *[("GET", f"/views/elsewhere{suffix}", {}, dict.fromkeys(BUREAU_CALLERS, 200)) for suffix in ("", "/summary", "/export")],
    ("GET", "/views/key-groups?region=520103", {}, WIDER),
    ("GET", "/views/key-groups/export?region=520103&dimension=household", {}, WIDER),
    ("GET", "/students/{key}/timeline", {}, {"school": 200, "other_school": 404, "county": 200, "city": 200,
                                            "province": 200, "other_county": 404}),
    ("POST", "/students/{key}/reveal", {"json": {"reason": "核对银行卡开户信息"}},
     {"school": 200, "other_school": 404, "county": 200, "other_county": 404}),
    ("POST", "/public/lookup", {"json": {"name": "王小明", "id_number": f.id_number(7, "530103"),
                                         "school_code": "5301030001"}}, dict.fromkeys(ALL, 200)),
]


@pytest.fixture
def matrix(api, tmp_path):
    """The API with the matrix's callers and no lookup limits (every caller looks the same student up)."""
    app = create(Settings(database_url=api.url, field_keys=FIELD_KEYS, pseudonym_key=SECRET, jwt_public_key_file=api.issuer.public_path,
                          lookup_per_client=0, lookup_per_student=0))
    with TestClient(app) as client:
        yield Api(client, api.issuer, api.url, MATRIX_CALLERS, {"key": f.key(1)})


def _template(path: str) -> str:
    path = path.split("?")[0]
    for view in ("key-groups", "self-collected", "unfunded", "elsewhere"):
        path = path.replace(f"/views/{view}", "/views/{view}")
    return path


test_every_route_is_in_the_authorization_matrix, test_authorization_matrix = authorization_tests(
    MATRIX, _template, fixture="matrix")


def test_names_and_id_numbers_are_kept_sealed_and_opened_only_where_shown(api):
    async def stored() -> tuple[str, str]:
        engine = create_async_engine(api.url)
        try:
            async with engine.connect() as c:
                return (await c.execute(select(tables.students.c.name, tables.students.c.id_number)
                                        .where(tables.students.c.student_key == f.key(1)))).one()
        finally:
            await engine.dispose()

    name, id_number = asyncio.run(stored())
    assert name.startswith("pd1:") and id_number.startswith("pd1:") and f.id_number(1) not in id_number
    shown = api.call("county", "GET", f"/students/{f.key(1)}/timeline").json()
    assert (shown["name"], shown["id_number"]) == ("张小三", mask_id_number(f.id_number(1)))


def test_a_whole_id_number_is_revealed_only_with_a_reason_and_audited(api):
    timeline = api.call("county", "GET", f"/students/{f.key(1)}/timeline").json()
    assert "*" in timeline["id_number"]
    assert api.call("county", "POST", f"/students/{f.key(1)}/reveal", json={"reason": ""}).status_code == 422
    typed = api.call("county", "POST", f"/students/{f.key(1)}/reveal", json={"reason": f"核对 {f.id_number(1)}"})
    assert typed.status_code == 422 and f.id_number(1) not in typed.text  # refused, and not echoed back
    assert typed.json()["detail"][0]["loc"] == ["body", "reason"] and "身份证号" in typed.json()["detail"][0]["msg"]
    assert api.count(tables.audit_log) == 0
    shown = api.call("county", "POST", f"/students/{f.key(1)}/reveal", json={"reason": "核对银行卡开户信息"}).json()
    assert shown == {"student_key": f.key(1), "id_number": f.id_number(1)}
    assert api.count(tables.audit_log, tables.audit_log.c.action == "reveal_id_number") == 1
    household_only = api.call("county", "POST", f"/students/{f.key(3)}/reveal", json={"reason": "核对"})
    assert household_only.status_code == 404  # studies in another province: its county reveals, not the household's
