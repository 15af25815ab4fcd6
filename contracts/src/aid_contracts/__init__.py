"""Event contracts shared by every service: the envelope, v1 event models and topics."""

from aid_contracts.envelope import Envelope
from aid_contracts.events import (
    EVENT_TYPES,
    AuditRecorded,
    CheckProgressed,
    DeadlineSet,
    DepartmentRecord,
    InstitutionChanged,
    ListImported,
    Paid,
    PaymentFailed,
    PublicationWithdrawn,
    Published,
    StudentMatched,
    StudentMatchWithdrawn,
    TaskProgressed,
    UnfundedReasonReported,
    Verified,
)
from aid_contracts import lifecycle
from aid_contracts.keys import normalise_id_number, student_key
from aid_contracts.topics import Topic

__all__ = [
    "EVENT_TYPES",
    "AuditRecorded",
    "CheckProgressed",
    "DeadlineSet",
    "DepartmentRecord",
    "Envelope",
    "InstitutionChanged",
    "ListImported",
    "Paid",
    "PaymentFailed",
    "PublicationWithdrawn",
    "Published",
    "StudentMatchWithdrawn",
    "StudentMatched",
    "TaskProgressed",
    "Topic",
    "UnfundedReasonReported",
    "lifecycle",
    "Verified",
    "normalise_id_number",
    "student_key",
]
