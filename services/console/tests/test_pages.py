"""The console's own rules: sign-in, page policies, same-origin posts, refusals shown as the services word them."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, Depends, FastAPI

from aid_chassis.auth import assert_every_route_has_policy
from console.session import COOKIE, page, safe_next

ORIGIN = {"Origin": "http://console.test"}


def test_a_page_needs_sign_in_and_comes_back_after_it(client, sign_in):
    resp = client.get("/school/tasks?status=pending")
    assert resp.status_code == 303
    assert resp.headers["location"] == "/login?next=%2Fschool%2Ftasks%3Fstatus%3Dpending"
    resp = client.post("/login", data={"username": "school", "password": "demo", "next": "/school/tasks?status=pending"},
                       headers=ORIGIN)
    assert resp.status_code == 303 and resp.headers["location"] == "/school/tasks?status=pending"
    cookie = resp.headers["set-cookie"]
    assert COOKIE in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_a_wrong_password_or_unknown_account_is_refused_alike(client):
    for username, password in (("school", "wrong"), ("nobody", "demo")):
        resp = client.post("/login", data={"username": username, "password": password}, headers=ORIGIN)
        assert resp.status_code == 401
        assert "用户名或密码错误" in resp.text
        assert COOKIE not in resp.headers.get("set-cookie", "")


def test_signed_in_a_school_goes_to_its_tasks_and_a_county_to_its_progress(client, sign_in):
    assert sign_in("school").headers["location"] == "/school/tasks"
    client.cookies.clear()
    assert sign_in("county").headers["location"] == "/bureau/dashboard"


def test_a_page_of_another_role_is_forbidden(client, sign_in):
    sign_in("school")
    resp = client.get("/bureau/audit")
    assert resp.status_code == 403 and "无权访问此页面" in resp.text


def test_a_forged_or_expired_session_means_signing_in_again(client, issuer):
    client.cookies.set(COOKIE, "not-a-token")
    assert client.get("/school/tasks").status_code == 303
    client.cookies.set(COOKIE, issuer.issue(subject="x", role="school", ttl_seconds=-10, school_code="5201110004"))
    assert client.get("/school/tasks").headers["location"].startswith("/login")


def test_a_post_from_another_site_is_refused(client, sign_in):
    sign_in("school")
    resp = client.post("/school/submit", headers={"Origin": "http://evil.example"})
    assert resp.status_code == 403


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example", "/\\evil.example", "", "evil"])
def test_sign_in_never_sends_a_person_off_site(target):
    assert safe_next(target) == "/"


def test_the_services_refusal_is_shown_in_their_words(client, sign_in, services):
    sign_in("school")
    resp = client.post("/school/tasks/verify", data={"task_id": "T1", "action": "verify"}, headers=ORIGIN)
    assert resp.status_code == 422
    assert "不是本校的核对任务" in resp.text


def test_calls_carry_the_persons_token_and_trace_context(client, sign_in, services):
    sign_in("school")
    assert client.get("/school/tasks").status_code == 200
    method, host, path, headers, _ = services.state.seen[-1]
    assert (method, host, path) == ("GET", "verification.test", "/tasks")
    assert headers["authorization"].startswith("Bearer ey")


def test_the_public_lookup_forwards_the_persons_address_and_never_echoes_the_id_number(client, services):
    resp = client.post("/lookup", data={"name": "张三", "id_number": "520111201911211085", "school_code": "5201110004"},
                       headers=ORIGIN)
    assert resp.status_code == 200 and "未查到资助记录" in resp.text
    assert "520111201911211085" not in resp.text
    _, host, path, headers, _ = services.state.seen[-1]
    assert (host, path) == ("query.test", "/public/lookup")
    assert headers["x-forwarded-for"] == "testclient"
    assert "authorization" not in headers


def test_english_on_request(client):
    assert "个人资助查询" in client.get("/lookup").text
    resp = client.get("/lang/en?back=/lookup")
    assert resp.status_code == 303 and resp.headers["location"] == "/lookup"
    english = client.get("/lookup").text
    assert "Personal aid lookup" in english and 'lang="en"' in english


def test_every_page_declares_who_may_open_it(settings):
    app = FastAPI()
    router = APIRouter()

    @router.get("/open")
    async def no_policy():
        return {}

    @router.get("/school-only")
    async def school_only(user=Depends(page())):
        return {}

    app.include_router(router)
    with pytest.raises(RuntimeError, match="/open"):
        assert_every_route_has_policy(app)


def test_an_upload_goes_to_the_service_as_it_came(client, sign_in, services):
    sign_in("department")
    content = "身份证号,姓名,类别,户籍所在地\n".encode("gbk") + b"x" * 300_000  # spooled to disk on the way
    resp = client.post("/department/imports", files={"file": ("民政名单.csv", content, "text/csv")}, headers=ORIGIN)
    assert resp.status_code == 303 and resp.headers["location"] == "/department/imports/B1"
    method, host, path, headers, body = next(s for s in services.state.seen if s[2] == "/imports/lists/civil_affairs")
    assert method == "POST" and content in body and "filename" in body.decode("utf-8", "replace")


def test_a_proof_over_2_mb_is_refused_before_it_reaches_the_service(client, sign_in, services):
    sign_in("school")
    form = {"id_number": "520111201911211085", "name": "张三", "stage": "primary", "category": "orphan", "reason": "r"}
    resp = client.post("/school/supplements", data=form, files={"proof": ("p.jpg", b"\xff" * (2 * 2**20 + 1), "image/jpeg")},
                       headers=ORIGIN)
    assert resp.status_code == 413 and "2 MB" in resp.text
    assert not [s for s in services.state.seen if s[2] == "/supplements"]
