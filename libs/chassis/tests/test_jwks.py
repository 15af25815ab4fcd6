"""Tokens of an OIDC provider (Keycloak in deploy/) checked against its published JWKS, served
here over loopback HTTP: a rotated key is fetched once; a key nobody published is refused."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from aid_chassis.auth import Principal, Role, TokenVerifier, allow
from aid_chassis.dev_issuer import DEV_AUDIENCE, DEV_ISSUER, DevIssuer
from aid_chassis.fields import new_key_text
from aid_chassis.settings import ServiceSettings


class _Provider:
    """A loopback HTTP server publishing a key set; counts the fetches."""

    def __init__(self, jwks: dict) -> None:
        self.jwks, self.fetches = jwks, 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                provider.fetches += 1
                body = json.dumps(provider.jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # quiet
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/realms/aid/protocol/openid-connect/certs"


@pytest.fixture
def keys(tmp_path):
    return DevIssuer(tmp_path / "a"), DevIssuer(tmp_path / "b"), DevIssuer(tmp_path / "c")


@pytest.fixture
def provider(keys):
    served = _Provider(keys[0].jwks())
    yield served
    served.server.shutdown()


def _client(provider: _Provider, now: list[float]) -> TestClient:
    app = FastAPI()

    @app.get("/who")
    def who(caller: Principal = Depends(allow(Role.SCHOOL))) -> dict:
        return {"school": caller.school_code}

    app.state.token_verifier = TokenVerifier(issuer=DEV_ISSUER, audience=DEV_AUDIENCE, jwks_url=provider.url,
                                             refetch_after=10, clock=lambda: now[0])
    return TestClient(app)


def _get(client: TestClient, issuer: DevIssuer):
    token = issuer.issue(subject="clerk", role="school", school_code="5201020001")
    return client.get("/who", headers={"Authorization": f"Bearer {token}"})


def test_a_published_key_is_trusted_and_a_rotated_one_fetched_once(keys, provider):
    now = [1000.0]
    client = _client(provider, now)
    assert _get(client, keys[0]).json() == {"school": "5201020001"}
    provider.jwks = {"keys": keys[0].jwks()["keys"] + keys[1].jwks()["keys"]}  # the provider rotates
    now[0] += 11
    assert _get(client, keys[1]).status_code == 200
    assert _get(client, keys[0]).status_code == 200  # the old key stays trusted while published
    now[0] += 11
    assert [_get(client, keys[2]).status_code for _ in range(3)] == [401, 401, 401]  # never published
    assert provider.fetches == 3  # first token, rotation, one look for the unknown key: no fetch storm


def test_settings_take_exactly_one_key_source(monkeypatch, tmp_path):
    monkeypatch.setenv("AID_PSEUDONYM_KEY", "a-real-secret-of-enough-length")
    base = {"service_name": "t", "database_url": "postgresql://u@h/db", "field_keys": f"1={new_key_text()}"}
    assert ServiceSettings(**base, jwks_url="http://127.0.0.1:1/certs").jwks_url
    with pytest.raises(ValidationError, match="exactly one"):
        ServiceSettings(**base)
    with pytest.raises(ValidationError, match="exactly one"):
        ServiceSettings(**base, jwks_url="http://127.0.0.1:1/certs", jwt_public_key_file=tmp_path / "k.pem")
