"""The native sealer (``aid_native``, Rust) and the Python path of ``FieldCipher.seal_columns`` /
``open_columns`` give the same tokens, the same opened values and the same errors, for any mix of
students with and without data keys, values already sealed, plain values, tampered tokens."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aid_chassis import datakeys, fields
from aid_chassis.fields import TOKEN, FieldCipher, new_key_text

if fields.native is None:  # noqa: SLF001 - which path this process has
    if os.environ.get("CI"):
        raise RuntimeError("the native sealer is not installed: `make venv` builds it with cargo (libs/native)")
    pytest.skip("the native sealer is not built here (no Rust toolchain at `make venv`): only the Python path runs",
                allow_module_level=True)

RING = f"k1={new_key_text()}"
OWNERS = [f"{n:064x}" for n in range(1, 7)] + ["s1", "学生"]  # student keys, and owners that are not hex
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=24)  # no lone surrogates (see the test below)


def _cipher(keys: dict[str, bytes]) -> FieldCipher:
    """A fresh ring whose data keys hold ``keys`` (owner → data key)."""
    ring = FieldCipher.from_text(RING)
    known = datakeys.attach(ring)
    for bucket in {datakeys.bucket_of(owner) for owner in keys}:
        entries = {datakeys.student_id(o): k for o, k in keys.items() if datakeys.bucket_of(o) == bucket}
        known.put(bucket, datakeys.seal_bucket(ring, bucket, entries))
    return ring


NATIVE = fields.native  # noqa: SLF001


def _both(call):
    """``call()`` natively, then in Python: each result, or the error's type and words."""
    outcomes = []
    for native in (NATIVE, None):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(fields, "native", native)
            try:
                outcomes.append(call())
            except Exception as exc:  # noqa: BLE001 - compared, not swallowed
                outcomes.append((type(exc), str(exc)))
    return outcomes


KEYS = st.one_of(st.none(), st.binary(min_size=32, max_size=32), st.sampled_from([b"", bytes(16), bytes(20)]))


@st.composite
def rows(draw):
    """Owners with a data key each (None, 32 bytes, or 0, 16 or 20 bytes: the native sealer leaves
    those), and two columns of values: None, text, text that looks like a token, a token of that
    owner under the ring or under the row's own data key."""
    count = draw(st.integers(0, 12))
    owners = [draw(st.sampled_from(OWNERS)) for _ in range(count)]
    keys = [draw(KEYS) for _ in owners]
    ring = FieldCipher.from_text(RING)

    def value(owner, key, name):
        kind = draw(st.sampled_from(["none", "text", "fake", "token", "own"]))
        text = draw(TEXT)
        own = (fields.StudentCipher(key).token(text, f"{name}\x1f{owner}".encode()) if key and len(key) == 32
               else text)
        return {"none": None, "text": text, "fake": TOKEN + text, "token": ring.seal_text(text, owner, name),
                "own": own}[kind]

    columns = {name: [value(owner, key, name) for owner, key in zip(owners, keys)] for name in ("id_number", "name")}
    return owners, keys, columns


@settings(max_examples=300, deadline=None)
@given(found=rows())
def test_sealed_natively_as_in_python(found):
    owners, keys, columns = found
    ring = FieldCipher.from_text(RING)
    native, python = _both(lambda: ring.seal_columns(columns, owners, keys))
    assert native == python
    if isinstance(native, tuple):  # a data key of 0 or 20 bytes met a value to seal: refused alike
        assert native[0] is ValueError and any(key is not None and len(key) not in (16, 32) for key in keys)
    else:
        assert all(value is None or value.startswith(TOKEN) for column in native.values() for value in column)


def test_a_column_of_another_length_is_refused_by_both():
    ring, key = FieldCipher.from_text(RING), os.urandom(32)
    short = _both(lambda: ring.seal_columns({"name": ["张三"]}, OWNERS[:2], [key, key]))
    assert short[0] == short[1] and short[0][0] is ValueError
    for call in (NATIVE.seal_columns, NATIVE.open_columns):  # the module's own check, called directly
        with pytest.raises(ValueError, match="one value per owner"):
            call([key, key], OWNERS[:2], [b"name\x1f"], [["张三"]])
    with pytest.raises(ValueError, match="one blob per owner"):
        NATIVE.open_under(key, b"\xa1", b"card\x1f", OWNERS[:2], [b""])


SURROGATE = "\ud800"


@pytest.mark.parametrize("call", [
    lambda ring, key: ring.seal_columns({"name": [SURROGATE]}, OWNERS[:1], [key]),
    lambda ring, key: ring.seal_columns({"name": [None, SURROGATE]}, [SURROGATE, OWNERS[0]], [None, bytes(20)]),
    lambda ring, key: ring.seal_columns({"name": [None, "x"]}, [SURROGATE, OWNERS[0]], [None, key]),
    lambda ring, key: ring.seal_columns({"name": [b"bytes"]}, OWNERS[:1], [key]),
    lambda ring, key: ring.seal_columns({"name": ["x"]}, OWNERS[:1], [memoryview(key)]),
    lambda ring, key: ring.open_columns({"name": [None, "plain"]}, [SURROGATE, OWNERS[0]]),
    lambda ring, key: ring.open_columns({"name": [3]}, OWNERS[:1]),
    lambda ring, key: ring.open_all([ring.seal("1", OWNERS[0], "card")], [SURROGATE], "card"),
    lambda ring, key: ring.open_all([None], OWNERS[:1], "card"),
    lambda ring, key: ring.students.keys_for([SURROGATE, OWNERS[0]]),
    lambda ring, key: ring.students.keys_for([None]),
], ids=["surrogate value", "surrogate and bad key", "surrogate owner", "bytes value", "memoryview key",
        "surrogate owner opened", "number opened", "surrogate card owner", "no card", "surrogate keys_for",
        "no owner"])
def test_what_the_native_sealer_cannot_read_goes_the_python_way(call):
    """Lone surrogates, values of other types: the whole call answers, or fails, as in Python."""
    key = os.urandom(32)
    ring = _cipher({OWNERS[0]: key})
    native, python = _both(lambda: call(ring, key))
    assert native == python


def _tampered(token: str) -> str:
    middle = len(token) // 2 + 2
    return token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1:]


@st.composite
def sealed(draw):
    """Owners, the data keys some of them have, and a column of what a bank file reads: tokens under
    the owner's key, under another student's, under the ring; tampered or cut tokens; plain values."""
    count = draw(st.integers(0, 12))
    owners = [draw(st.sampled_from(OWNERS)) for _ in range(count)]
    keys = {owner: draw(st.binary(min_size=32, max_size=32)) for owner in set(owners) if draw(st.booleans())}
    other = os.urandom(32)
    ring = FieldCipher.from_text(RING)

    def value(owner, name):
        text = draw(TEXT)
        mine = fields.StudentCipher(keys.get(owner, other)).token(text, f"{name}\x1f{owner}".encode())
        kind = draw(st.sampled_from(["none", "plain", "mine", "ring", "tampered", "cut", "junk", "loose", "tail"]))
        return {"none": None, "plain": text, "mine": mine, "ring": ring.seal_text(text, owner, name),
                "tampered": _tampered(mine), "cut": mine[:len(TOKEN) + draw(st.integers(0, 40))],
                "junk": TOKEN + "!" + text,
                "loose": mine.replace("-", "+").replace("_", "/").rstrip("="),  # Python's decoder takes these
                "tail": mine + "QUJD"}[kind]

    columns = {name: [value(owner, name) for owner in owners] for name in ("name", "id_number")}
    return owners, keys, columns


@settings(max_examples=300, deadline=None)
@given(found=sealed())
def test_opened_natively_as_in_python(found):
    owners, keys, columns = found
    ring = _cipher(keys)
    native, python = _both(lambda: ring.open_columns(columns, owners))
    assert native == python


def test_what_the_native_sealer_seals_opens_and_tells_students_apart():
    alice, bob = OWNERS[0], OWNERS[1]
    ring = _cipher({alice: os.urandom(32), bob: os.urandom(32)})
    keys = ring.students.keys_for([alice, bob])
    sealed = ring.seal_columns({"name": ["张三", "张三"]}, [alice, bob], keys)
    assert sealed["name"][0] != sealed["name"][1]  # the same name, two students: nothing shared
    assert ring.open_columns(sealed, [alice, bob]) == {"name": ["张三", "张三"]}
    native, python = _both(lambda: ring.open_columns(sealed, [bob, alice]))
    assert native == python and native[0] is fields.SealedFieldError


OLD = f"k0={new_key_text()}"
LETTERS = bytes(range(200, 232)).hex()  # a student key with letters in it


@st.composite
def cards(draw):
    """A bank file's cards: sealed under the ring's sealing key, under its older key (rotated), cut
    short, tampered, or under a key the ring does not hold."""
    count = draw(st.integers(0, 12))
    owners = [draw(st.sampled_from(OWNERS)) for _ in range(count)]
    now, old, stranger = (FieldCipher.from_text(ring) for ring in (RING, OLD, f"k1={new_key_text()}"))

    def blob(owner):
        number = draw(st.from_regex(r"\A[0-9]{16,19}\Z"))
        kind = draw(st.sampled_from(["now", "old", "cut", "tampered", "stranger"]))
        sealed = (old if kind == "old" else stranger if kind == "stranger" else now).seal(number, owner, "card")
        return {"cut": sealed[:draw(st.integers(0, len(sealed) - 1))],
                "tampered": sealed[:-1] + bytes([sealed[-1] ^ 1])}.get(kind, sealed)

    return owners, [blob(owner) for owner in owners]


@settings(max_examples=300, deadline=None)
@given(found=cards())
def test_cards_opened_natively_as_in_python(found):
    owners, blobs = found
    ring = FieldCipher.from_text(f"{RING},{OLD}")
    native, python = _both(lambda: ring.open_all(blobs, owners, "card"))
    assert native == python


@settings(max_examples=200, deadline=None)
@given(entries=st.dictionaries(st.sampled_from(OWNERS + [LETTERS, "0" * 63 + "g"]),
                               st.binary(min_size=32, max_size=32), max_size=8),
       asked=st.lists(st.sampled_from(OWNERS + [LETTERS, LETTERS.upper(), "0" * 63 + "g", "a" * 64, "无"]),
                      max_size=12))
def test_data_keys_found_natively_as_in_python(entries, asked):
    """Lower-case hex keys asked in upper case, owners that are not hex (hashed), students with no key."""
    ring = _cipher(entries)
    native, python = _both(lambda: ring.students.keys_for(asked))
    assert native == python == [ring.students.key_of(owner) for owner in asked]


def test_a_card_cut_short_after_its_key_id_says_it_does_not_open():
    """Shorter than a nonce and a tag after the key id: refused as sealed data, not by AES-GCM's own error."""
    ring = FieldCipher.from_text(RING)
    for blob in (ring.prefix, ring.prefix + b"\x00" * 7, ring.prefix + b"\x00" * 27):
        native, python = _both(lambda blob=blob: ring.open_all([blob], OWNERS[:1], "card"))
        assert native == python and native[0] is fields.SealedFieldError
