"""identity-matching's HTTP API on a real PostgreSQL: the authorization matrix (every route × school,
other school, county, city, province, another province's county, department, operator, no token).
Imports belong to the province and the departments (each only its own lists); operators see counts
and feeds, never rejected rows or ID numbers."""

from __future__ import annotations

import asyncio

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from aid_chassis import datakeys
from aid_chassis.dev_issuer import DevIssuer
from aid_contracts.keys import student_key
from identity_matching.adapters import tables
from identity_matching.entrypoints.api import create
from identity_matching.service_layer import amended, imports
from identity_matching.settings import Settings
from tests.api_client import MATRIX_CALLERS, Api, authorization_tests
from tests.factories import id_number

from .conftest import BY, ROSTER
from tests.factories import FIELD_KEYS, FIELDS

LIST = f"身份证号,姓名,类别,户籍所在地\n{id_number(1)},学生1,孤儿,520102\n{id_number(2)}0,学生2,孤儿,520102\n"


async def _seed(url: str) -> dict:
    """The roster, a civil-affairs list and a poverty-office list (each with a rejected row)."""
    engine = create_async_engine(url)
    ids = {}
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as s, s.begin():
            await imports.import_roster(s, content=ROSTER.encode(), file_name="r.csv", by=BY)
            for department in ("civil_affairs", "poverty_office"):
                report = await imports.import_department_list(
                    s, department=department, departments=["civil_affairs", "poverty_office"],
                    content=LIST.encode(), file_name="l.csv", by=BY)
                ids[department] = report.batch_id
    finally:
        await engine.dispose()
    return {"own": ids["civil_affairs"], "other": ids["poverty_office"]}


@pytest.fixture
def api(migrate, tmp_path):
    url = migrate("identity_matching")
    issuer = DevIssuer(tmp_path)
    ids = asyncio.run(_seed(url))
    app = create(Settings(database_url=url, field_keys=FIELD_KEYS, pseudonym_key=BY.secret.decode(),
                          jwt_public_key_file=issuer.public_path, assessment_year=2026))
    with TestClient(app) as client:
        yield Api(client, issuer, url, MATRIX_CALLERS, ids)


BAD = {"files": {"file": ("x.csv", "no,such,columns\n1,2,3\n".encode())}}  # refused whole: nothing imported
BOTH = {"department": 200, "province": 200}
# Every route: (method, path, request, expected status per caller); others get 403, anonymous 401.
MATRIX = [
    ("POST", "/imports/roster", BAD, {"province": 422}),
    ("POST", "/imports/lists/civil_affairs", BAD, {"department": 422, "province": 422}),
    ("POST", "/imports/lists/poverty_office", BAD, {"province": 422}),  # not the department's own list
    ("POST", "/imports/lists", {"files": {"files": ("x.csv", b"a\n")}, "data": {"departments": ["civil_affairs"]}},
     {"province": 422}),
    ("GET", "/imports/{own}", {}, BOTH),
    ("GET", "/imports/{other}", {}, {"department": 404, "province": 200}),
    ("GET", "/imports/{own}/rejections.csv", {}, BOTH),
    ("GET", "/imports/{other}/rejections.csv", {}, {"department": 404, "province": 200}),
    ("GET", "/imports", {}, {**BOTH, "operator": 200}),
    ("GET", "/imports/feeds/F-none", {}, {"department": 404, "province": 404, "operator": 404}),
    ("GET", "/matches/export.csv", {}, {"province": 200}),
    ("GET", "/matches/candidates.csv", {}, {"province": 200}),
    ("GET", "/matches/candidates", {}, {"province": 200}),
    ("POST", "/matches/candidates/999999/accept", {}, {"province": 404}),
    ("GET", "/institutions", {}, dict.fromkeys(("county", "city", "province", "other_county"), 200)),
    ("POST", "/institutions", {"json": {"name": " ", "stage": "preschool"}}, {"county": 422, "other_county": 422}),
    ("PUT", "/institutions/5201020001/primary", {"json": {"name": "南明区第一小学"}}, {"county": 200, "other_county": 404}),
    ("DELETE", "/institutions/5201020001/primary", {}, {"county": 409, "other_county": 404}),  # it has students
    ("POST", "/students/shred", {"json": {"id_number": id_number(99), "reason": "测试"}}, {"province": 404}),
]


def _template(path: str) -> str:
    return (path.replace("{own}", "{batch_id}").replace("{other}", "{batch_id}").replace("civil_affairs", "{department}")
            .replace("poverty_office", "{department}").replace("F-none", "{feed_batch_id}")
            .replace("999999/accept", "{candidate_id}/{decision}").replace("5201020001/primary", "{code}/{stage}"))


test_every_route_is_in_the_authorization_matrix, test_authorization_matrix = authorization_tests(
    MATRIX, _template, fixture="api")


def test_a_department_sees_only_its_own_lists_counts(api):
    body = api.call("department", "GET", "/imports").json()
    assert set(body["departments"]) == {"civil_affairs"}
    assert set(api.call("province", "GET", "/imports").json()["departments"]) == {"civil_affairs", "poverty_office"}


def test_a_county_adds_names_and_removes_its_schools(api):
    listed = api.call("county", "GET", "/institutions").json()["items"]
    assert [(i["code"], i["stage"], i["source"], i["students"]) for i in listed] == [("5201020001", "primary", "roster", 3)]
    first = api.call("county", "POST", "/institutions", json={"name": "南明区阳光幼儿园", "stage": "preschool"})
    second = api.call("county", "POST", "/institutions", json={"name": "南明区第二幼儿园", "stage": "preschool"})
    assert (first.status_code, first.json()["code"], second.json()["code"]) == (201, "520102000001", "520102000002")
    assert api.call("city", "POST", "/institutions", json={"name": "x", "stage": "preschool"}).status_code == 403
    gone = api.call("county", "DELETE", "/institutions/520102000001/preschool").json()
    assert (gone["active"], gone["students"]) == (False, 0)
    assert [i["code"] for i in api.call("county", "GET", "/institutions").json()["items"]] == ["520102000002",
                                                                                               "5201020001"]
    kept = api.call("county", "DELETE", "/institutions/5201020001/primary")
    assert (kept.status_code, kept.json()["detail"]["code"]) == (409, "has_students")
    assert api.call("other_county", "GET", "/institutions").json()["total"] == 0
    assert api.call("county", "PUT", "/institutions/520102000001/preschool", json={"name": "x"}).status_code == 404
    enrolled = ROSTER + f"{id_number(9)},学生9,520102000001,学前,520102,520102\n"  # the removed school enrols again
    assert api.call("province", "POST", "/imports/roster", files={"file": ("r.csv", enrolled.encode())}).status_code == 200
    back = {i["code"]: i for i in api.call("county", "GET", "/institutions").json()["items"]}["520102000001"]
    assert (back["active"], back["name"], back["students"]) == (True, "南明区阳光幼儿园", 1)
    o, a = tables.chassis.outbox.c, tables.audit_log.c
    assert api.count(tables.chassis.outbox, o.topic == "aid.institutions.v1") == 5  # roster's, 2 added, removed, back
    assert api.count(tables.audit_log, a.entity == "institution") == 3


def test_a_new_school_is_filed_under_the_county_of_most_of_its_students(api):
    enrolled = ROSTER + "".join(f"{id_number(20 + i)},学生{20 + i},5201030007,小学,{region},520102\n"
                                for i, region in enumerate(["520102", "520103", "520103"]))
    assert api.call("province", "POST", "/imports/roster", files={"file": ("r.csv", enrolled.encode())}).status_code == 200
    i = tables.institutions.c
    assert api.count(tables.institutions, i.code == "5201030007", i.county == "520103", i.source == "roster") == 1
    assert api.count(tables.chassis.outbox, tables.chassis.outbox.c.topic == "aid.institutions.v1") == 2


def test_imports_through_the_api_are_in_the_audit_log(api):
    roster = api.call("province", "POST", "/imports/roster", files={"file": ("r.csv", ROSTER.encode())})
    listed = api.call("department", "POST", "/imports/lists/civil_affairs", files={"file": ("l.csv", LIST.encode())})
    assert roster.status_code == listed.status_code == 200
    a = tables.audit_log.c
    assert api.count(tables.audit_log, a.entity == "import_batch", a.entity_id == roster.json()["batch_id"],
                     a.action == "roster_imported", a.role == "province_bureau") == 1
    assert api.count(tables.audit_log, a.entity_id == listed.json()["batch_id"], a.institution == "civil_affairs") == 1


def test_exports_of_id_numbers_are_audited_before_they_are_sent(api):
    for path in ("/matches/export.csv", "/matches/candidates.csv", "/imports/{own}/rejections.csv"):
        assert api.call("province", "GET", path).status_code == 200
    a = tables.audit_log.c
    assert api.count(tables.audit_log, a.action.in_(["exported", "rejections_exported"]), a.actor == "province") == 3


def test_a_student_no_longer_matched_is_shredded_once_and_the_shredding_is_audited(api):
    shred = {"id_number": id_number(1), "reason": "毕业五年，保存期满"}
    refused = api.call("province", "POST", "/students/shred", json=shred)
    assert refused.status_code == 409 and refused.json()["detail"]["code"] == "still_matched"
    assert id_number(1) not in refused.text
    other = f"身份证号,姓名,类别,户籍所在地\n{id_number(3)},学生3,孤儿,520102\n".encode()
    for department in ("civil_affairs", "poverty_office"):  # student 1 taken off both lists: withdrawn
        assert api.call("province", "POST", f"/imports/lists/{department}",
                        files={"file": ("l.csv", other)}).status_code == 200
    o, a = tables.chassis.outbox.c, tables.audit_log.c
    published = api.count(tables.chassis.outbox, o.topic == "aid.student-keys.v1")
    before = _buckets(api.url)
    done = api.call("province", "POST", "/students/shred", json=shred)
    assert done.status_code == 200 and done.json()["shredded"] is True
    assert api.count(tables.chassis.outbox, o.topic == "aid.student-keys.v1") == published + 1  # its bucket again
    gone, after = datakeys.student_id(done.json()["student_key"]), _buckets(api.url)
    bucket = datakeys.bucket_of(done.json()["student_key"])
    assert gone in before[bucket] and after[bucket] == {k: v for k, v in before[bucket].items() if k != gone}
    assert {b: e for b, e in after.items() if b != bucket} == {b: e for b, e in before.items() if b != bucket}
    assert api.count(tables.audit_log, a.entity == "student", a.entity_id == done.json()["student_key"],
                     a.action == "shredded") == 1
    again = api.call("province", "POST", "/students/shred", json=shred)
    assert again.status_code == 404 and again.json()["detail"]["code"] == "no_data_key"
    assert api.call("county", "POST", "/students/shred", json=shred).status_code == 403


def _buckets(url: str) -> dict[int, dict[bytes, bytes]]:
    """Every stored bucket of data keys, opened."""
    async def read():
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                rows = (await conn.execute(select(tables.data_keys.c.bucket, tables.data_keys.c.sealed))).all()
        finally:
            await engine.dispose()
        return {bucket: datakeys.open_bucket(FIELDS, bucket, sealed) for bucket, sealed in rows}
    return asyncio.run(read())


def test_a_student_matched_only_before_data_keys_cannot_be_shredded_alone(api):
    key = student_key(id_number(3), BY.secret)
    async def matched_before():  # a withdrawn match whose events were sealed under the ring: no data key
        engine = create_async_engine(api.url)
        try:
            async with async_sessionmaker(engine)() as s, s.begin():
                state = pl.DataFrame({"student_key": [key], "match_id": ["M-old"], "revision": [1], "fingerprint": [""],
                                      "active": [False], "school_code": ["5201020001"]})
                await amended.amend(s, amended.STATES, state, batch_id="b-old", cipher=FIELDS)
        finally:
            await engine.dispose()
    asyncio.run(matched_before())
    refused = api.call("province", "POST", "/students/shred", json={"id_number": id_number(3), "reason": "保存期满"})
    assert refused.status_code == 409 and refused.json()["detail"]["code"] == "sealed_under_ring"
