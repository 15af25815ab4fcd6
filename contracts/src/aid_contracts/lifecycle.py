"""What the event streams mean for one student: pure folds over plain rows, no database.

Every consumer that keeps per-student state (query's read models, reporting's progress) folds
the same way, so their numbers agree. A student row follows the student's latest match and the
bureau-approved verification; an aid record follows one student on one aid list (published →
final → paid; a failed payment waits for its re-payment; or published → removed when an
objection is upheld or the student no longer qualifies at the notice's end); an unfunded reason is the latest a
school reported for a period. Each fold is idempotent in effect:
an older match revision or a backward move of an aid record leaves the row as it is, so a
replay from the beginning arrives at the same rows.
"""

from __future__ import annotations

from aid_contracts.envelope import Envelope
from aid_contracts.events import (
    Category,
    CategoryEntry,
    Paid,
    PaymentFailed,
    PublicationWithdrawn,
    Published,
    StudentMatched,
    StudentMatchWithdrawn,
    StudentFacts,
    UnfundedReasonReported,
    VerificationStatus,
    Verified,
)

Row = dict
STUDENT_TYPES = frozenset({StudentMatched.EVENT_TYPE, StudentMatchWithdrawn.EVENT_TYPE, Verified.EVENT_TYPE})
AID_TYPES = frozenset({Published.EVENT_TYPE, PublicationWithdrawn.EVENT_TYPE, Paid.EVENT_TYPE,
                       PaymentFailed.EVENT_TYPE})
REASON_TYPES = frozenset({UnfundedReasonReported.EVENT_TYPE})
TYPES = STUDENT_TYPES | AID_TYPES | REASON_TYPES
AID_RANK = {"published": 1, "final": 2, "removed": 2, "payment_failed": 3, "paid": 4}
# 公示中, 公示结束 or 已移出名单 (an entry is one or the other, never both), 发放失败, 已发放
VALID = (VerificationStatus.VERIFIED_UNCHANGED.value, VerificationStatus.VERIFIED_UPDATED.value)
_POOR = Category.REGISTERED_POOR
_MATCHED, _WITHDRAWN = StudentMatched.EVENT_TYPE, StudentMatchWithdrawn.EVENT_TYPE
_PUBLISHED, _PUBLICATION_WITHDRAWN, _PAID = Published.EVENT_TYPE, PublicationWithdrawn.EVENT_TYPE, Paid.EVENT_TYPE
MODELS = {m.EVENT_TYPE: m for m in (StudentMatched, StudentMatchWithdrawn, Verified, Published, PublicationWithdrawn,
                                     Paid, PaymentFailed, UnfundedReasonReported)}


def _facts(student: StudentFacts) -> Row:
    return {"name": student.name, "id_number": student.id_number, "school_code": student.school_code,
            "stage": student.stage.value, "enrolment_region": student.enrolment_region,
            "household_region": student.household_region}


def categories_of(entries: list[CategoryEntry]) -> Row:
    """The categories, departments and poverty status of a student's findings (plain strings).

    Read once or twice for every match a consumer folds: the members' ``_value_`` (an attribute)
    rather than ``.value`` (a descriptor call each), the registered-poor member looked up once; the
    findings of one department (most students') without sets and sorting. The last answer is kept
    for the same list (query reads a match's twice: its student row, its timeline line); treat the
    answer's lists as read-only."""
    global _LAST
    last = _LAST
    if last[0] is entries:
        return last[1]
    if len(entries) == 1:
        only = entries[0]
        status = only.poverty_status if only.category is _POOR else None
        found = {"categories": [only.category._value_], "departments": [only.department],
                 "poverty_status": None if status is None else status._value_}
    else:
        poor = next((e.poverty_status for e in entries if e.category is _POOR and e.poverty_status), None)
        found = {"categories": [c._value_ for c in sorted({e.category for e in entries})],  # StrEnum: by value
                 "departments": sorted({e.department for e in entries}),
                 "poverty_status": None if poor is None else poor._value_}
    _LAST = (entries, found)  # one assignment: a reader in another thread sees a whole pair
    return found


_LAST: tuple = (None, None)  # the entries ``categories_of`` read last (held: no other list can take its id) and its answer


def _later(row: Row | None, at):
    return max(row["updated_at"], at) if row is not None else at


def on_student(row: Row | None, key: str, event, at) -> Row | None:
    """The student row after one event of ``STUDENT_TYPES`` (None: there is still no row).

    Matches and withdrawals come in order (one topic, one partition per student), but a
    verification travels on another topic and may be read before the match it answers (a
    consumer catching up, a rebuild): the row remembers which match revision its verification
    answered (``verified_revision``), so the outcome does not depend on that order."""
    kind = event.EVENT_TYPE
    if kind == _MATCHED:
        if row is not None and row["match_revision"] >= event.revision:
            return row
        findings = {**categories_of(event.categories), "name_mismatch": event.name_mismatch,
                    "match_revision": event.revision, "matched": True, "updated_at": _later(row, at)}
        if row is not None and row["verified_revision"] >= event.revision:  # already answered: keep the answer
            return {**row, **findings}
        return {**(row or {"origin": "matched", "verified_by": None, "approved_by": None, "verified_at": None,
                           "verified_revision": 0}),
                "student_key": key, **_facts(event.student), **findings, "status": "matched"}
    if kind == _WITHDRAWN:
        if row is None or row["match_revision"] >= event.revision:
            return row
        return {**row, "matched": False, "status": "withdrawn", "match_revision": event.revision,
                "updated_at": _later(row, at)}
    return _on_verified(row, key, event, at)


def _on_verified(row: Row | None, key: str, event: Verified, at) -> Row | None:
    """A school's answer approved by its bureau; a supplementary record (补录) may create the row.

    One school's "not here" for a student another school holds, and the answer to a match that
    has since changed or been withdrawn, leave the row as it is."""
    answer = {"verified_by": event.verified_by, "approved_by": event.approved_by,
              "verified_at": event.approved_at or event.verified_at, "verified_revision": event.match_revision}
    if row is not None:
        other_school = event.status is VerificationStatus.INVALID and event.student.school_code != row["school_code"]
        if other_school or event.match_revision < row["verified_revision"]:
            return row
        if event.origin == "matched" and event.match_revision < row["match_revision"]:
            return {**row, **answer, "updated_at": _later(row, at)}  # kept; the status follows the newer match
    base = row or {"student_key": key, "match_revision": 0, "matched": False, "origin": event.origin,
                   "name_mismatch": False, **categories_of(event.categories)}
    # the departments' findings stay those of the match; a supplementary record has only the school's
    categories = categories_of(event.categories) if event.categories and base["origin"] != "matched" else {}
    return {**base, **_facts(event.student), **categories, "status": event.status.value, **answer,
            "updated_at": _later(row, at)}


def on_aid(row: Row | None, key: str, event) -> Row:
    """The aid record of (list, student) after one event of ``AID_TYPES``; its status only moves forward."""
    kind = event.EVENT_TYPE
    if kind == _PUBLISHED:
        status, values = ("final" if event.final else "published"), {"published_at": event.published_at}
    elif kind == _PUBLICATION_WITHDRAWN:
        status, values = "removed", {}
    elif kind == _PAID:
        status, values = "paid", {"paid_on": event.paid_on, "failure_code": None}
    else:
        status, values = "payment_failed", {"failure_code": event.bank_code}
    base = row or {"list_id": event.list_id, "student_key": key, "status": status, "published_at": None,
                   "paid_on": None, "failure_code": None}
    terms = {"programme_code": event.programme_code, "programme_name": event.programme_name,
             "period": event.period, "amount_fen": event.amount_fen}
    if row is not None and AID_RANK[row["status"]] >= AID_RANK[status]:
        return {**row, **({"published_at": values["published_at"]} if not row["published_at"]
                          and "published_at" in values else {})}
    return {**base, **terms, **values, "status": status,
            "published_at": base["published_at"] or values.get("published_at")}


def parse(env: Envelope):
    """The event inside an envelope as its model's read-only view (``Envelope.view``; raises
    pydantic.ValidationError when malformed). The folds take a view or the model alike: they read
    attributes and tell events apart by ``EVENT_TYPE``."""
    return env.view(MODELS[env.type])


def on_reason(row: Row | None, key: str, event: UnfundedReasonReported) -> Row:
    """The latest reason a school reported for a student and period."""
    if row is not None and row["reported_at"] >= event.reported_at:
        return row
    return {"student_key": key, "period": event.period, "reason": event.reason, "reported_at": event.reported_at}


def fold(envelopes: list[Envelope], students: dict[str, Row], aid: dict[tuple[str, str], Row],
         reasons: dict[tuple[str, str], Row], each=None) -> tuple[set[str], set[tuple[str, str]], set[tuple[str, str]]]:
    """Apply events in order to the rows they touch (changed in place); returns the keys of the
    changed students, aid records and reasons. ``each(envelope, event)`` sees every event."""
    changed_students: set[str] = set()
    changed_aid: set[tuple[str, str]] = set()
    changed_reasons: set[tuple[str, str]] = set()
    for env in envelopes:
        event, key = parse(env), env.partitionkey
        if env.type in REASON_TYPES:
            pair = (key, event.period)
            after = on_reason(reasons.get(pair), key, event)
            if after is not reasons.get(pair):
                reasons[pair] = after
                changed_reasons.add(pair)
        elif env.type in STUDENT_TYPES:
            before = students.get(key)
            after = on_student(before, key, event, env.time)
            if after is not before and after is not None:
                students[key] = after
                changed_students.add(key)
        else:
            pair = (event.list_id, key)
            before = aid.get(pair)
            after = on_aid(before, key, event)
            if after != before:
                aid[pair] = after
                changed_aid.add(pair)
        if each is not None:
            each(env, event)
    return changed_students, changed_aid, changed_reasons
