"""identity-matching's HTTP API on a real PostgreSQL: the authorization matrix (every route × school,
other school, county, city, province, another province's county, department, operator, no token).
Imports belong to the province and the departments (each only its own lists); operators see counts
and feeds, never rejected rows or ID numbers."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from aid_chassis.dev_issuer import DevIssuer
from identity_matching.entrypoints.api import create
from identity_matching.service_layer import imports
from identity_matching.settings import Settings
from tests.api_client import MATRIX_CALLERS, Api, matrix_row, served_routes
from tests.factories import id_number

from .conftest import BY, ROSTER

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
    app = create(Settings(database_url=url, pseudonym_key="api-test-secret-0123456789",
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
]


def _template(path: str) -> str:
    return (path.replace("{own}", "{batch_id}").replace("{other}", "{batch_id}").replace("civil_affairs", "{department}")
            .replace("poverty_office", "{department}").replace("F-none", "{feed_batch_id}")
            .replace("999999/accept", "{candidate_id}/{decision}"))


def test_every_route_is_in_the_authorization_matrix(api):
    assert served_routes(api.client.app) == {(m, _template(p)) for m, p, _, _ in MATRIX}


@pytest.mark.parametrize(("method", "path", "request_", "expected"), MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
def test_authorization_matrix(api, method, path, request_, expected):
    got, wanted = matrix_row(api, method, path, request_, expected)
    assert got == wanted


def test_a_department_sees_only_its_own_lists_counts(api):
    body = api.call("department", "GET", "/imports").json()
    assert set(body["departments"]) == {"civil_affairs"}
    assert set(api.call("province", "GET", "/imports").json()["departments"]) == {"civil_affairs", "poverty_office"}
