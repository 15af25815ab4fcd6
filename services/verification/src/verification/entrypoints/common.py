"""What every verification router shares: roles, refusals as HTTP errors, public views."""

from __future__ import annotations

from aid_chassis.auth import BUREAUS, Role, allow
from aid_chassis.errors import refusals as http_refusals
from aid_chassis.fields import PERSONAL, FieldCipher
from aid_chassis.masking import mask_id_number
from aid_chassis.uploads import UploadRefused
from verification.domain.proofs import ProofRefused
from verification.domain.tasks import VerificationRefused

SCHOOLS = allow(Role.SCHOOL)
AUDITORS = allow(*BUREAUS)
PROVINCE = allow(Role.PROVINCE_BUREAU)
READERS = allow(Role.SCHOOL, *BUREAUS, Role.OPERATOR)
SCHOOLS_AND_AUDITORS = allow(Role.SCHOOL, *BUREAUS)
CONFLICTS = frozenset({"duplicate_verified", "under_audit", "task_closed", "already_listed", "not_submittable",
             "not_submitted", "not_answered"})
PROOF_STATUS = {"proof_too_large": 413, "proof_not_jpeg": 415}


def refusals():
    """Refusals as precise HTTP errors: {code, message}; nothing was changed."""
    return http_refusals((ProofRefused, VerificationRefused, UploadRefused), conflicts=CONFLICTS, statuses=PROOF_STATUS)


def masked(student: dict, key: str, opener: FieldCipher) -> dict:
    """A student's facts as a school or bureau sees them: the name opened, the ID number masked."""
    opened = opener.shown_student(student, key)
    return {**opened, "id_number": mask_id_number(opened["id_number"])}


def task_view(row, opener: FieldCipher) -> dict:
    """A task as callers see it (the name and a corrected name opened, the ID number masked)."""
    def shown(field: str, value, masked_id: bool = False):
        if field not in PERSONAL or not isinstance(value, str):
            return value
        opened = opener.shown(value, row.student_key, field)
        return mask_id_number(opened) if masked_id and field == "id_number" else opened

    return {"task_id": row.task_id, "student_key": row.student_key, "origin": row.origin, "status": row.status,
            "open": row.open, "invalid_reason": row.invalid_reason, "invalid_text": row.invalid_text,
            "corrections": {k: {"old": shown(k, v["old"]), "new": shown(k, v["new"])}
                            for k, v in (row.corrections or {}).items()},
            "changes": {k: {"old": shown(k, v["old"], True), "new": shown(k, v["new"], True)} if isinstance(v, dict)
                        else v for k, v in (row.changes or {}).items()},
            "closed_reason": row.closed_reason,
            "student": masked(row.student, row.student_key, opener),
            "categories": row.categories, "review": row.review, "batch_id": row.batch_id,
            "match_revision": row.match_revision, "verified_by": row.verified_by, "audit_state": row.audit_state,
            "audit_reason": row.audit_reason, "audited_by": row.audited_by,
            "supplement": ({k: v for k, v in row.supplement.items()} if row.supplement else None)}
