"""A service's real app on a migrated database, called with dev-issuer tokens (API tests)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from aid_chassis.auth import api_routes
from aid_chassis.dev_issuer import DevIssuer

# The callers of every service's authorization matrix: name -> token claims. Schools and counties
# are in Guiyang (5201); "other_county" is another province's.
MATRIX_CALLERS = {
    "school": {"role": "school", "school_code": "5201020001"},
    "other_school": {"role": "school", "school_code": "5201030001"},
    "county": {"role": "county_bureau", "region": "520102"},
    "city": {"role": "city_bureau", "region": "520100"},
    "province": {"role": "province_bureau", "region": "520000"},
    "other_county": {"role": "county_bureau", "region": "530102"},
    "department": {"role": "department", "department": "civil_affairs"},
    "operator": {"role": "operator"},
}


@dataclass
class Api:
    client: TestClient
    issuer: DevIssuer
    url: str
    callers: dict[str, dict]  # name -> token claims (role, region, school_code …)
    ids: dict = field(default_factory=dict)

    def headers(self, who: str | None) -> dict:
        if who is None:
            return {}
        claims = dict(self.callers[who])
        return {"Authorization": f"Bearer {self.issuer.issue(subject=who, role=claims.pop('role'), **claims)}"}

    def call(self, who: str | None, method: str, path: str, **kwargs):
        return self.client.request(method, path.format(**self.ids), headers=self.headers(who), **kwargs)

    def count(self, table, *where) -> int:
        """Rows of a table in the service's database (to show a refusal changed nothing)."""
        async def run() -> int:
            engine = create_async_engine(self.url)
            try:
                async with engine.connect() as conn:
                    return (await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one()
            finally:
                await engine.dispose()
        return asyncio.run(run())


def seed(url: str, project, envelopes) -> None:
    """Apply events to a service's database with its bulk projection (before its API starts)."""
    async def run() -> None:
        engine = create_async_engine(url)
        try:
            async with async_sessionmaker(engine)() as session, session.begin():
                await project(session, list(envelopes))
        finally:
            await engine.dispose()
    asyncio.run(run())


def served_routes(app) -> set[tuple[str, str]]:
    """(method, path template) of every route but health and metrics."""
    return {(m, r.path) for r in api_routes(app.routes) for m in r.methods
            if not r.path.startswith(("/healthz", "/readyz", "/metrics"))}


def fill(value, ids: dict):
    """``{name}`` placeholders in a request (strings, nested dicts, lists) filled from ``ids``."""
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(fill(v, ids) for v in value)
    return value


def matrix_row(api: Api, method: str, path: str, request_: dict, expected: dict) -> tuple[dict, dict]:
    """(got, wanted) statuses of one route for every caller and anonymous (key None): callers not
    in ``expected`` must get 403, anonymous 401 (unless ``expected`` says otherwise)."""
    request_ = fill(request_, api.ids)
    got = {who: api.call(who, method, path, **request_).status_code for who in (*api.callers, None)}
    return got, {who: expected.get(who, 403) for who in api.callers} | {None: expected.get(None, 401)}


def authorization_tests(matrix: list[tuple], template, fixture: str = "api"):
    """The two tests every service's matrix gets: every served route is in ``matrix`` (by
    ``template(path)``), and each row's statuses are as expected. ``fixture`` names the Api fixture."""
    def test_every_route_is_in_the_authorization_matrix(request) -> None:
        api = request.getfixturevalue(fixture)
        app = getattr(api.client.app, "app", api.client.app)  # inside an ASGI front (query's lookup)
        assert served_routes(app) == {(method, template(path)) for method, path, _, _ in matrix}

    @pytest.mark.parametrize(("method", "path", "request_", "expected"), matrix,
                             ids=[f"{m} {p}" for m, p, _, _ in matrix])
    def test_authorization_matrix(request, method, path, request_, expected) -> None:
        got, wanted = matrix_row(request.getfixturevalue(fixture), method, path, request_, expected)
        assert got == wanted

    return test_every_route_is_in_the_authorization_matrix, test_authorization_matrix
