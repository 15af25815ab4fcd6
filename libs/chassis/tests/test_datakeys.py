"""Students' own data keys: tokens sealed under them open only while the key is known; shredding a
student (their bucket published again without their key) makes every token of theirs unopenable,
and a process following the real topic forgets the key."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from aid_chassis import datakeys
from aid_chassis.fields import (SHREDDED, TOKEN, FieldCipher, SealedFieldError, ShreddedFieldError, StudentCipher,
                                new_key_text)
from aid_chassis.kafka import ensure_topics
from aid_chassis.masking import mask_id_number, mask_name

RING = f"k1={new_key_text()}"
ALICE, BOB = "a" * 64, "b1" * 32  # pseudonymous keys (64 hex digits)
ID = "520102201001011234"


def _ring_with(entries: dict[str, bytes]) -> tuple[FieldCipher, datakeys.DataKeys]:
    """A fresh ring whose data keys hold ``entries``."""
    ring = FieldCipher.from_text(RING)
    keys = datakeys.attach(ring)
    for bucket in {datakeys.bucket_of(o) for o in entries}:
        keys.put(bucket, _sealed(ring, bucket, {o: k for o, k in entries.items() if datakeys.bucket_of(o) == bucket}))
    return ring, keys


def _sealed(ring: FieldCipher, bucket: int, entries: dict[str, bytes]) -> bytes:
    return datakeys.seal_bucket(ring, bucket, {datakeys.student_id(o): k for o, k in entries.items()})


def _blob(token: str) -> bytes:
    return base64.urlsafe_b64decode(token[len(TOKEN):])


@given(entries=st.dictionaries(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32),
                               max_size=40))
def test_a_bucket_packs_unpacks_and_finds_every_entry(entries):
    plain = datakeys.pack(entries)
    assert datakeys.unpack(plain) == entries
    assert all(datakeys.find(plain, sid) == key for sid, key in entries.items())
    assert datakeys.find(plain, b"\xff" * 32) == entries.get(b"\xff" * 32)


def test_a_student_key_is_filed_under_its_own_bytes_and_any_other_owner_under_a_hash():
    assert datakeys.student_id(ALICE) == bytes.fromhex(ALICE)
    assert datakeys.student_id(ALICE.upper()) == bytes.fromhex(ALICE)  # the same hex value
    assert datakeys.student_id("g" * 64) != datakeys.student_id("h" * 64)  # not hex: hashed
    assert len(datakeys.student_id("s1")) == 32 != datakeys.student_id("s2")


def test_a_bucket_opens_only_as_itself_and_a_cut_bucket_is_refused():
    ring = FieldCipher.from_text(RING)
    sealed = _sealed(ring, 7, {ALICE: os.urandom(32)})
    assert datakeys.student_id(ALICE) in datakeys.open_bucket(ring, 7, sealed)
    with pytest.raises(SealedFieldError):
        datakeys.open_bucket(ring, 8, sealed)  # another bucket's record
    with pytest.raises(ValueError, match="cut short"):
        datakeys.unpack(datakeys.pack({datakeys.student_id(ALICE): os.urandom(32)})[:-1])


def test_a_students_tokens_are_sealed_under_their_own_key_and_deterministic():
    ring, _ = _ring_with({ALICE: os.urandom(32)})
    token = ring.seal_text(ID, ALICE, "id_number")
    assert _blob(token)[0] == 0xA2 and ID not in token
    assert ring.seal_text(ID, ALICE, "id_number") == token  # the same fact sent again compares equal
    assert ring.open_text(token, ALICE, "id_number") == ID
    assert ring.seal_text(token, ALICE, "id_number") == token  # a token is kept as it is
    other = ring.seal_text(ID, BOB, "id_number")  # no data key: the ring's
    assert _blob(other)[0] == 0xA1 and ring.open_text(other, BOB, "id_number") == ID
    with pytest.raises(SealedFieldError):
        ring.open_text(token, ALICE, "name")  # bound to its field, as before


def test_a_students_tokens_are_pinned_byte_for_byte():
    """Deterministic tokens compare equal across releases: a change of their bytes (nonce, layout,
    base64) would make every re-sent fact look new. Vectors made by the code of 2026-12-02."""
    ring = FieldCipher.from_text(f"1={base64.urlsafe_b64encode(bytes(32)).decode()}")
    sealed = ring.seal_columns({"name": ["张三"], "id_number": ["520102201401010011"]}, [ALICE], [bytes(range(32))])
    assert sealed == {"name": ["pd1:ovZ87K88Chx05Y_kFzF0I_xPBnqP_jpShMY-lkYbZcwRjN0="],
                      "id_number": ["pd1:oh2M6SijE6o4YyWxPGrvEOOb7wQBs7gEom0U0pM03GM79gnqBHHqRo8Iv6mWg0g="]}
    assert StudentCipher(bytes(range(32))).token("张三", f"name\x1f{ALICE}".encode()) == sealed["name"][0]


def test_seal_columns_seals_each_student_under_their_key_as_seal_text_does():
    keys = {ALICE: os.urandom(32)}
    ring, _ = _ring_with(keys)
    sealed = ring.seal_columns({"id_number": [ID, None, ID], "name": ["张三", "李四", None]},
                               [ALICE, BOB, ALICE], [keys[ALICE], None, keys[ALICE]])
    assert sealed["id_number"][0] == ring.seal_text(ID, ALICE, "id_number") == sealed["id_number"][2]
    assert sealed["id_number"][1] is None and sealed["name"][2] is None
    assert _blob(sealed["name"][1])[0] == 0xA1  # Bob has no data key: sealed under the ring
    assert ring.open_texts(sealed["name"], [ALICE, BOB, ALICE], "name") == ["张三", "李四", None]


def test_a_shredded_student_opens_nowhere_and_screens_show_it_as_shredded():
    ring, keys = _ring_with({ALICE: os.urandom(32), BOB: os.urandom(32)})
    alice, bob = ring.seal_text("张三", ALICE, "name"), ring.seal_text("李四", BOB, "name")
    bucket = datakeys.bucket_of(ALICE)
    keys.put(bucket, _sealed(ring, bucket, {}))  # Alice's bucket again, without her key
    with pytest.raises(ShreddedFieldError, match="shredded"):
        ring.open_text(alice, ALICE, "name")
    assert ring.shown(alice, ALICE, "name") == SHREDDED
    assert ring.shown_student({"name": alice, "id_number": ID}, ALICE) == {"name": SHREDDED, "id_number": ID}
    assert mask_name(SHREDDED) == SHREDDED == mask_id_number(SHREDDED)
    if datakeys.bucket_of(BOB) != bucket:
        assert ring.open_text(bob, BOB, "name") == "李四"
    fresh = FieldCipher.from_text(RING)  # a process that never had the key
    with pytest.raises(ShreddedFieldError):
        fresh.open_text(bob, BOB, "name")


def test_a_wrong_key_is_tampering_not_shredding_and_rekey_leaves_student_tokens_alone():
    ring, keys = _ring_with({ALICE: os.urandom(32)})
    token = ring.seal_text("张三", ALICE, "name")
    bucket = datakeys.bucket_of(ALICE)
    keys.put(bucket, _sealed(ring, bucket, {ALICE: os.urandom(32)}))  # another key for her
    with pytest.raises(SealedFieldError) as refused:
        ring.open_text(token, ALICE, "name")
    assert not isinstance(refused.value, ShreddedFieldError)
    assert ring.is_current(_blob(token)) and ring.reseal(_blob(token), ALICE, "name") == _blob(token)


def test_a_legacy_value_whose_nonce_starts_like_a_students_token_still_opens():
    legacy = os.urandom(32)
    ring = FieldCipher.from_text(RING, legacy=base64.urlsafe_b64encode(legacy).decode())
    nonce = bytes([0xA2]) + os.urandom(11)
    blob = nonce + AESGCM(legacy).encrypt(nonce, b"6222020200112233445", b"owner")
    assert not ring.is_current(blob)  # re-sealed by rekey
    assert ring.open(blob, "owner", "card") == "6222020200112233445"


def test_many_students_are_found_in_their_buckets_and_a_replaced_bucket_is_read_again():
    ring = FieldCipher.from_text(RING)
    keys = datakeys.DataKeys(ring)
    owners = [hashlib.sha256(b"%d" % n).hexdigest() for n in range(3000)]  # student keys: HMAC-SHA256 hex
    entries = {o: os.urandom(32) for o in owners}
    for bucket in {datakeys.bucket_of(o) for o in owners}:
        keys.put(bucket, _sealed(ring, bucket, {o: k for o, k in entries.items() if datakeys.bucket_of(o) == bucket}))
    assert all(keys.key_of(o) == entries[o] for o in owners) and keys.key_of("f" * 64) is None
    indexes: dict = {}  # kept across calls, as a bank file's parts keep them
    assert keys.keys_for([*owners, "f" * 64, "s1"], indexes) == [entries[o] for o in owners] + [None, None]
    first = owners[0]
    keys.put(datakeys.bucket_of(first), _sealed(ring, datakeys.bucket_of(first), {}))
    assert keys.key_of(first) is None and keys.keys_for([first, owners[1]], indexes) == [None, entries[owners[1]]]
    other = next(o for o in owners if datakeys.bucket_of(o) != datakeys.bucket_of(first))
    assert isinstance(keys.cipher_of(other), StudentCipher)
    keys.put(datakeys.bucket_of(other), b"\xa1junk")  # not a bucket under this ring: logged, forgotten
    assert keys.key_of(other) is None


async def test_a_follower_reads_the_topic_to_its_end_then_forgets_a_shredded_key(kafka_bootstrap):
    await ensure_topics(kafka_bootstrap, partitions=3, topics=[datakeys.TOPIC])
    owner = uuid.uuid4().hex * 2  # a key no other test issued
    ring = FieldCipher.from_text(RING)
    bucket, key = datakeys.bucket_of(owner), os.urandom(32)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(datakeys.TOPIC, _sealed(ring, bucket, {owner: key}),
                                     key=datakeys.record_key(bucket))
        await producer.send_and_wait(datakeys.TOPIC, b"junk", key=b"not-a-bucket")  # logged, passed over
        keys = datakeys.DataKeys(ring)
        stop = asyncio.Event()
        task = asyncio.create_task(datakeys.DataKeyFollower(kafka_bootstrap, keys, client_id="t",
                                                            poll_seconds=0.2).run(stop))
        for _ in range(150):
            if keys.ready.is_set():
                break
            await asyncio.sleep(0.1)
        assert keys.ready.is_set() and keys.key_of(owner) == key
        await producer.send_and_wait(datakeys.TOPIC, _sealed(ring, bucket, {}),
                                     key=datakeys.record_key(bucket))
        for _ in range(150):
            if keys.key_of(owner) is None:
                break
            await asyncio.sleep(0.1)
        assert keys.key_of(owner) is None
        stop.set()
        await task
    finally:
        await producer.stop()


def test_open_columns_opens_students_ring_and_plain_values_as_open_text_does():
    keys = {ALICE: os.urandom(32)}
    ring, known = _ring_with(keys)
    names = [ring.seal_text("张三", ALICE, "name"), ring.seal_text("李四", BOB, "name"), "王五", None]
    ids = [ring.seal_text(ID, ALICE, "id_number"), None, ring.seal_text(ID, BOB, "id_number"), ID]
    owners = [ALICE, BOB, BOB, BOB]
    assert ring.open_columns({"name": names + [""], "id_number": ids + [""]}, owners + [BOB]) == {
        "name": ["张三", "李四", "王五", None, ""], "id_number": [ID, None, ID, ID, ""]}
    for bad, why in (("pd1:A", "not a sealed field"), (names[0][:-6] + "AAAAAA", "does not open"),
                     ("pd1:ogAB", "")):  # no base64; tampered; a blob cut short
        with pytest.raises(SealedFieldError, match=f"^name: {why}") as refused:
            ring.open_columns({"name": [bad]}, [ALICE])
        assert bad not in str(refused.value) and "张三" not in str(refused.value)
    with pytest.raises(ValueError, match="one value per owner"):
        ring.open_columns({"name": names}, owners[:2])
    known.put(datakeys.bucket_of(ALICE), _sealed(ring, datakeys.bucket_of(ALICE), {}))
    with pytest.raises(ShreddedFieldError):  # a bank file is never written with a shredded student
        ring.open_columns({"name": names}, owners)
