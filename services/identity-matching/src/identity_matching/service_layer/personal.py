"""Personal values identity-matching keeps beside its snapshots, sealed at rest.

Rejected rows' raw values, review candidates' ID numbers and names, and the corrections a
reviewer accepted are ``aid_chassis.fields`` tokens bound to their import row (``<batch>/<row>``)
or department, opened only where they are shown or used. Values stored plain before sealing
began open as they are. (The roster's and the lists' own columns are still plain: see
``docs/architecture.md``, the sealed vault proposal.)
"""

from __future__ import annotations

from aid_chassis.fields import FieldCipher

RAW = "raw"  # the field name a rejected row's raw value is sealed under


def row_owner(batch_id: str, row: int) -> str:
    return f"{batch_id}/{row}"


def seal_rejections(rejections: list[dict], batch_id: str, cipher: FieldCipher) -> list[dict]:
    """Rejections as stored: each raw value sealed to its row."""
    return [{**r, RAW: cipher.seal_text(r[RAW], row_owner(batch_id, r["row"]), RAW)} if r.get(RAW) else r
            for r in rejections]


def open_rejections(rejections: list[dict], batch_id: str, cipher: FieldCipher) -> list[dict]:
    """Stored rejections with their raw values opened (for the department to correct)."""
    return [{**r, RAW: cipher.open_text(r[RAW], row_owner(batch_id, r["row"]), RAW)} if r.get(RAW) else r
            for r in rejections]


def seal(values: dict[str, str], owner: str, cipher: FieldCipher) -> dict[str, str]:
    """``values`` (field → value) sealed to ``owner``, each under its field's name."""
    return {field: cipher.seal_text(value, owner, field) for field, value in values.items()}


def opened(values: dict[str, str], owner: str, cipher: FieldCipher) -> dict[str, str]:
    return {field: cipher.open_text(value, owner, field) for field, value in values.items()}
