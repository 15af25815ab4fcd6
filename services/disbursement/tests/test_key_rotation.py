"""The card key ring from configuration, and ``python -m disbursement rekey`` on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import json
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import ValidationError
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import create_async_engine

from aid_chassis.fields import new_key_text
from aid_chassis.rekey import rekey_command
from disbursement.adapters import tables
from disbursement.settings import Settings
from tests.factories import FIELD_KEYS

SECRET = "rotation-test-secret-0123456789"
KEY = new_key_text()
CARD = "6222020200112233445"
JWT = "unused.pem"  # the settings ask for a way to check tokens; no API is served here


def _sealed_before_key_ids(value: str, owner: str) -> bytes:
    """A card as disbursement sealed it before key rings: nonce ‖ ciphertext, bound to the student."""
    nonce = os.urandom(12)
    return nonce + AESGCM(base64.urlsafe_b64decode(KEY + "==")).encrypt(nonce, value.encode(), owner.encode())


async def _on(url: str, statement):
    engine = create_async_engine(url)
    try:
        async with engine.begin() as c:
            return await c.execute(statement)
    finally:
        await engine.dispose()


def test_the_card_key_alone_is_a_ring_of_one_and_opens_what_was_sealed_before_key_ids(migrate):
    url = migrate("disbursement")
    settings = Settings(database_url=url, field_keys=FIELD_KEYS, pseudonym_key=SECRET, jwt_public_key_file=JWT, card_key=KEY)
    assert settings.cipher().current == "0"
    blank = Settings(database_url=url, field_keys=FIELD_KEYS, pseudonym_key=SECRET, jwt_public_key_file=JWT, card_key=KEY, card_keys=" ")
    assert blank.cipher().current == "0"  # compose passes an unset ring as ''
    assert settings.cipher().open(_sealed_before_key_ids(CARD, "s1"), "s1", "card") == CARD
    with pytest.raises(ValidationError, match="AID_FIELD_KEYS"):  # it holds students' names: no start without
        Settings(database_url=url, pseudonym_key=SECRET, jwt_public_key_file=JWT, card_key=KEY)
    with pytest.raises(ValidationError, match="DISBURSEMENT_CARD_KEYS"):
        Settings(database_url=url, field_keys=FIELD_KEYS, pseudonym_key=SECRET, jwt_public_key_file=JWT)


def test_the_rekey_command_reseals_the_stored_cards_under_the_rings_first_key(migrate, capsys):
    url = migrate("disbursement")
    asyncio.run(_on(url, insert(tables.accounts).values(
        student_key="s1", bank="ICBC", card_cipher=_sealed_before_key_ids(CARD, "s1"), card_last4=CARD[-4:],
        registered_by="test")))
    rotated = Settings(database_url=url, field_keys=FIELD_KEYS, pseudonym_key=SECRET, jwt_public_key_file=JWT, card_keys=f"1={new_key_text()},0={KEY}", card_key=KEY)
    help_text, run = rekey_command(tables.SEALED, Settings.cipher)
    assert "re-seal" in help_text and run(rotated) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["sealing_key"] == "1"
    assert report["columns"]["bank_accounts.card_cipher"] == {"resealed": 1, "unopened": 0}
    blob = bytes(asyncio.run(_on(url, select(tables.accounts.c.card_cipher))).scalar_one())
    cipher = rotated.cipher()
    assert cipher.is_current(blob) and cipher.open(blob, "s1", "card") == CARD
