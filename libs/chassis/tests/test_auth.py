import time

import jwt
import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient

from aid_chassis.auth import Principal, Role, TokenVerifier, allow, assert_every_route_has_policy, public
from aid_chassis.dev_issuer import DEV_AUDIENCE, DEV_ISSUER, DevIssuer


@pytest.fixture(scope="module")
def issuer(tmp_path_factory):
    return DevIssuer(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def client(issuer):
    app = FastAPI()

    @app.get("/school-only")
    def school_only(who: Principal = Depends(allow(Role.SCHOOL))) -> dict:
        return {"school": who.school_code}

    @app.get("/open", dependencies=[Depends(public)])
    def open_route() -> dict:
        return {"ok": True}

    app.state.token_verifier = TokenVerifier.from_file(issuer.public_path, issuer=DEV_ISSUER, audience=DEV_AUDIENCE)
    assert_every_route_has_policy(app)
    return TestClient(app)


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_allowed_role_sees_its_claims(client, issuer):
    token = issuer.issue(subject="s1", role="school", school_code="5201020001")
    resp = client.get("/school-only", headers=_bearer(token))
    assert resp.status_code == 200
    assert resp.json() == {"school": "5201020001"}


def test_missing_token_is_401(client):
    assert client.get("/school-only").status_code == 401


def test_other_role_is_403(client, issuer):
    token = issuer.issue(subject="b", role="county_bureau", region="520102")
    assert client.get("/school-only", headers=_bearer(token)).status_code == 403


def test_expired_token_is_401(client, issuer):
    token = issuer.issue(subject="s1", role="school", ttl_seconds=-10)
    assert client.get("/school-only", headers=_bearer(token)).status_code == 401


def test_token_of_another_key_is_401(client, tmp_path):
    other = DevIssuer(tmp_path)
    token = other.issue(subject="s1", role="school", school_code="x")
    assert client.get("/school-only", headers=_bearer(token)).status_code == 401


def test_wrong_audience_is_401(client, issuer):
    claims = {"iss": DEV_ISSUER, "aud": "elsewhere", "sub": "s", "role": "school", "exp": int(time.time()) + 60}
    token = jwt.encode(claims, issuer.private_path.read_bytes(), algorithm="RS256")
    assert client.get("/school-only", headers=_bearer(token)).status_code == 401


def test_public_route_needs_no_token(client):
    assert client.get("/open").json() == {"ok": True}


def test_route_without_policy_is_refused():
    app = FastAPI()
    router = APIRouter()

    @router.get("/forgotten")
    def forgotten() -> dict:
        return {}

    app.include_router(router)
    with pytest.raises(RuntimeError, match="/forgotten"):
        assert_every_route_has_policy(app)


@pytest.mark.parametrize(("role", "region", "county", "covered"), [
    (Role.PROVINCE_BUREAU, "520000", "520102", True),
    (Role.PROVINCE_BUREAU, "520000", "530102", False),
    (Role.CITY_BUREAU, "520100", "520181", True),
    (Role.CITY_BUREAU, "520100", "520201", False),
    (Role.COUNTY_BUREAU, "520102", "520102", True),
    (Role.COUNTY_BUREAU, "520102", "520103", False),
    (Role.SCHOOL, "520102", "520102", False),
])
def test_jurisdiction(role, region, county, covered):
    assert Principal("u", role, region=region).covers_region(county) is covered
