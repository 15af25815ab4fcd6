"""The student's pseudonymous key: a keyed hash of the normalised national ID number.

Every event about a student is keyed by it, so one student's events land on one
partition in order, and the ID number itself never becomes a Kafka key.
"""

import hashlib
import hmac
from datetime import date

_FULL_WIDTH_OFFSET = 0xFEE0
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def check_digit(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits of a resident ID number."""
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def born_on(id_number: str, today: date) -> date | None:
    """The birth date of an 18-character ID number (its characters 7–14, YYYYMMDD); None when that
    date does not exist, is after ``today`` or before 1900."""
    try:
        born = date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None
    return born if date(1900, 1, 1) <= born <= today else None


def normalise_id_number(raw: str) -> str:
    """Trim, fold full-width digits/letters to half-width and upper-case the check letter."""
    folded = "".join(
        chr(ord(c) - _FULL_WIDTH_OFFSET) if "\uff01" <= c <= "\uff5e" else c for c in raw.strip()
    )
    return folded.replace(" ", "").upper()


def student_key(id_number: str, secret: bytes) -> str:
    """HMAC-SHA256 of the normalised ID number under the platform's pseudonym secret."""
    if not secret:
        raise ValueError("the pseudonym secret must not be empty")
    digest = hmac.new(secret, normalise_id_number(id_number).encode(), hashlib.sha256)
    return digest.hexdigest()


def keyer(secret: bytes, *, normalise: bool = True):
    """``student_key`` as a function with the HMAC pads computed once (for many keys or hot paths):
    ``keyer(secret)(raw)`` equals ``student_key(raw, secret)``."""
    if not secret:
        raise ValueError("the pseudonym secret must not be empty")
    block = hashlib.sha256().block_size
    key = hashlib.sha256(secret).digest() if len(secret) > block else secret
    key = key.ljust(block, b"\0")
    inner, outer = hashlib.sha256(bytes(b ^ 0x36 for b in key)), hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def one(raw: str) -> str:
        i = inner.copy()
        i.update((normalise_id_number(raw) if normalise else raw).encode())
        o = outer.copy()
        o.update(i.digest())
        return o.hexdigest()

    return one


def student_keys(id_numbers, secret: bytes) -> list[str]:
    """``student_key`` of many already-normalised numbers at once (the HMAC pads computed once)."""
    one = keyer(secret, normalise=False)
    return [one(n) for n in id_numbers]
