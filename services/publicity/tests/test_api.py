"""publicity's HTTP API on a real PostgreSQL: the list workflow by role, the public notice shows
no more than masked names and IDs, objections are rate-limited and refused after the window."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from aid_chassis.dev_issuer import DevIssuer
from publicity.adapters import tables
from publicity.entrypoints.api import create
from publicity.service_layer import candidates
from publicity.settings import Settings
from tests import factories as f
from tests.factories import FIELD_KEYS
from tests.api_client import MATRIX_CALLERS, Api, authorization_tests

CALLERS = {"school": {"role": "school", "school_code": "5201020001"},
           "other_school": {"role": "school", "school_code": "5201030001"},
           "county": {"role": "county_bureau", "region": "520102"},
           "other_county": {"role": "county_bureau", "region": "520103"},
           "province": {"role": "province_bureau", "region": "520000"}}
PROGRAMME = "compulsory_living_subsidy_primary"
OBJECTION = {"entry_no": 1, "contact_name": "李四", "contact_phone": "13800138000", "text": "该生家庭条件较好"}


async def _seed(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with async_sessionmaker(engine)() as s, s.begin():
            for seq in (1, 2):  # student 1 as events bring students now (sealed), student 2 as before (plain)
                event = f.verified(seq, name="张小三")
                await candidates.on_verified(s, f.sealed(event) if seq == 1 else event)
    finally:
        await engine.dispose()


def _api(migrate, tmp_path, **settings) -> Api:
    url = migrate("publicity")
    issuer = DevIssuer(tmp_path)
    asyncio.run(_seed(url))
    app = create(Settings(database_url=url, field_keys=FIELD_KEYS, pseudonym_key="api-test-secret-0123456789",
                          jwt_public_key_file=issuer.public_path, objections_per_hour=2, **settings))
    return Api(TestClient(app), issuer, url, CALLERS)


@pytest.fixture
def api(migrate, tmp_path):
    harness = _api(migrate, tmp_path)
    with harness.client:
        yield harness


def _published_list(api: Api) -> str:
    created = api.call("school", "POST", "/lists", json={"programme_code": PROGRAMME, "period": "2026-autumn"})
    assert created.status_code == 201, created.text
    list_id = created.json()["list_id"]
    assert api.call("county", "POST", f"/lists/{list_id}/approve").json()["detail"]["code"] == "wrong_state"
    assert api.call("school", "POST", f"/lists/{list_id}/submit").status_code == 200
    assert api.call("other_county", "POST", f"/lists/{list_id}/approve").status_code == 404
    assert api.call("school", "POST", f"/lists/{list_id}/approve").status_code == 403
    assert api.call("county", "POST", f"/lists/{list_id}/approve").status_code == 200
    return list_id


def test_a_schools_notices_are_its_lists_after_the_audit_only(api):
    school = CALLERS["school"]["school_code"]
    published = _published_list(api)
    draft = api.call("school", "POST", "/lists", json={"programme_code": PROGRAMME, "period": "2027-spring"})
    assert draft.status_code == 201
    body = api.call(None, "GET", f"/notices?school_code={school}").json()
    assert [(i["list_id"], i["status"]) for i in body["items"]] == [(published, "published")]
    assert body["items"][0]["programme"]  # its name, as the notice shows it
    assert api.call(None, "GET", "/notices?school_code=5201030001").json()["items"] == []
    assert api.call(None, "GET", "/notices?school_code=52%27--").status_code == 422


def test_the_public_notice_shows_masked_names_and_ids_only(api):
    list_id = _published_list(api)
    body = api.call(None, "GET", f"/notices/{list_id}").json()
    assert [s["name"] for s in body["students"]] == ["张*三", "张*三"] and "pd1:" not in str(body)  # opened, masked
    assert all("*" in s["id_number"] for s in body["students"]) and f.id_number(1) not in str(body)
    assert set(body["students"][0]) == {"entry_no", "name", "id_number", "amount_fen"}
    assert api.call("other_school", "GET", f"/lists/{list_id}").status_code == 404


def test_objections_are_rate_limited_and_go_to_the_bureau(api):
    list_id = _published_list(api)
    for _ in range(2):
        assert api.call(None, "POST", f"/notices/{list_id}/objections", json=OBJECTION).status_code == 201
    third = api.call(None, "POST", f"/notices/{list_id}/objections", json=OBJECTION)
    assert (third.status_code, third.json()["detail"]["code"]) == (429, "rate_limited")
    assert api.count(tables.objections) == 2
    assert len(api.call("county", "GET", f"/lists/{list_id}/objections").json()["items"]) == 2
    assert api.call("other_county", "GET", f"/lists/{list_id}/objections").status_code == 404
    bad = api.call(None, "POST", f"/notices/{list_id}/objections", json={**OBJECTION, "contact_phone": "abc"})
    assert (bad.status_code, bad.json()["detail"]["code"]) == (422, "bad_phone")  # checked before the limit


def test_reading_messages_marks_nothing_and_marking_takes_only_the_messages_shown(api):
    def returned(period: str) -> None:
        created = api.call("school", "POST", "/lists", json={"programme_code": PROGRAMME, "period": period}).json()
        assert api.call("school", "POST", f"/lists/{created['list_id']}/submit").status_code == 200
        assert api.call("county", "POST", f"/lists/{created['list_id']}/return", json={"reason": "材料不全"}).status_code == 200

    returned("2026-autumn")
    seen = api.call("school", "GET", "/messages").json()
    assert (seen["unread"], api.call("school", "GET", "/messages").json()["unread"]) == (1, 1)  # a read marks nothing
    returned("2027-spring")  # arrives after the school looked
    shown = [m["id"] for m in seen["items"]]
    assert api.call("school", "POST", "/messages/read", json={"ids": shown}).json() == {"marked": 1}
    items = api.call("school", "GET", "/messages").json()["items"]
    assert [m["read"] for m in items] == [True, False]
    assert api.call("other_school", "POST", "/messages/read", json={"ids": [items[-1]["id"]]}).json() == {"marked": 0}


def test_an_objection_after_the_window_gets_a_precise_error_and_changes_nothing(migrate, tmp_path):
    harness = _api(migrate, tmp_path, notice_seconds=0)
    with harness.client:
        list_id = _published_list(harness)
        resp = harness.call(None, "POST", f"/notices/{list_id}/objections", json=OBJECTION)
        assert (resp.status_code, resp.json()["detail"]["code"]) == (409, "notice_closed")
        assert harness.count(tables.objections) == 0


def test_only_the_province_changes_programmes_and_only_for_later_periods(api):
    body = {"name": "生活补助（小学）", "stage": "primary", "monthly": False, "amount_fen": 62_500,
            "categories": ["orphan", "registered_poor"], "effective_from": "2030-spring"}
    assert api.call("county", "PUT", f"/programmes/{PROGRAMME}", json=body).status_code == 403
    created = api.call("province", "PUT", f"/programmes/{PROGRAMME}", json=body)
    assert (created.status_code, created.json()["version"]) == (200, 2)
    past = api.call("province", "PUT", f"/programmes/{PROGRAMME}", json={**body, "effective_from": "2020-autumn"})
    assert (past.status_code, past.json()["detail"]["code"]) == (422, "not_later")
    assert len(api.call(None, "GET", f"/programmes/{PROGRAMME}/versions").json()) == 2


@pytest.fixture
def matrix(api):
    """A published list of school A with an open objection, and a draft list of school A, seen
    by the matrix's callers."""
    published = _published_list(api)
    assert api.call(None, "POST", f"/notices/{published}/objections", json=OBJECTION).status_code == 201
    draft = api.call("school", "POST", "/lists", json={"programme_code": PROGRAMME, "period": "2027-spring"})
    assert draft.status_code == 201, draft.text
    objection = api.call("county", "GET", f"/lists/{published}/objections").json()["items"][0]["objection_id"]
    return Api(api.client, api.issuer, api.url, MATRIX_CALLERS,
               {"published": published, "draft": draft.json()["list_id"], "objection": objection})


READERS = ("school", "other_school", "county", "city", "province", "other_county")
BUREAUS = ("county", "city", "province", "other_county")
SCHOOLS = ("school", "other_school")
ANYONE = (*MATRIX_CALLERS, None)
MINE = {"school": 200, "other_school": 404, "county": 200, "city": 200, "province": 200, "other_county": 404}
PROGRAMME_BODY = {"name": "生活补助（小学）", "stage": "primary", "monthly": False, "amount_fen": 62_500,
                  "categories": ["orphan"], "effective_from": "2020-autumn"}
# Every route: (method, path, request, expected status per caller); others get 403, anonymous 401.
# A changing request is one the rules refuse (409 wrong state, 422) so each caller finds the same state.
MATRIX = [
    ("GET", "/programmes", {}, dict.fromkeys(ANYONE, 200)),
    ("GET", f"/programmes/{PROGRAMME}/versions", {}, dict.fromkeys(ANYONE, 200)),
    ("PUT", f"/programmes/{PROGRAMME}", {"json": PROGRAMME_BODY}, {"province": 422}),  # not a later period
    ("GET", f"/lists/proposal?programme_code={PROGRAMME}", {}, dict.fromkeys(SCHOOLS, 200)),
    ("POST", "/lists", {"json": {"programme_code": "no_such_programme", "period": "2026-autumn"}},
     dict.fromkeys(SCHOOLS, 422)),  # no such programme
    ("GET", "/lists", {}, dict.fromkeys(READERS, 200)),
    ("GET", "/lists/{draft}", {}, MINE),
    ("GET", "/lists/{published}", {}, MINE),
    ("POST", "/lists/{published}/entries/1/remove", {"json": {"reason": "转学"}}, {"school": 409, "other_school": 404}),
    ("POST", "/lists/{published}/submit", {}, {"school": 409, "other_school": 404}),
    ("POST", "/lists/{draft}/approve", {}, {"county": 409, "city": 409, "province": 409, "other_county": 404}),
    ("POST", "/lists/{draft}/return", {"json": {"reason": "材料不全"}},
     {"county": 409, "city": 409, "province": 409, "other_county": 404}),
    ("GET", f"/notices?school_code={CALLERS['school']['school_code']}", {}, dict.fromkeys(ANYONE, 200)),
    ("GET", "/notices/{published}", {}, dict.fromkeys(ANYONE, 200)),
    ("GET", "/notices/{draft}", {}, dict.fromkeys(ANYONE, 404)),  # not public before the audit
    ("POST", "/notices/{published}/objections", {"json": {**OBJECTION, "contact_phone": "abc"}},
     dict.fromkeys(ANYONE, 422)),
    ("GET", "/lists/{published}/objections", {}, {"county": 200, "city": 200, "province": 200, "other_county": 404}),
    ("POST", "/objections/{objection}/decide", {"json": {"decision": "dismiss", "reason": ""}},
     {"county": 422, "city": 422, "province": 422, "other_county": 404}),
    ("GET", "/messages", {}, dict.fromkeys(SCHOOLS, 200)),
    ("POST", "/messages/read", {"json": {"ids": []}}, dict.fromkeys(SCHOOLS, 422)),
]


def _template(path: str) -> str:
    path = path.split("?")[0].replace(PROGRAMME, "{code}").replace("{draft}", "{list_id}")
    return path.replace("{published}", "{list_id}").replace("/entries/1/", "/entries/{entry_no}/") \
        .replace("{objection}", "{objection_id}")


test_every_route_is_in_the_authorization_matrix, test_authorization_matrix = authorization_tests(
    MATRIX, _template, fixture="matrix")
