"""Personal fields sealed under a key ring: bound to owner and field, rotatable, legacy values open."""

from __future__ import annotations

import os

import polars as pl
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from aid_chassis import bulk, vault
from aid_chassis.fields import FieldCipher, FieldKeyError, SealedFieldError, new_key_text, parse_ring

OLD, NEW = new_key_text(), new_key_text()
CARD = "6222020200112233445"


@given(value=st.text(max_size=60), owner=st.text(min_size=1, max_size=64))
def test_whatever_is_sealed_opens_to_itself_and_never_shows_in_the_blob(value, owner):
    cipher = FieldCipher.from_text(f"k1={OLD}")
    blob = cipher.seal(value, owner, "name")
    assert cipher.open(blob, owner, "name") == value
    assert len(value) < 4 or value.encode() not in blob


def test_a_value_does_not_open_for_another_student_or_field_and_the_error_hides_it():
    cipher = FieldCipher.from_text(f"k1={OLD}")
    blob = cipher.seal(CARD, "student-a", "card")
    for owner, field in (("student-b", "card"), ("student-a", "phone")):
        with pytest.raises(SealedFieldError) as refused:
            cipher.open(blob, owner, field)
        assert CARD not in str(refused.value) and "student-a" not in str(refused.value)
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(SealedFieldError, match="does not open"):
        cipher.open(tampered, "student-a", "card")


def test_rotation_seals_under_the_first_key_opens_under_any_and_reseals_the_old():
    before = FieldCipher.from_text(f"k1={OLD}")
    old_blob = before.seal(CARD, "s", "card")
    during = FieldCipher.from_text(f"k2={NEW},k1={OLD}")
    assert during.current == "k2" and not during.is_current(old_blob)
    assert during.open(old_blob, "s", "card") == CARD
    resealed = during.reseal(old_blob, "s", "card")
    assert during.is_current(resealed) and during.reseal(resealed, "s", "card") is resealed
    after = FieldCipher.from_text(f"k2={NEW}")
    assert after.open(resealed, "s", "card") == CARD
    with pytest.raises(SealedFieldError, match="key k1, which the ring no longer holds"):
        after.open(old_blob, "s", "card")
    assert after.open_all([resealed, during.seal("13800000000", "t", "card")], ["s", "t"], "card") == [
        CARD, "13800000000"]


def test_values_sealed_before_key_ids_open_with_the_legacy_key():
    legacy = os.urandom(32)
    nonce = os.urandom(12)
    blob = nonce + AESGCM(legacy).encrypt(nonce, CARD.encode(), b"s")  # bound to the student alone
    cipher = FieldCipher({"k2": os.urandom(32)}, legacy=legacy)
    assert cipher.open(blob, "s", "card") == cipher.open_all([blob], ["s"], "card")[0] == CARD
    assert cipher.is_current(cipher.reseal(blob, "s", "card"))
    with pytest.raises(SealedFieldError):
        FieldCipher({"k2": os.urandom(32)}).open(blob, "s", "card")


@pytest.mark.parametrize("ring, message", [
    ("", "empty"), ("k1", "<key id>=<base64url key>"), ("bad id!=" + OLD, "<key id>"),
    ("k1=c2hvcnQ", "32 bytes"), (f"k1={OLD},k1={NEW}", "twice"), ("k1=***", "base64url"),
])
def test_a_ring_that_cannot_be_used_is_refused_saying_why(ring, message):
    with pytest.raises(FieldKeyError, match=message.replace("(", r"\(")) as refused:
        parse_ring(ring)
    assert OLD not in str(refused.value)


def test_text_tokens_are_deterministic_per_student_and_field_and_let_plain_values_through():
    cipher = FieldCipher.from_text(f"k1={OLD}")
    token = cipher.seal_text("52010220140101001X", "s1", "id_number")
    assert token.startswith("pd1:") and "52010220140101001X" not in token
    again = cipher.seal_text(token, "s1", "id_number")  # a token that opens is kept
    assert token == cipher.seal_text("52010220140101001X", "s1", "id_number") == again
    assert len({token, cipher.seal_text("52010220140101001X", "s2", "id_number"),
                cipher.seal_text("52010220140101001X", "s1", "name")}) == 3
    assert cipher.open_text(token, "s1", "id_number") == "52010220140101001X"
    assert cipher.open_text("张三", "s1", "name") == "张三"  # from before sealing, or hand-made
    assert cipher.seal_texts(["张三", None], ["s1", "s2"], "name") == [cipher.seal_text("张三", "s1", "name"), None]
    with pytest.raises(SealedFieldError):
        cipher.open_text(token, "s2", "id_number")
    with pytest.raises(SealedFieldError):
        cipher.open_text("pd1:***", "s1", "id_number")
    student = {"id_number": "52010220140101001X", "name": "张三", "school_code": "5201020001"}
    sealed = cipher.seal_student(student, "s1")
    assert sealed["school_code"] == "5201020001" and "张三" not in str(sealed)
    assert cipher.open_student(sealed, "s1") == student == cipher.open_student(student, "s1")


def test_many_texts_open_at_once_whatever_key_sealed_them():
    old, new = FieldCipher.from_text(f"k1={OLD}"), FieldCipher.from_text(f"k2={NEW},k1={OLD}")
    values = [new.seal_text("张三", "s1", "name"), old.seal_text("李四", "s2", "name"), "王五", None]
    assert new.open_texts(values, ["s1", "s2", "s3", "s4"], "name") == ["张三", "李四", "王五", None]
    with pytest.raises(SealedFieldError):
        new.open_texts(values[:1], ["s2"], "name")


def test_something_that_only_looks_like_a_token_is_sealed_as_a_value():
    cipher = FieldCipher.from_text(f"k1={OLD}")
    typed = cipher.seal_text("pd1:x", "s1", "name")  # a name typed like a token
    assert typed != "pd1:x" and cipher.open_text(typed, "s1", "name") == "pd1:x"
    someone_elses = cipher.seal_text("张三", "s2", "name")
    assert cipher.open_text(cipher.seal_text(someone_elses, "s1", "name"), "s1", "name") == someone_elses
    assert cipher.seal_texts(["pd1:x"], ["s1"], "name") == [typed]


@pytest.mark.parametrize("whole", [False, True], ids=["by column", "whole"])
def test_a_sealed_snapshot_opens_only_under_its_name_and_through_a_rotation(whole):
    frame = pl.DataFrame({"student_key": ["a", "b"], "id_number": ["520102201401010011", None],
                          "exit_year": pl.Series([2020, None], dtype=pl.Int16)})
    before = FieldCipher.from_text(f"k1={OLD}")
    blob = vault.seal_frame(frame, before, "roster/", whole=whole)
    assert b"520102201401010011" not in blob and blob.startswith(before.prefix)
    during = FieldCipher.from_text(f"k2={NEW},k1={OLD}")
    assert vault.open_frame(blob, during, "roster/").equals(frame)
    assert vault.open_frame(blob, during, "roster/", ["exit_year"]).columns == ["exit_year"]
    assert vault.seal_frame(frame, during, "roster/").startswith(during.prefix)  # the next snapshot: the new key
    with pytest.raises(SealedFieldError):
        vault.open_frame(blob, during, "department/civil_affairs")  # copied under another name
    with pytest.raises(SealedFieldError, match="k1"):
        vault.open_frame(blob, FieldCipher.from_text(f"k2={NEW}"), "roster/")  # its key already dropped


def test_a_snapshot_compressed_whole_is_a_zstd_frame_no_larger_than_by_column():
    frame = pl.DataFrame({"student_key": [f"{i:064x}" for i in range(5_000)], "stage": ["primary", "junior"] * 2_500})
    cipher = FieldCipher.from_text(f"k1={OLD}")
    whole, by_column = (vault.seal_frame(frame, cipher, "states/0", whole=w) for w in (True, False))
    assert cipher.open_bytes(whole, "states/0", vault.FIELD)[:4] == bulk.ZSTD_MAGIC
    assert cipher.open_bytes(by_column, "states/0", vault.FIELD)[:6] == b"ARROW1"
    assert len(whole) <= len(by_column) * 1.1
    assert vault.open_frame(whole, cipher, "states/0", ["stage"]).equals(frame.select("stage"))
