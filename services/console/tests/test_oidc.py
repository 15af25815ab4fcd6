"""Sign-in at the identity provider: the authorization code flow with PKCE against a stand-in
provider (discovery, token endpoint, refresh), signing tokens as the dev issuer does."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI, Form
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from pydantic import SecretStr

from console.app import create
from console.oidc import REFRESH_COOKIE
from console.session import COOKIE

ISSUER = "http://idp.test/realms/aid"
CLAIMS = {"role": "school", "school_code": "5201110004", "region": "520111"}


def stand_in_provider(issuer) -> FastAPI:
    """A provider that hands out codes the test approves, checks PKCE, and refreshes."""
    app = FastAPI()
    app.state.codes, app.state.refresh = {}, set()
    endpoint = ISSUER + "/protocol/openid-connect"

    @app.get("/realms/aid/.well-known/openid-configuration")
    async def discovery():
        return {"issuer": ISSUER, "authorization_endpoint": endpoint + "/auth", "token_endpoint": endpoint + "/token",
                "end_session_endpoint": endpoint + "/logout"}

    @app.post("/realms/aid/protocol/openid-connect/token")
    async def token(grant_type: str = Form(...), client_id: str = Form(...), code: str = Form(""),
                    code_verifier: str = Form(""), refresh_token: str = Form("")):
        assert client_id == "aid-console"
        if grant_type == "authorization_code":
            challenge = app.state.codes.pop(code, None)
            digest = base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest()).rstrip(b"=").decode()
            if challenge is None or digest != challenge:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
        elif refresh_token not in app.state.refresh:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        fresh = secrets.token_urlsafe(16)
        app.state.refresh.add(fresh)
        return {"access_token": issuer.issue(subject="clerk-1", ttl_seconds=900, **CLAIMS),
                "refresh_token": fresh, "token_type": "Bearer", "expires_in": 900}

    return app


@pytest.fixture
def provider(issuer):
    return stand_in_provider(issuer)


@pytest.fixture
def oidc_client(settings, services, provider):
    settings = settings.model_copy(update={"oidc_issuer_url": ISSUER, "oidc_redirect_url": "http://console.test/auth/callback",
                                           "cookie_secret": SecretStr("s" * 40), "dev_keys_dir": None})
    app = create(settings, transport=httpx.ASGITransport(app=services), provider_transport=httpx.ASGITransport(app=provider))
    with TestClient(app, base_url="http://console.test", follow_redirects=False) as c:
        yield c


def start(client, provider) -> dict:
    """To the provider and its answer: the authorize URL's parameters, with a code approved for them."""
    resp = client.get("/auth/start?next=/school/tasks")
    assert resp.status_code == 303
    url = urlsplit(resp.headers["location"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == ISSUER + "/protocol/openid-connect/auth"
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["code_challenge_method"] == "S256" and query["client_id"] == "aid-console"
    code = secrets.token_urlsafe(8)
    provider.state.codes[code] = query["code_challenge"]
    return {**query, "code": code}


def test_sign_in_at_the_provider_with_pkce_starts_a_session(oidc_client, provider):
    assert "统一身份认证登录" in oidc_client.get("/login").text
    asked = start(oidc_client, provider)
    resp = oidc_client.get(f"/auth/callback?code={asked['code']}&state={asked['state']}")
    assert resp.status_code == 303 and resp.headers["location"] == "/school/tasks"
    assert oidc_client.cookies.get(COOKIE) and oidc_client.cookies.get(REFRESH_COOKIE)
    assert oidc_client.get("/school/tasks").status_code == 200


def test_a_callback_with_another_state_is_refused(oidc_client, provider):
    asked = start(oidc_client, provider)
    resp = oidc_client.get(f"/auth/callback?code={asked['code']}&state=forged")
    assert resp.status_code == 400 and "登录状态不符" in resp.text
    assert not oidc_client.cookies.get(COOKIE)


def test_a_code_without_its_pkce_verifier_gets_no_session(oidc_client, provider):
    asked = start(oidc_client, provider)
    oidc_client.get("/auth/start?next=/")  # a second start: the flow cookie now holds another verifier
    provider.state.codes[asked["code"]] = provider.state.codes.get(asked["code"], "x")
    resp = oidc_client.get(f"/auth/callback?code={asked['code']}&state={asked['state']}")
    assert resp.status_code == 400
    assert not oidc_client.cookies.get(COOKIE)


def signed_in_then_expired(client, provider, issuer) -> str:
    """A session whose access token has since expired (its refresh token still held)."""
    asked = start(client, provider)
    client.get(f"/auth/callback?code={asked['code']}&state={asked['state']}")
    expired = issuer.issue(subject="clerk-1", ttl_seconds=-5, **CLAIMS)
    client.cookies.delete(COOKIE)
    client.cookies.set(COOKIE, expired, domain="console.test")
    return expired


def test_an_expired_session_is_renewed_with_the_refresh_token(oidc_client, provider, issuer):
    expired = signed_in_then_expired(oidc_client, provider, issuer)
    resp = oidc_client.get("/school/tasks")
    assert resp.status_code == 200
    renewed = resp.headers.get("set-cookie", "")
    assert renewed.startswith(f"{COOKIE}=") and expired not in renewed  # a new token went back to the browser


def test_a_refused_refresh_means_signing_in_again(oidc_client, provider, issuer):
    signed_in_then_expired(oidc_client, provider, issuer)
    provider.state.refresh.clear()  # the provider ended the session
    assert oidc_client.get("/school/tasks").headers["location"].startswith("/login")


def test_signing_out_ends_the_providers_session_too(oidc_client, provider):
    asked = start(oidc_client, provider)
    oidc_client.get(f"/auth/callback?code={asked['code']}&state={asked['state']}")
    resp = oidc_client.post("/logout", headers={"Origin": "http://console.test"})
    assert resp.headers["location"].startswith(ISSUER + "/protocol/openid-connect/logout?")
    assert not oidc_client.cookies.get(COOKIE) and not oidc_client.cookies.get(REFRESH_COOKIE)
