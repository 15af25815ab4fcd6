"""disbursement's HTTP API on a real PostgreSQL: the authorization matrix (every route × school,
other school, county, city, province, another province's county, department, operator, no token),
and a card registered only by the student's own school or county."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from aid_chassis.auth import Principal, Role
from aid_chassis.dev_issuer import DevIssuer
from aid_chassis.fields import FieldCipher, new_key_text
from aid_contracts import Envelope, Published, Verified
from aid_contracts.keys import student_key
from disbursement.entrypoints.api import create
from disbursement.service_layer import accounts, batches
from disbursement.settings import Settings
from tests import factories as f
from tests.factories import FIELD_KEYS
from tests.api_client import MATRIX_CALLERS, Api, authorization_tests

SECRET = "api-test-secret-0123456789"
KEY = new_key_text()
CARD = {"id_number": f.id_number(1), "bank": "ICBC", "card_number": "6222020200112233445"}


def _keyed(envelope: Envelope, model, seq: int) -> Envelope:
    return Envelope.wrap(envelope.parse(model), source="test", key=student_key(f.id_number(seq), SECRET.encode()))


async def _seed(url: str) -> dict:
    """Students 1 and 2 approved at school A and on a final list; a card for 1; a batch of 1."""
    engine = create_async_engine(url)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as s, s.begin():
            for seq in (1, 2):
                await accounts.on_verified(s, _keyed(f.verified(seq), Verified, seq))
                await accounts.on_published(s, _keyed(f.published(seq, final=True), Published, seq))
            county = Principal("county", Role.COUNTY_BUREAU, region="520102")
            await accounts.register(s, county, accounts.Card(**CARD), secret=SECRET.encode(),
                                    cipher=FieldCipher.from_text(f"0={KEY}"))
            batch = await batches.create_batch(s, county, list_id="L1", limit=100)
    finally:
        await engine.dispose()
    return {"batch": batch["batch_id"]}


@pytest.fixture
def api(migrate, tmp_path):
    url = migrate("disbursement")
    issuer = DevIssuer(tmp_path)
    ids = asyncio.run(_seed(url))
    app = create(Settings(database_url=url, field_keys=FIELD_KEYS, pseudonym_key=SECRET, jwt_public_key_file=issuer.public_path,
                          card_key=KEY, notify_file=tmp_path / "notices.jsonl"))
    with TestClient(app) as client:
        yield Api(client, issuer, url, MATRIX_CALLERS, ids)


BUREAUS = ("county", "city", "province", "other_county")
OVER_THE_BATCH = {"county": 200, "city": 200, "province": 200, "other_county": 404}
CARDS_CSV = f"身份证号,开户银行,银行卡号\n{CARD['id_number']},ICBC,{CARD['card_number']}\n"
# Every route: (method, path, request, expected status per caller); others get 403, anonymous 401.
MATRIX = [
    ("GET", "/payments", {}, dict.fromkeys((*BUREAUS, "operator"), 200)),
    ("POST", "/accounts", {"json": CARD}, {"school": 200, "other_school": 404, "county": 200, "other_county": 404}),
    ("POST", "/accounts/import", {"files": {"file": ("cards.csv", CARDS_CSV.encode())}},
     dict.fromkeys(("school", "other_school", "county", "other_county"), 200)),  # a result per row: see below
    ("POST", "/batches", {"json": {"list_id": "L-none"}}, dict.fromkeys(BUREAUS, 422)),  # nothing ready to pay
    ("GET", "/batches", {}, dict.fromkeys(BUREAUS, 200)),
    ("GET", "/batches/{batch}/file", {}, OVER_THE_BATCH),
    ("POST", "/returns", {"files": {"file": ("r.csv", b"not a return file")}}, dict.fromkeys(BUREAUS, 422)),
    ("POST", "/batches/{batch}/resume", {"json": {"note": "checked"}}, {**OVER_THE_BATCH, "county": 409,
                                                                         "city": 409, "province": 409}),
    ("GET", "/notifications", {}, dict.fromkeys((*BUREAUS, "operator"), 200)),
]


test_every_route_is_in_the_authorization_matrix, test_authorization_matrix = authorization_tests(
    MATRIX, lambda path: path.replace("{batch}", "{batch_id}"), fixture="api")


def test_only_the_students_school_or_county_registers_their_card(api):
    accepted = {}
    for who in ("school", "other_school", "county", "other_county"):
        body = api.call(who, "POST", "/accounts/import", files={"file": ("cards.csv", CARDS_CSV.encode())}).json()
        accepted[who] = (body["accepted"], [r["code"] for r in body["rejections"]])
    assert accepted == {"school": (1, []), "county": (1, []), "other_school": (0, ["not_your_student"]),
                        "other_county": (0, ["not_your_student"])}
    refused = api.call("other_school", "POST", "/accounts", json={**CARD, "card_number": "6222020200998877665"})
    assert (refused.status_code, refused.json()["detail"]["code"]) == (404, "not_your_student")
    payments = api.call("county", "GET", "/payments").json()
    assert all("*" in p["id_number"] for p in payments["items"]) and CARD["id_number"] not in str(payments)

