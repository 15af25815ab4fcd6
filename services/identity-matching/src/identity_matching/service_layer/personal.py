"""Personal values identity-matching keeps beside its snapshots, sealed at rest.

Rejected rows' raw values, review candidates' ID numbers and names, and the corrections a
reviewer accepted are ``aid_chassis.fields`` tokens bound to their import row (``<batch>/<row>``)
or department, opened only where they are shown or used, and so are a pushed batch's records
waiting for its close (bound to ``feed:<batch>/<row>``). Values stored plain before sealing began
open as they are. (The roster, the lists and the matches' text are sealed snapshots:
``snapshots``, ``amended``.)
"""

from __future__ import annotations

import json

from aid_chassis.fields import TOKEN, FieldCipher

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


SEALED_RECORD = "_sealed"  # a pushed record's fields as stored: {SEALED_RECORD: token of their JSON}


def seal_record(fields: dict, batch_id: str, row: int, cipher: FieldCipher) -> dict:
    """A pushed record's fields as staged: their JSON sealed to the batch's row."""
    return {SEALED_RECORD: cipher.seal_text(json.dumps(fields, ensure_ascii=False), f"feed:{batch_id}/{row}", "record")}


def open_record(stored: dict, batch_id: str, row: int, cipher: FieldCipher) -> dict:
    """A staged record's fields (as they are when staged before sealing began)."""
    if set(stored) != {SEALED_RECORD} or not str(stored[SEALED_RECORD]).startswith(TOKEN):
        return stored
    return json.loads(cipher.open_text(stored[SEALED_RECORD], f"feed:{batch_id}/{row}", "record"))
