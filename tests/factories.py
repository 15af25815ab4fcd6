"""Events for tests, built from the contracts with sensible defaults."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from aid_chassis.fields import FieldCipher
from aid_contracts import (
    AuditRecorded,
    CheckProgressed,
    DeadlineSet,
    Envelope,
    InstitutionChanged,
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
from aid_contracts.events import Category, CategoryEntry, Stage, StudentFacts, VerificationStatus
from aid_contracts.keys import check_digit

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
FIELD_KEYS = "1=" + "dGVzdC1maWVsZC1rZXktb2YtdGhpcnR5LXR3by1ieXQ"  # tests' ring: 32 bytes, base64url
FIELDS = FieldCipher.from_text(FIELD_KEYS)  # what the services seal students' ID numbers and names with in tests


def id_number(seq: int, region: str = "520102") -> str:
    body = f"{region}20140101{seq:03d}"
    return body + check_digit(body)


def student(seq: int = 1, *, school: str = "5201020001", stage: Stage = Stage.PRIMARY, region: str = "520102",
            household: str | None = None, name: str = "张小三") -> StudentFacts:
    return StudentFacts(id_number=id_number(seq, household or region), name=name, school_code=school, stage=stage,
                        enrolment_region=region, household_region=household or region)


def key(seq: int = 1) -> str:
    return f"key-{seq:04d}"


def matched(seq: int = 1, *, revision: int = 1, categories: tuple[Category, ...] = (Category.ORPHAN,),
            **facts) -> Envelope:
    event = StudentMatched(match_id=f"M{seq}", revision=revision, student=student(seq, **facts),
                           categories=[CategoryEntry(category=c, department="civil_affairs") for c in categories],
                           name_mismatch=False, batch_id="B1", matched_at=NOW)
    return Envelope.wrap(event, source="test", key=key(seq))


def withdrawn(seq: int = 1, *, revision: int = 2) -> Envelope:
    event = StudentMatchWithdrawn(match_id=f"M{seq}", revision=revision, school_code="5201020001", reason="gone",
                                  batch_id="B2", withdrawn_at=NOW)
    return Envelope.wrap(event, source="test", key=key(seq))


def verified(seq: int = 1, *, status: VerificationStatus = VerificationStatus.VERIFIED_UNCHANGED,
             at: datetime = NOW, categories: tuple[Category, ...] = (Category.ORPHAN,), revision: int = 1,
             origin: str = "matched", **facts) -> Envelope:
    event = Verified(task_id=f"T{seq}", match_id=f"M{seq}", match_revision=revision, status=status, origin=origin,
                     invalid_reason="not_at_school" if status is VerificationStatus.INVALID else None,
                     student=student(seq, **facts), verified_by="school-user", verified_at=at,
                     categories=[CategoryEntry(category=c, department="civil_affairs") for c in categories])
    return Envelope.wrap(event, source="test", key=key(seq))


def published(seq: int = 1, *, final: bool, list_id: str = "L1", amount_fen: int = 50_000) -> Envelope:
    event = Published(list_id=list_id, programme_code="compulsory_living_subsidy_primary", programme_name="生活补助",
                      period="2026-autumn", amount_fen=amount_fen, student=student(seq), published_at=NOW,
                      notice_ends_at=NOW + timedelta(days=7), final=final)
    return Envelope.wrap(event, source="test", key=key(seq))


def publication_withdrawn(seq: int = 1, *, list_id: str = "L1", amount_fen: int = 50_000) -> Envelope:
    event = PublicationWithdrawn(list_id=list_id, programme_code="compulsory_living_subsidy_primary",
                                 programme_name="生活补助", period="2026-autumn", amount_fen=amount_fen,
                                 reason_code="objection_upheld", reason="经调查家庭收入超标", withdrawn_at=NOW)
    return Envelope.wrap(event, source="test", key=key(seq))


def paid(seq: int = 1, *, list_id: str = "L1", amount_fen: int = 50_000) -> Envelope:
    event = Paid(payment_id=f"P{uuid.uuid4().hex[:8]}", list_id=list_id, programme_code="compulsory_living_subsidy_primary",
                 programme_name="生活补助", period="2026-autumn", amount_fen=amount_fen, student=student(seq),
                 bank_reference="SIM1", paid_on=NOW.date(), paid_at=NOW)
    return Envelope.wrap(event, source="test", key=key(seq))


def payment_failed(seq: int = 1, *, list_id: str = "L1", amount_fen: int = 50_000) -> Envelope:
    event = PaymentFailed(payment_id=f"P{uuid.uuid4().hex[:8]}", list_id=list_id,
                          programme_code="compulsory_living_subsidy_primary", programme_name="生活补助",
                          period="2026-autumn", amount_fen=amount_fen, student=student(seq), bank_code="E01",
                          failed_on=NOW.date(), failed_at=NOW)
    return Envelope.wrap(event, source="test", key=key(seq))


def unfunded_reason(seq: int = 1, *, reason: str = "family_declined", period: str = "2026-autumn",
                    at: datetime = NOW) -> Envelope:
    event = UnfundedReasonReported(task_id=f"T{seq}", period=period, reason=reason, school_code="5201020001",
                                   reported_by="school-user", reported_at=at)
    return Envelope.wrap(event, source="test", key=key(seq))


def task(seq: int = 1, *, sequence: int, status: str = "pending", audit_state: str = "unsubmitted", open_: bool = True,
         batch: str | None = "B1", school: str = "5201020001", region: str = "520102", household: str | None = None,
         categories: tuple[Category, ...] = (Category.ORPHAN,), task_id: str | None = None) -> Envelope:
    event = TaskProgressed(task_id=task_id or f"T{seq}", sequence=sequence, origin="matched", school_code=school,
                           stage=Stage.PRIMARY, enrolment_region=region, household_region=household or region,
                           categories=list(categories), batch_id=batch, status=status, audit_state=audit_state,
                           open=open_, changed_at=NOW)
    return Envelope.wrap(event, source="test", key=key(seq))


def deadline(batch: str = "B1", *, due: date, kind: str = "verification", at: datetime = NOW) -> Envelope:
    return Envelope.wrap(DeadlineSet(kind=kind, batch=batch, due=due, set_at=at), source="test", key=f"{kind}/{batch}")


def check(check_id: str = "C1", *, sequence: int, items: int, answers: dict[str, int] | None = None,
          school: str = "5201020001", county: str = "520102") -> Envelope:
    event = CheckProgressed(check_id=check_id, title="2026年异常数据核查", school_code=school, county=county, items=items,
                            answers=answers or {}, sequence=sequence, changed_at=NOW)
    return Envelope.wrap(event, source="test", key=f"{check_id}/{school}")


def audit(entry_id: int, *, actor: str, role: str | None, institution: str | None, action: str = "answered",
          entity: str = "task", entity_id: str = "T1", service: str = "verification", at: datetime = NOW) -> Envelope:
    event = AuditRecorded(service=service, entry_id=entry_id, entity=entity, entity_id=entity_id, action=action,
                          actor=actor, role=role, institution=institution, detail={"status": "invalid"}, at=at,
                          trace_id=None, prev_hash="0" * 64, hash=f"{entry_id:064x}")
    return Envelope.wrap(event, source=service, key=service)


def institution(code: str = "5201020001", *, name: str, stage: Stage = Stage.PRIMARY, county: str = "520102",
                active: bool = True, at: datetime = NOW) -> Envelope:
    event = InstitutionChanged(code=code, stage=stage, name=name, county=county, source="roster", active=active,
                               changed_at=at)
    return Envelope.wrap(event, source="identity-matching", key=code)


def sealed(envelope: Envelope, key: str | None = None) -> Envelope:
    """The event under ``key`` (its own by default), the student's ID number and name sealed for
    that key as identity-matching sends them (``aid_chassis.fields``)."""
    from aid_contracts import EVENT_TYPES

    event, key = envelope.parse(EVENT_TYPES[envelope.type]), key or envelope.partitionkey
    if getattr(event, "student", None) is not None:
        event = event.model_copy(update={"student": StudentFacts(**FIELDS.seal_student(event.student.model_dump(), key))})
    return Envelope.wrap(event, source=envelope.source, key=key)
