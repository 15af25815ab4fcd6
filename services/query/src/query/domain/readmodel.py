"""query's own view of the event streams: the timeline line each event adds, on top of the shared
per-student fold (``aid_contracts.lifecycle``)."""

from __future__ import annotations

from aid_contracts import lifecycle
from aid_contracts.envelope import Envelope
from aid_contracts.events import (
    Paid,
    PaymentFailed,
    PublicationWithdrawn,
    Published,
    StudentMatched,
    StudentMatchWithdrawn,
    UnfundedReasonReported,
    Verified,
)
from aid_contracts.lifecycle import AID_TYPES, REASON_TYPES, STUDENT_TYPES, TYPES, Row, parse

__all__ = ["AID_TYPES", "REASON_TYPES", "STUDENT_TYPES", "TYPES", "fold", "parse", "timeline_entry"]


def timeline_entry(env: Envelope, event) -> Row:
    """One line of the student's timeline (no ID number, no card: names and codes only)."""
    summary: Row
    if isinstance(event, StudentMatched):
        found = lifecycle.categories_of(event.categories)
        summary = {"categories": found["categories"], "departments": found["departments"],
                   "school_code": event.student.school_code, "revision": event.revision, "change": event.change,
                   "name_mismatch": event.name_mismatch}
    elif isinstance(event, StudentMatchWithdrawn):
        summary = {"reason": event.reason, "revision": event.revision}
    elif isinstance(event, Verified):
        summary = {"status": event.status.value, "verified_by": event.verified_by, "origin": event.origin,
                   "invalid_reason": event.invalid_reason, "corrected": sorted(event.corrections),
                   "approved_by": event.approved_by, "school_code": event.student.school_code}
    elif isinstance(event, Published):
        summary = {"list_id": event.list_id, "programme": event.programme_name, "period": event.period,
                   "amount_fen": event.amount_fen, "final": event.final,
                   "notice_ends_at": event.notice_ends_at.isoformat()}
    elif isinstance(event, Paid):
        summary = {"list_id": event.list_id, "programme": event.programme_name, "period": event.period,
                   "amount_fen": event.amount_fen, "paid_on": event.paid_on.isoformat()}
    elif isinstance(event, PublicationWithdrawn):
        summary = {"list_id": event.list_id, "programme": event.programme_name, "period": event.period,
                   "amount_fen": event.amount_fen, "reason_code": event.reason_code, "reason": event.reason}
    elif isinstance(event, UnfundedReasonReported):
        summary = {"period": event.period, "reason": event.reason, "reported_by": event.reported_by}
    else:
        assert isinstance(event, PaymentFailed), event
        summary = {"list_id": event.list_id, "programme": event.programme_name, "period": event.period,
                   "amount_fen": event.amount_fen, "failure_code": event.bank_code,
                   "failed_on": event.failed_on.isoformat()}
    return {"event_id": env.id, "student_key": env.partitionkey, "event_type": env.type, "occurred_at": env.time,
            "summary": summary}



def fold(envelopes: list[Envelope], students: dict[str, Row], aid: dict[tuple[str, str], Row],
         reasons: dict[tuple[str, str], Row]) -> tuple[set[str], set[tuple[str, str]], set[tuple[str, str]], list[Row]]:
    """The shared fold, plus the timeline entries of the events."""
    entries: list[Row] = []
    changed = lifecycle.fold(envelopes, students, aid, reasons,
                             each=lambda env, event: entries.append(timeline_entry(env, event)))
    return (*changed, entries)
