"""verification's HTTP API on a real PostgreSQL: the authorization matrix (every route × school,
other school, county, city, province, other jurisdiction, department, operator, no token) and bad
input that changes nothing."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from aid_chassis.auth import Principal, Role
from aid_chassis.dev_issuer import DevIssuer
from aid_contracts import Envelope, StudentMatched
from aid_contracts.events import Category, PovertyStatus, Stage
from aid_contracts.keys import student_key
from tests import factories as f
from tests.factories import FIELD_KEYS
from tests.api_client import MATRIX_CALLERS, Api, authorization_tests
from tests.images import jpeg, png
from verification.adapters import tables
from verification.domain.proofs import MAX_PROOF_BYTES
from verification.domain.supplements import Supplement
from verification.entrypoints.api import create
from verification.service_layer import checks, distribution, supplements
from verification.settings import Settings

SECRET = "api-test-secret-0123456789"
SCHOOL_A, SCHOOL_B = "5201020001", "5201030001"
WHO = MATRIX_CALLERS


async def _seed(url: str) -> dict:
    """A matched task at school A (county 520102), a duplicate pair, a supplement with proof, an abnormal check."""
    engine = create_async_engine(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        async with sessions() as s, s.begin():
            await distribution.on_student_matched(s, f.matched(1))
            event = f.matched(2).parse(StudentMatched).model_copy(update={"other_school_codes": [SCHOOL_B]})
            await distribution.on_student_matched(s, Envelope.wrap(event, source="test", key=f.key(2)))
            school = Principal("school", Role.SCHOOL, school_code=SCHOOL_A)
            sup = await supplements.supplement(s, school, Supplement(
                id_number=f.id_number(9), name="王五", stage=Stage.PRIMARY, category=Category.REGISTERED_POOR,
                reason="漏录", poverty_status=PovertyStatus.NOT_OUT, enrolment_region="520102"), jpeg(),
                secret=SECRET.encode(), fields=f.FIELDS, today=date(2026, 11, 24))
            check = await checks.upload(s, Principal("city", Role.CITY_BUREAU, region="520100"), "核查",
                                        f"身份证号,姓名,学校代码,学校所在地,异常情况\n{f.id_number(1)},张小三,{SCHOOL_A},520102,重复\n".encode(),
                                        f.FIELDS)
            t = tables.tasks.c
            rows = (await s.execute(select(t.task_id, t.student_key, t.school_code))).all()
    finally:
        await engine.dispose()
    by = {(r.student_key, r.school_code): r.task_id for r in rows}
    return {"task": by[(f.key(1), SCHOOL_A)], "dup_a": by[(f.key(2), SCHOOL_A)], "dup_b": by[(f.key(2), SCHOOL_B)],
            "supplement": sup["task_id"], "check": check["check_id"], "key": f.key(2)}


@pytest.fixture
def api(migrate, tmp_path):
    url = migrate("verification")
    issuer = DevIssuer(tmp_path)
    settings = Settings(database_url=url, field_keys=FIELD_KEYS, pseudonym_key=SECRET, jwt_public_key_file=issuer.public_path)
    ids = asyncio.run(_seed(url))
    with TestClient(create(settings)) as client:
        yield Api(client, issuer, url, WHO, ids)


BUREAUS = ("county", "city", "province", "other_county")
SCHOOLS = ("school", "other_school")
CSV_ROW = "任务编号,核对结果\n{task},unknown\n"
# Every route: (method, path, request, expected status per caller); callers not listed get 403.
MATRIX = [
    ("GET", "/tasks", {}, dict.fromkeys((*SCHOOLS, *BUREAUS, "operator"), 200)),
    ("GET", "/tasks/{task}", {}, {"school": 200, "other_school": 404, "county": 200, "city": 200, "province": 200,
                                   "other_county": 404, "operator": 200}),
    ("POST", "/tasks/{task}/verify", {"json": {"status": "invalid", "invalid_reason": "lost"}},
     {"school": 422, "other_school": 404}),
    ("POST", "/tasks/verify", {"json": {"items": [{"task_id": "{task}", "status": "invalid"}]}},
     dict.fromkeys(SCHOOLS, 200)),
    ("POST", "/tasks/verify/csv", {"files": {"file": ("a.csv", CSV_ROW)}}, dict.fromkeys(SCHOOLS, 200)),
    ("POST", "/tasks/submit", {"json": {"task_ids": ["{task}"]}}, dict.fromkeys(SCHOOLS, 200)),
    ("POST", "/tasks/audit", {"json": {"decisions": [{"task_id": "{task}", "decision": "approve"}]}},
     dict.fromkeys(BUREAUS, 200)),
    ("POST", "/supplements", {"data": {"id_number": "x", "name": "x", "stage": "primary", "category": "orphan",
                                       "reason": "x"}, "files": {"proof": ("p.jpg", b"not a jpeg")}},
     dict.fromkeys(SCHOOLS, 422)),
    ("GET", "/tasks/{supplement}/proof", {}, {"school": 200, "other_school": 404, "county": 200, "city": 200,
                                              "province": 200, "other_county": 404}),
    ("GET", "/repeated-checks", {}, dict.fromkeys(BUREAUS, 200)),
    ("POST", "/repeated-checks/{key}/resolve", {"json": {"keep_task_id": "{dup_a}"}},
     {"county": 200, "city": 404, "province": 404, "other_county": 404}),  # one county: only it resolves
    ("GET", "/unfunded?period=2026-autumn", {}, dict.fromkeys((*SCHOOLS, *BUREAUS), 200)),
    ("GET", "/unfunded/completion?period=2026-autumn", {}, dict.fromkeys(BUREAUS, 200)),
    ("PUT", "/unfunded/{task}?period=2026-autumn", {"json": {"reason": "other"}}, dict.fromkeys(SCHOOLS, 404)),
    ("POST", "/abnormal-checks", {"data": {"title": "t"}, "files": {"file": ("c.csv", b"a,b\n")}},
     dict.fromkeys(BUREAUS, 422)),
    ("GET", "/abnormal-checks/items", {}, dict.fromkeys((*SCHOOLS, *BUREAUS), 200)),
    ("POST", "/abnormal-checks/{check}/items/2/answer", {"json": {"answer": "nonsense"}},
     {"school": 422, "other_school": 404}),
    ("GET", "/abnormal-checks/{check}/summary", {}, dict.fromkeys(BUREAUS, 200)),
    ("PUT", "/deadlines/verification/B1", {"json": {"due": "2026-06-30"}}, {"province": 200}),
    ("GET", "/progress", {}, dict.fromkeys((*SCHOOLS, *BUREAUS), 200)),
]


def _template(path: str) -> str:
    return path.split("?")[0].replace("{task}", "{task_id}").replace("{supplement}", "{task_id}") \
        .replace("{key}", "{student_key}").replace("{check}", "{check_id}").replace("/2/", "/{row}/").replace("/verification/B1", "/{kind}/{batch}")


test_every_route_is_in_the_authorization_matrix, test_authorization_matrix = authorization_tests(
    MATRIX, _template, fixture="api")


def _visible(api, who, path) -> int:
    return api.call(who, "GET", path).json()["total"]


def test_jurisdiction_decides_what_each_caller_sees_and_changes(api):
    assert _visible(api, "school", "/tasks") == 3  # its matched student, its duplicate, its supplement
    assert _visible(api, "other_school", "/tasks") == 1
    assert _visible(api, "other_county", "/tasks") == 0
    assert _visible(api, "county", "/tasks") == 4
    assert _visible(api, "county", "/tasks?dimension=household_elsewhere") == 0
    assert _visible(api, "province", "/tasks?dimension=enrolment") == 4
    assert _visible(api, "other_school", "/abnormal-checks/items") == 0
    assert _visible(api, "school", "/abnormal-checks/items") == 1
    body = {"decisions": [{"task_id": api.ids["task"], "decision": "approve"}]}
    assert api.call("county", "POST", "/tasks/audit", json=body).json()["results"][0]["code"] == "not_submitted"
    assert api.call("other_county", "POST", "/tasks/audit", json=body).json()["results"][0]["code"] == "not_found"
    assert api.call("county", "GET", "/repeated-checks").json()["total"] == 1
    assert api.call("city", "GET", "/repeated-checks").json()["total"] == 0  # one county: the county resolves


def _supplement_request(proof: bytes) -> dict:
    return {"data": {"id_number": f.id_number(5), "name": "赵六", "stage": "primary", "category": "orphan",
                     "reason": "漏录", "enrolment_region": "520102"}, "files": {"proof": ("proof.jpg", proof)}}


@pytest.mark.parametrize(("proof", "status", "code"), [
    (png(), 415, "proof_not_jpeg"),
    (jpeg() + b"\0" * (MAX_PROOF_BYTES + 1 - len(jpeg())), 413, "proof_too_large"),
])
def test_a_bad_proof_is_refused_precisely_and_nothing_is_stored(api, proof, status, code):
    before = (api.count(tables.tasks), api.count(tables.proofs))
    resp = api.call("school", "POST", "/supplements", **_supplement_request(proof))
    assert (resp.status_code, resp.json()["detail"]["code"]) == (status, code)
    assert (api.count(tables.tasks), api.count(tables.proofs)) == before


def test_a_jpeg_of_exactly_2mb_is_accepted_and_downloads_with_its_checksum(api):
    content = jpeg() + b"\0" * (MAX_PROOF_BYTES - len(jpeg()))
    created = api.call("school", "POST", "/supplements", **_supplement_request(content))
    assert created.status_code == 201, created.text
    resp = api.call("county", "GET", f"/tasks/{created.json()['task_id']}/proof")
    assert resp.content == content and resp.headers["x-checksum-sha256"] == created.json()["proof_sha256"]


def _task_state(api, task_id: str) -> tuple:
    t = tables.tasks.c
    return (api.count(tables.tasks, t.task_id == task_id, t.status == "pending"),
            api.count(tables.task_history, tables.task_history.c.task_id == task_id))


def test_bad_answers_get_a_precise_error_and_change_nothing(api):
    before = _task_state(api, api.ids["task"])
    unknown = api.call("school", "POST", "/tasks/{task}/verify", json={"status": "invalid", "invalid_reason": "lost"})
    assert unknown.status_code == 422 and unknown.json()["detail"]["code"] == "unknown_reason"
    assert "not_at_school" in unknown.json()["detail"]["message"]
    other = api.call("other_school", "POST", "/tasks/{task}/verify", json={"status": "verified_unchanged"})
    assert other.status_code == 404
    assert _task_state(api, api.ids["task"]) == before


def test_verifying_both_duplicates_is_refused(api):
    first = api.call("school", "POST", "/tasks/{dup_a}/verify", json={"status": "verified_unchanged"})
    assert first.status_code == 200
    before = _task_state(api, api.ids["dup_b"])
    second = api.call("other_school", "POST", "/tasks/{dup_b}/verify", json={"status": "verified_unchanged"})
    assert (second.status_code, second.json()["detail"]["code"]) == (409, "duplicate_verified")
    assert _task_state(api, api.ids["dup_b"]) == before
    ok = api.call("other_school", "POST", "/tasks/{dup_b}/verify", json={"status": "invalid", "invalid_reason": "duplicate"})
    assert ok.status_code == 200


def test_verified_records_are_found_by_id_number_and_responses_mask_it(api):
    key_task = api.call("school", "POST", "/tasks/{task}/verify", json={"status": "verified_unchanged"})
    assert key_task.status_code == 200
    assert _visible(api, "school", "/tasks?status=pending") == 1  # the duplicate; the supplement is answered
    # the seeded events use stand-in keys, so search by the supplement's real ID number
    found = api.call("school", "GET", "/tasks", params={"id_number": f.id_number(9)}).json()
    assert found["total"] == 1 and found["items"][0]["task_id"] == api.ids["supplement"]
    assert f.id_number(9) not in str(found) and "*" in found["items"][0]["student"]["id_number"]
    assert student_key(f.id_number(9), SECRET.encode()) == found["items"][0]["student_key"]


def test_a_query_string_never_reaches_a_span(api):
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    spans = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # the app's spans go through the global proxy: give it one
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(spans))
    api.call("county", "GET", "/tasks", params={"id_number": f.id_number(1)})
    exported = [str(dict(s.attributes)) for s in spans.get_finished_spans()]
    assert exported and not any(f.id_number(1) in text for text in exported)
