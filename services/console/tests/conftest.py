"""The console against stand-in services (an ASGI app answering as the services would)."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from aid_chassis.dev_issuer import DevIssuer
from console.app import create
from console.settings import SERVICES, Settings


def stand_in() -> FastAPI:
    """Answers for the few service routes the unit tests touch; records what it was sent."""
    app = FastAPI()
    app.state.seen = []

    @app.api_route("/{path:path}", methods=["GET", "POST"])
    async def anything(path: str, request: Request):
        app.state.seen.append((request.method, request.url.hostname, "/" + path, dict(request.headers),
                               await request.body()))
        if path == "tasks" and request.method == "GET":
            return {"total": 0, "items": []}
        if path == "tasks/verify":
            return JSONResponse({"detail": {"code": "not_yours", "message": "不是本校的核对任务 (not your school's task)"}},
                                status_code=422)
        if path == "public/lookup":
            return JSONResponse({"detail": "未查到资助记录 (no aid record found)"}, status_code=404)
        if path.startswith("imports/lists/"):
            return {"batch_id": "B1"}
        if path == "imports/B1":
            return {"batch_id": "B1", "rows_read": 1, "accepted": 1, "rejected": 0, "rejections": []}
        if path == "readyz":
            return {"status": "ready"}
        return JSONResponse({"detail": "not here"}, status_code=404)

    return app


@pytest.fixture
def services():
    return stand_in()


@pytest.fixture
def issuer(tmp_path):
    return DevIssuer(tmp_path / "keys")


@pytest.fixture
def settings(tmp_path, issuer):
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps([
        {"username": "school", "label": "学校 5201110004", "role": "school",
         "claims": {"school_code": "5201110004", "region": "520111"}},
        {"username": "county", "label": "县级 520111", "role": "county_bureau", "claims": {"region": "520111"}},
        {"username": "department", "label": "民政", "role": "department", "claims": {"department": "civil_affairs"}},
    ]))
    return Settings(service_urls={s: f"http://{s}.test" for s in SERVICES}, dev_keys_dir=tmp_path / "keys",
                    demo_accounts_file=accounts, jwt_public_key_file=issuer.public_path)


@pytest.fixture
def client(settings, services):
    with TestClient(create(settings, transport=httpx.ASGITransport(app=services)), base_url="http://console.test",
                    follow_redirects=False) as c:
        yield c


@pytest.fixture
def sign_in(client):
    def sign_in_as(username: str):
        resp = client.post("/login", data={"username": username, "password": "demo", "next": "/"},
                           headers={"Origin": "http://console.test"})
        assert resp.status_code == 303, resp.text
        return resp

    return sign_in_as
