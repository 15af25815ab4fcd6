"""Students' data keys issued natively (``aid_native.issue_keys``) and by the Python path
(``datakeys.issued_in_python``): the same stored keys, one new key per new student however often
they appear, and the same buckets' plaintexts (entries sorted, the new keys in them)."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aid_chassis import datakeys, fields

if fields.native is None:
    if os.environ.get("CI"):
        raise RuntimeError("the native module is not installed: `make venv` builds it with cargo (libs/native)")
    pytest.skip("the native module is not built here (no Rust toolchain at `make venv`): the Python path runs",
                allow_module_level=True)

HEX = st.integers(0, 2**256 - 1).map(lambda n: f"{n:064x}")
OWNER = st.one_of(HEX, st.text(min_size=1, max_size=8), HEX.map(str.upper),  # a student key; a made-up owner
                  st.tuples(HEX, st.integers(0, 63), st.sampled_from("g é")).map(  # 64 characters, not all hex
                      lambda made: made[0][:made[1]] + made[2] + made[0][made[1] + 1:]))


def _plains(stored: list[str]) -> dict[int, bytes]:
    buckets: dict[int, dict[bytes, bytes]] = {}
    for owner in stored:
        bucket, sid = datakeys.filed(owner)
        buckets.setdefault(bucket, {})[sid] = os.urandom(32)
    return {bucket: datakeys.pack(entries) for bucket, entries in buckets.items()}


def _check(plains: dict[int, bytes], owners: list[str], keys: list[bytes], changed: dict[int, bytes]) -> None:
    """Stored keys kept, one key per student, every new key in its bucket's new plaintext."""
    issued: dict[tuple, bytes] = {}
    for owner, key in zip(owners, keys, strict=True):
        bucket, sid = datakeys.filed(owner)
        assert len(key) == 32 and issued.setdefault((bucket, sid), key) == key
        before = datakeys.find(plains.get(bucket, b""), sid)
        if before is not None:
            assert key == before
        else:
            assert datakeys.find(changed[bucket], sid) == key
    for bucket, plain in changed.items():
        entries = datakeys.unpack(plain)
        assert datakeys.pack(entries) == plain  # sorted
        assert datakeys.unpack(plains.get(bucket, b"")).items() <= entries.items()
        assert len(entries) == len(datakeys.unpack(plains.get(bucket, b""))) + sum(
            1 for (b, sid) in issued if b == bucket and datakeys.find(plains.get(bucket, b""), sid) is None)


@given(st.lists(OWNER, max_size=30), st.lists(OWNER, max_size=30), st.integers(0, 3))
@settings(max_examples=150, deadline=None)
def test_native_and_python_paths_issue_alike(stored, new, repeats):
    plains = _plains(stored)
    owners = new + stored[:5] + new[:repeats] + stored[:repeats]
    keys, changed = fields.native.issue_keys(plains, owners)
    _check(plains, owners, keys, changed)
    python_keys, python_changed = datakeys.issued_in_python(plains, owners)
    _check(plains, owners, python_keys, python_changed)
    assert sorted(changed) == sorted(python_changed) and len(keys) == len(python_keys)
    assert [k for k, o in zip(keys, owners) if datakeys.find(plains.get(datakeys.bucket_of(o), b""), datakeys.student_id(o))] == [
        k for k, o in zip(python_keys, owners) if datakeys.find(plains.get(datakeys.bucket_of(o), b""), datakeys.student_id(o))]
    assert fields.native.buckets_of(owners) == sorted({datakeys.bucket_of(o) for o in owners})


def test_a_bucket_cut_short_or_an_owner_it_cannot_read():
    with pytest.raises(ValueError, match="cut short"):
        fields.native.issue_keys({datakeys.bucket_of("a"): b"x" * 65}, ["a"])
    for path in (lambda: datakeys.issued({}, ["\ud800", "a"]), lambda: datakeys.buckets_of(["a", "\ud800"])):
        with pytest.raises(UnicodeEncodeError):  # a lone surrogate: the whole call the Python way, and its error
            path()
