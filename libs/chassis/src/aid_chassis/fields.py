"""Personal fields encrypted at rest (字段加密): AES-256-GCM under a key ring that can be rotated.

A sealed field is ``0xA1 ‖ len(key id) ‖ key id ‖ nonce (12) ‖ ciphertext+tag``; its associated
data binds it to its owner (the student key) and the field's name, so a value copied onto another
student's row or into another column does not open. The ring's first key seals; every key in it
opens. Rotation: put the new key first, keep the old ones, re-seal what is stored (each service's
``rekey`` command), then drop the old keys. Values sealed before key ids existed (nonce ‖
ciphertext, bound to the owner alone) open with the ``legacy`` key.

In events and read models a sealed field travels as text, ``pd1:`` + base64url of the bytes
(``seal_text``): sealed deterministically (the nonce is a keyed hash of owner, field and value), so
the same student's same value gives the same token — a re-sent fact compares equal — while nothing
is shared between students or fields. ``open_text`` lets plain values through as they are (events
and rows from before sealing, hand-made test data).

A student whose data keys were issued (``aid_chassis.datakeys``) has their tokens sealed under
their own data key instead: ``0xA2 ‖ nonce (12) ‖ ciphertext+tag``, the same associated data,
the nonce a keyed hash under a key derived from the data key. Such a token opens only where the
student's data key is known (``FieldCipher.students``); once the key is shredded it opens nowhere
(``ShreddedFieldError``).

Errors never carry the value or the key: only which key id, owner field and why.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from hashlib import blake2b

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from aid_chassis.masking import SHREDDED  # what a screen shows for a field that no longer opens

try:  # the native module (libs/native): the same tokens, a column at a time without the GIL (``make venv`` builds it)
    import aid_native as native
except ImportError:  # no Rust toolchain where it was installed: every field sealed and opened in Python
    native = None
# Arguments the native sealer cannot read (not str or bytes, lone surrogates): the Python path takes the
# whole call then, so it answers or fails as it always did.
UNREADABLE = (TypeError, UnicodeEncodeError)

VERSION = 0xA1
STUDENT = 0xA2  # sealed under the student's own data key
NONCE = 12
TOKEN = "pd1:"  # a sealed field as text
PERSONAL = ("id_number", "name")  # the personal fields of a student's facts (StudentFacts)
KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")


class FieldKeyError(ValueError):
    """A key ring that cannot be used (bad key id, not 32 bytes, empty)."""


class SealedFieldError(ValueError):
    """A sealed field that does not open: unknown key id, tampered, or bound to another owner or field."""


class ShreddedFieldError(SealedFieldError):
    """A field sealed under a student's own data key, which this process does not know: shredded
    (销毁), or not received yet. Screens show it as shredded; nothing is paid or published with it."""




class StudentCipher:
    """One student's sealer: AES-GCM under the data key, and the key of its deterministic nonces.
    Made when needed and dropped: an AES-GCM object holds ~2.5 KB (a million would not fit)."""

    __slots__ = ("aead", "_key", "_nonce_key")

    def __init__(self, key: bytes) -> None:
        self.aead = AESGCM(key)
        self._key = key
        self._nonce_key: bytes | None = None  # derived when it first seals (opening needs none)

    def token(self, value: str, bound: bytes) -> str:
        """``value`` as a text token sealed under the student's key."""
        return _student_token(self.aead, self._nonces(), bound, value.encode())

    def seal(self, data: bytes, bound: bytes) -> bytes:
        return _student_blob(self.aead, self._nonces(), bound, data)

    def _nonces(self) -> bytes:
        if self._nonce_key is None:
            self._nonce_key = _nonce_key_of(self._key)
        return self._nonce_key

    def open(self, blob: bytes, bound: bytes) -> bytes:
        """A blob sealed by ``seal`` (``InvalidTag`` when it was not, for this bound)."""
        return self.aead.decrypt(blob[1:1 + NONCE], blob[1 + NONCE:], bound)


def new_key_text() -> str:
    """A fresh 32-byte key, base64url without padding (what the ring's configuration holds)."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def _key(text: str, what: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except ValueError:
        raise FieldKeyError(f"{what}: not base64url") from None
    if len(key) != 32:
        raise FieldKeyError(f"{what}: a key must be 32 bytes, base64url-encoded")
    return key


def parse_ring(text: str) -> dict[str, bytes]:
    """``"2=<key>,1=<key>"`` → {key id: key}, the sealing key first."""
    ring: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key_id, sep, value = item.partition("=")
        if not sep or not KEY_ID.match(key_id):
            raise FieldKeyError("each entry of a key ring is <key id>=<base64url key>, the id 1-16 of A-Z a-z 0-9 _ -")
        if key_id in ring:
            raise FieldKeyError(f"key id {key_id} appears twice in the ring")
        ring[key_id] = _key(value, f"key {key_id}")
    if not ring:
        raise FieldKeyError("the key ring is empty")
    return ring


class FieldCipher:
    """Seals and opens personal fields under a key ring (the first key seals)."""

    def __init__(self, ring: dict[str, bytes], *, legacy: bytes | None = None) -> None:
        if not ring:
            raise FieldKeyError("the key ring is empty")
        self._ring = {key_id: AESGCM(key) for key_id, key in ring.items()}
        self.current = next(iter(ring))
        self._sealing_key = ring[self.current]  # for the native sealer (``open_all``)
        self.prefix = bytes([VERSION, len(self.current)]) + self.current.encode()
        self._sealer = self._ring[self.current]
        self._nonce_key = hmac.new(ring[self.current], b"aid-field-nonce", hashlib.sha256).digest()  # 32 bytes
        self._legacy = AESGCM(legacy) if legacy else None
        self.students = None  # the data keys (aid_chassis.datakeys.DataKeys) once attached: ``cipher_of(owner)``

    def _student(self, owner: str) -> StudentCipher | None:
        return None if self.students is None else self.students.cipher_of(owner)

    @classmethod
    def from_text(cls, ring: str, *, legacy: str | None = None) -> FieldCipher:
        return cls(parse_ring(ring), legacy=_key(legacy, "legacy key") if legacy else None)

    def seal(self, value: str, owner: str, field: str, *, deterministic: bool = False) -> bytes:
        return self.seal_bytes(value.encode(), owner, field, deterministic=deterministic)

    def seal_bytes(self, data: bytes, owner: str, field: str, *, deterministic: bool = False) -> bytes:
        """``seal`` for bytes (a whole sealed snapshot, ``aid_chassis.vault``)."""
        bound = _bound(owner, field)
        nonce = _synthetic(self._nonce_key, bound, data) if deterministic else os.urandom(NONCE)
        return self.prefix + nonce + self._sealer.encrypt(nonce, data, bound)

    def seal_text(self, value: str, owner: str, field: str) -> str:
        """``value`` as a deterministic token (what events and read models carry): under the
        student's own data key when it is known, else the ring's. A token is kept as it is when it
        opens for this owner and field (anything else that looks like one — a name typed as
        ``pd1:…`` — is sealed as a value)."""
        if value.startswith(TOKEN) and self._opens(value, owner, field):
            return value
        student = self._student(owner)
        if student is not None:
            return student.token(value, _bound(owner, field))
        return TOKEN + base64.urlsafe_b64encode(self.seal(value, owner, field, deterministic=True)).decode()

    def seal_columns(self, columns: Mapping[str, list[str | None]], owners: list[str],
                     keys: Sequence[bytes | None]) -> dict[str, list[str | None]]:
        """``seal_text`` over a frame's personal columns (name → values, one per owner), a student
        at a time: under the student's data key, ``keys``' one per owner (a comparison round's,
        issued with it), the ring's for a student without one (None). None stays None. The
        native sealer (``aid_native``, without the GIL) seals what it can; the rows it leaves (no
        data key, a value already a token) are sealed here, as are all without it."""
        names = list(columns)
        if len(keys) != len(owners) or any(len(columns[name]) != len(owners) for name in names):
            raise ValueError("seal_columns: one data key, and one value in every column, per owner")
        return _natively("seal_columns", self._seal_rows, columns, owners, keys)

    def _seal_rows(self, columns: Mapping[str, list[str | None]], owners: list[str],
                   keys: Sequence[bytes | None], rows: Iterable[int]) -> dict[str, list[str | None]]:
        """``seal_columns`` in Python, of ``rows`` only (their values, in that order)."""
        names = list(columns)
        sealed: dict[str, list[str | None]] = {name: [] for name in names}
        fields = [(name, f"{name}\x1f".encode(), sealed[name].append, columns[name]) for name in names]
        for row in rows:
            owner, key = owners[row], keys[row]
            aead = nonce_key = None  # made at the first value to seal (a withdrawal has none)
            for name, tag, add, column in fields:
                value = column[row]
                if value is None:
                    add(None)
                elif key is None:
                    add(self.seal_text(value, owner, name))
                elif value.startswith(TOKEN) and self._opens(value, owner, name):
                    add(value)
                else:
                    if aead is None:
                        aead, nonce_key = AESGCM(key), _nonce_key_of(key)
                    add(_student_token(aead, nonce_key, tag + owner.encode(), value.encode()))
        return sealed

    def _opens(self, value: str, owner: str, field: str) -> bool:
        try:
            self.open_text(value, owner, field)
        except SealedFieldError:
            return False
        return True

    def seal_texts(self, values: Iterable[str | None], owners: Iterable[str], field: str) -> list[str | None]:
        """``seal_text`` over many values under the ring (never a student's data key: a round's events
        use ``seal_columns``); None stays None."""
        aead, prefix, nonce_key, tag = self._sealer, self.prefix, self._nonce_key, f"{field}\x1f"
        sealed: list[str | None] = []
        for value, owner in zip(values, owners, strict=True):
            if value is None or value.startswith(TOKEN):
                sealed.append(value if value is None else self.seal_text(value, owner, field))
                continue
            bound, data = (tag + owner).encode(), value.encode()
            nonce = _synthetic(nonce_key, bound, data)
            sealed.append(TOKEN + base64.urlsafe_b64encode(prefix + nonce + aead.encrypt(nonce, data, bound)).decode())
        return sealed

    def open_text(self, value: str, owner: str, field: str) -> str:
        """A token's value; a plain value as it is."""
        return self.open(_blob(value, field), owner, field) if value.startswith(TOKEN) else value

    def open_texts(self, values: Iterable[str | None], owners: Iterable[str], field: str) -> list[str | None]:
        """``open_text`` over many values (a bank file's names and ID numbers): those under the
        sealing key opened inline, plain values and None as they are."""
        aead, prefix, start, tag = self._sealer, self.prefix, len(self.prefix) + NONCE, f"{field}\x1f"
        opened: list[str | None] = []
        for value, owner in zip(values, owners, strict=True):  # inline: a bank file opens two million
            if value is None or not value.startswith(TOKEN):
                opened.append(value)
                continue
            blob = _blob(value, field)
            try:
                opened.append(aead.decrypt(blob[start - NONCE:start], blob[start:], (tag + owner).encode()).decode()
                              if blob.startswith(prefix) else self.open_text(value, owner, field))
            except InvalidTag:
                opened.append(self.open_text(value, owner, field))
        return opened

    def open_columns(self, columns: Mapping[str, list[str | None]], owners: list[str],
                     indexes: dict | None = None) -> dict[str, list[str | None]]:
        """``open_texts`` over a frame's personal columns (a bank file's names and ID numbers), a
        student at a time: the students' data keys looked up together (``indexes``: the buckets'
        indexes kept across calls, ``DataKeys.keys_for``), a student's cipher made once for all
        their fields; fields under the ring's sealing key opened inline; plain values and None as
        they are."""
        names = list(columns)
        if any(len(columns[name]) != len(owners) for name in names):
            raise ValueError("open_columns: every column needs one value per owner")
        keys = self.students.keys_for(owners, indexes) if self.students is not None else [None] * len(owners)
        # left to Python: plain values, fields under the ring, what does not open (``open_text`` says why)
        return _natively("open_columns", self._open_rows, columns, owners, keys)

    def _open_rows(self, columns: Mapping[str, list[str | None]], owners: list[str],
                   keys: Sequence[bytes | None], rows: Sequence[int]) -> dict[str, list[str | None]]:
        """``open_columns`` in Python, of ``rows`` only (their values, in that order)."""
        names = list(columns)
        opened: dict[str, list[str | None]] = {name: [] for name in names}
        blobs = [_blobs([columns[name][row] for row in rows]) for name in names]  # None: no token or not base64
        aead, prefix, start = self._sealer, self.prefix, len(self.prefix) + NONCE
        for at, row in enumerate(rows):
            owner, key, student = owners[row], keys[row], None
            for name, column in zip(names, blobs):
                blob, value = column[at], columns[name][row]
                if blob is None:
                    opened[name].append(self.open_text(value, owner, name) if value and value.startswith(TOKEN)
                                        else value)
                    continue
                bound = f"{name}\x1f{owner}".encode()
                try:
                    if key is not None and blob[:1] == _STUDENT_PREFIX:
                        student = student or AESGCM(key)
                        opened[name].append(student.decrypt(blob[1:1 + NONCE], blob[1 + NONCE:], bound).decode())
                        continue
                    if blob.startswith(prefix):
                        opened[name].append(aead.decrypt(blob[start - NONCE:start], blob[start:], bound).decode())
                        continue
                except (InvalidTag, ValueError):  # a blob cut short, too: open_text says what is wrong
                    pass
                opened[name].append(self.open_text(value, owner, name))
        return opened

    def _current(self, blob: bytes, bound: str) -> str | None:
        """The value of a blob sealed under the sealing key; None for any other (or tampered)."""
        if not blob.startswith(self.prefix) or len(blob) < len(self.prefix) + NONCE + 16:
            return None  # cut short: ``open`` says so
        start = len(self.prefix)
        try:
            return self._sealer.decrypt(blob[start:start + NONCE], blob[start + NONCE:], bound.encode()).decode()
        except InvalidTag:
            return None

    def seal_student(self, student: dict, owner: str) -> dict:
        """A student's facts with their personal fields sealed."""
        return {**student, **{f: self.seal_text(student[f], owner, f) for f in PERSONAL if student.get(f) is not None}}

    def open_student(self, student: dict, owner: str) -> dict:
        """A student's facts with their personal fields opened."""
        return {**student, **{f: self.open_text(student[f], owner, f) for f in PERSONAL if student.get(f) is not None}}

    def shown_student(self, student: dict, owner: str) -> dict:
        """``open_student`` for a screen: a shredded student's fields show as ``SHREDDED``."""
        return {**student, **{f: self.shown(student[f], owner, f) for f in PERSONAL if student.get(f) is not None}}

    def open(self, blob: bytes, owner: str, field: str) -> str:
        return self.open_bytes(blob, owner, field).decode()

    def open_bytes(self, blob: bytes, owner: str, field: str) -> bytes:
        """``open`` for bytes sealed by ``seal_bytes`` (or under the student's data key)."""
        if blob[:1] == _STUDENT_PREFIX and len(blob) >= 1 + NONCE + 16:
            return self._open_student(blob, owner, field)
        key_id, body = _parts(blob)
        if key_id is not None and (aead := self._ring.get(key_id)) is not None:
            try:
                return aead.decrypt(body[:NONCE], body[NONCE:], _bound(owner, field))
            except InvalidTag:
                pass
        if (legacy := self._open_legacy(blob, owner)) is not None:
            return legacy
        if key_id is not None and key_id not in self._ring:
            raise SealedFieldError(f"{field}: sealed under key {key_id}, which the ring no longer holds")
        raise SealedFieldError(f"{field}: does not open (tampered, or bound to another student or field)")

    def _open_legacy(self, blob: bytes, owner: str) -> bytes | None:
        """A value sealed before key ids (nonce ‖ ciphertext, bound to the owner alone); None when it is not one."""
        if self._legacy is None:
            return None
        try:
            return self._legacy.decrypt(blob[:NONCE], blob[NONCE:], owner.encode())
        except InvalidTag:
            return None

    def _open_student(self, blob: bytes, owner: str, field: str) -> bytes:
        student = self._student(owner)
        if student is not None:
            try:
                return student.open(blob, _bound(owner, field))
            except InvalidTag:
                pass
        if (legacy := self._open_legacy(blob, owner)) is not None:
            return legacy
        if student is None:
            raise ShreddedFieldError(f"{field}: sealed under the student's own data key, which is not known here "
                                     "(shredded, or not received yet)")
        raise SealedFieldError(f"{field}: does not open (tampered, or bound to another student or field)")

    def shown(self, value: str, owner: str, field: str) -> str:
        """``open_text`` for a screen: a shredded student's field shows as ``SHREDDED``."""
        try:
            return self.open_text(value, owner, field)
        except ShreddedFieldError:
            return SHREDDED

    def open_all(self, blobs: Iterable[bytes], owners: Iterable[str], field: str) -> list[str]:
        """``open`` over many values (a bank file's million cards): those under the sealing key
        opened inline, any other through ``open``."""
        tag, blobs, owners = f"{field}\x1f", list(blobs), list(owners)
        if len(blobs) != len(owners):
            raise ValueError("open_all: one value per owner")
        opened: list = [None] * len(blobs)
        left: Iterable[int] = range(len(blobs))
        if native is not None:  # without the GIL; what it leaves (another key, tampered) is opened below
            try:
                opened, left = native.open_under(self._sealing_key, self.prefix, tag.encode(), owners, blobs)
            except UNREADABLE:
                pass
        for row in left:
            found = self._current(blobs[row], tag + owners[row])
            opened[row] = found if found is not None else self.open(blobs[row], owners[row], field)
        return opened

    def is_current(self, blob: bytes) -> bool:
        """Sealed under the ring's sealing key, or under a student's data key (nothing for ``rekey``
        to do: the data keys' buckets are re-sealed instead). With a legacy key, a blob that only
        looks like a student's (a legacy nonce's first byte) is opened and re-sealed."""
        return blob.startswith(self.prefix) or (blob[:1] == _STUDENT_PREFIX and self._legacy is None)

    def reseal(self, blob: bytes, owner: str, field: str) -> bytes:
        """The same value sealed under the sealing key (as it is when it is already)."""
        return blob if self.is_current(blob) else self.seal(self.open(blob, owner, field), owner, field)


def _natively(function: str, python, columns: Mapping[str, list[str | None]], owners: list[str],
              keys: Sequence[bytes | None]) -> dict[str, list[str | None]]:
    """The native sealer's ``function`` over the columns, the rows it leaves done by ``python``
    (``_seal_rows`` / ``_open_rows``); all by ``python`` without the native sealer, or when it
    cannot read an argument (the Python path then takes it, or says what is wrong)."""
    names, every = list(columns), range(len(owners))
    if native is None:
        return python(columns, owners, keys, every)
    try:
        done, left = getattr(native, function)(list(keys), owners, [f"{name}\x1f".encode() for name in names],
                                                [columns[name] for name in names])
    except UNREADABLE:
        return python(columns, owners, keys, every)
    result = dict(zip(names, done, strict=True))
    if left:
        for name, values in python(columns, owners, keys, left).items():
            for row, value in zip(left, values, strict=True):
                result[name][row] = value
    return result


_URLSAFE = bytes.maketrans(b"-_", b"+/")
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_STUDENT_PREFIX = bytes([STUDENT])


def _nonce_key_of(data_key: bytes) -> bytes:
    """The key of a student's deterministic nonces, derived from their data key."""
    return blake2b(data_key, digest_size=32, person=b"aid-dk-nonce").digest()


def _student_token(aead: AESGCM, nonce_key: bytes, bound: bytes, data: bytes) -> str:
    """``StudentCipher.token`` from its parts (``seal_columns`` seals 1.2 million in a round:
    ``binascii`` straight, as ``urlsafe_b64encode`` gives, with fewer calls)."""
    sealed = _student_blob(aead, nonce_key, bound, data)
    return TOKEN + binascii.b2a_base64(sealed, newline=False).translate(_TO_URLSAFE).decode()


def _student_blob(aead: AESGCM, nonce_key: bytes, bound: bytes, data: bytes) -> bytes:
    """``0xA2 ‖ nonce ‖ ciphertext+tag`` under a student's data key (``StudentCipher.seal``)."""
    nonce = _synthetic(nonce_key, bound, data)
    return _STUDENT_PREFIX + nonce + aead.encrypt(nonce, data, bound)


def _blobs(values: list[str | None]) -> list[bytes | None]:
    """``_blob`` of each token in a column; None for a value that is no token or no base64."""
    found: list[bytes | None] = []
    for value in values:
        try:
            found.append(_blob(value, "") if value and value.startswith(TOKEN) else None)
        except SealedFieldError:
            found.append(None)
    return found


def _blob(token: str, field: str) -> bytes:
    """A text token's bytes (base64url; binascii straight: a third faster than ``urlsafe_b64decode``)."""
    try:
        return binascii.a2b_base64(token[len(TOKEN):].encode().translate(_URLSAFE))
    except (ValueError, UnicodeEncodeError):
        raise SealedFieldError(f"{field}: not a sealed field") from None


def _synthetic(key: bytes, bound: bytes, data: bytes) -> bytes:
    """A deterministic nonce: keyed BLAKE2b of owner, field and value (the same only for the same
    three; the bound part's length first, so no split of the bytes is ambiguous)."""
    return blake2b(len(bound).to_bytes(4, "big") + bound + data, key=key, digest_size=NONCE).digest()


def _bound(owner: str, field: str) -> bytes:
    return f"{field}\x1f{owner}".encode()


def _parts(blob: bytes) -> tuple[str | None, bytes]:
    """(key id, nonce ‖ ciphertext) of a sealed field; (None, blob) for a legacy one."""
    if len(blob) < 2 or blob[0] != VERSION or len(blob) < 2 + blob[1] + NONCE + 16:
        return None, blob
    key_id = blob[2:2 + blob[1]]
    try:
        return key_id.decode("ascii"), blob[2 + blob[1]:]
    except UnicodeDecodeError:
        return None, blob
