"""query's own view of the event streams: the timeline line each event adds, on top of the shared
per-student fold (``aid_contracts.lifecycle``)."""

from __future__ import annotations

from datetime import datetime

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

__all__ = ["AID_TYPES", "REASON_TYPES", "STUDENT_TYPES", "TYPES", "fold", "lines", "parse", "timeline_entry"]


def timeline_entry(env: Envelope, event) -> Row:
    """One line of the student's timeline (no ID number, no card: names and codes only); ``event``
    is the model or its view (``lifecycle.parse``)."""
    summary: Row
    kind = event.EVENT_TYPE
    if kind == StudentMatched.EVENT_TYPE:
        found = lifecycle.categories_of(event.categories)
        summary = {"categories": found["categories"], "departments": found["departments"],
                   "school_code": event.student.school_code, "revision": event.revision, "change": event.change,
                   "name_mismatch": event.name_mismatch}
    elif kind == StudentMatchWithdrawn.EVENT_TYPE:
        summary = {"reason": event.reason, "revision": event.revision}
    elif kind == Verified.EVENT_TYPE:
        summary = {"status": event.status.value, "verified_by": event.verified_by, "origin": event.origin,
                   "invalid_reason": event.invalid_reason, "corrected": sorted(event.corrections),
                   "approved_by": event.approved_by, "school_code": event.student.school_code}
    elif kind == Published.EVENT_TYPE:
        summary = {"list_id": event.list_id, "programme": event.programme_name, "period": event.period,
                   "amount_fen": event.amount_fen, "final": event.final,
                   "notice_ends_at": event.notice_ends_at.isoformat()}
    elif kind == Paid.EVENT_TYPE:
        summary = {"list_id": event.list_id, "programme": event.programme_name, "period": event.period,
                   "amount_fen": event.amount_fen, "paid_on": event.paid_on.isoformat()}
    elif kind == PublicationWithdrawn.EVENT_TYPE:
        summary = {"list_id": event.list_id, "programme": event.programme_name, "period": event.period,
                   "amount_fen": event.amount_fen, "reason_code": event.reason_code, "reason": event.reason}
    elif kind == UnfundedReasonReported.EVENT_TYPE:
        summary = {"period": event.period, "reason": event.reason, "reported_by": event.reported_by}
    else:
        assert kind == PaymentFailed.EVENT_TYPE, kind
        summary = {"list_id": event.list_id, "programme": event.programme_name, "period": event.period,
                   "amount_fen": event.amount_fen, "failure_code": event.bank_code,
                   "failed_on": event.failed_on.isoformat()}
    return {"event_id": env.id, "student_key": env.partitionkey, "event_type": env.type, "occurred_at": env.time,
            "summary": summary}



def fold(envelopes: list[Envelope], students: dict[str, Row], aid: dict[tuple[str, str], Row],
         reasons: dict[tuple[str, str], Row]) -> tuple[set[str], set[tuple[str, str]], set[tuple[str, str]], list[Row]]:
    """The shared fold, plus the timeline lines of the events: the line of the event that makes a
    student's row goes into the row (``first_line``), every other line into the returned entries.
    ``students`` holds every stored row of the batch's students (a key it lacks has no row yet)."""
    entries: list[Row] = []
    stored = set(students)

    def each(env: Envelope, event) -> None:
        line = timeline_entry(env, event)
        row = students.get(env.partitionkey) if env.type in STUDENT_TYPES else None
        if row is not None:
            first = row.get("first_line")
            if first is None and env.partitionkey not in stored:  # this event made the row
                row["first_line"] = {k: v for k, v in line.items() if k != "student_key"}
                return
            if first is not None and first["event_id"] == env.id:  # that event again (published twice)
                return
        entries.append(line)

    changed = lifecycle.fold(envelopes, students, aid, reasons, each=each)
    return (*changed, entries)


def lines(first: Row | None, rest) -> list[Row]:
    """A student's timeline in time order: the line kept in the student's row (of the event that made the
    row, not always the earliest; its time kept as JSON text) merged with the ``timeline`` table's lines."""
    out = [{"type": e.event_type, "at": e.occurred_at, "event_id": e.event_id, **e.summary} for e in rest]
    if first is not None and all(line["event_id"] != first["event_id"] for line in out):
        out.append({"type": first["event_type"], "at": datetime.fromisoformat(first["occurred_at"]),
                    "event_id": first["event_id"], **first["summary"]})
    out.sort(key=lambda line: (line["at"], line["event_id"]))
    return [{k: v for k, v in line.items() if k != "event_id"} for line in out]
