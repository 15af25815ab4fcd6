"""Version 1 of the platform's events.

Amounts are integers in fen (分) so no float ever touches money. Fields marked
``x-personal-data`` hold personal data: never log them.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from aid_contracts.topics import Topic


def personal(description: str) -> dict:
    """Field options for personal data (ID numbers, names, bank cards)."""
    return {"description": description, "json_schema_extra": {"x-personal-data": True}}


class Event(BaseModel):
    """Base of every event model: its wire type, topic and schema version."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    EVENT_TYPE: ClassVar[str]
    TOPIC: ClassVar[Topic]
    VERSION: ClassVar[int] = 1

    @classmethod
    def schema_name(cls) -> str:
        return f"{cls.EVENT_TYPE}.v{cls.VERSION}"

    @classmethod
    def schema_uri(cls) -> str:
        """The CloudEvents ``dataschema`` of this event."""
        return f"urn:aid:schema:{cls.schema_name()}"


class Category(StrEnum):
    """Special-difficulty categories (困难类别)."""

    REGISTERED_POOR = "registered_poor"  # 建档立卡
    MINIMUM_ALLOWANCE = "minimum_allowance"  # 低保
    EXTREME_POVERTY = "extreme_poverty"  # 特困
    ORPHAN = "orphan"  # 孤儿
    DISABLED = "disabled"  # 残疾
    NEEDY_WORKER_FAMILY = "needy_worker_family"  # 困难职工家庭


class PovertyStatus(StrEnum):
    NOT_OUT = "not_out"  # 未脱贫
    OUT = "out"  # 已脱贫
    BACK_IN = "back_in"  # 返贫


class Stage(StrEnum):
    """School stage (学段)."""

    PRESCHOOL = "preschool"
    PRIMARY = "primary"
    JUNIOR = "junior"
    SENIOR = "senior"
    VOCATIONAL = "vocational"
    HIGHER = "higher"


class VerificationStatus(StrEnum):
    VERIFIED_UNCHANGED = "verified_unchanged"  # 已核对未更新数据
    VERIFIED_UPDATED = "verified_updated"  # 已核对更新了部分数据
    INVALID = "invalid"  # 无效数据


class CategoryEntry(BaseModel):
    """One department's finding about a student's family."""

    model_config = ConfigDict(frozen=True)

    category: Category
    department: str
    poverty_status: PovertyStatus | None = None
    exit_year: int | None = None


class StudentFacts(BaseModel):
    """What the enrolment roster says about a student (学籍信息)."""

    model_config = ConfigDict(frozen=True)

    id_number: str = Field(**personal("18-character resident ID number (身份证号)"))
    name: str = Field(**personal("name as enrolled (姓名)"))
    school_code: str
    stage: Stage
    enrolment_region: str = Field(pattern=r"^\d{6}$", description="学籍所在地, county code")
    household_region: str = Field(pattern=r"^\d{6}$", description="户籍所在地, county code")


class ListImported(Event):
    """A department list or the enrolment roster finished importing (名单导入完成)."""

    EVENT_TYPE = "list-imported"
    TOPIC = Topic.LIST_IMPORTED

    batch_id: str
    list_kind: str = Field(description="roster or department")
    department: str | None = None
    read: int = Field(ge=0)
    accepted: int = Field(ge=0)
    rejected: int = Field(ge=0)
    imported_at: datetime


class DepartmentRecord(Event):
    """One row of a department's list pushed on Kafka (部门数据推送), as the department wrote it.

    Keyed by the batch id; the batch is closed by a ``list-imported`` from the department
    whose ``read`` is the number of records sent. The fields use the list's column names
    (English or Chinese) and are validated like an uploaded file's rows.
    """

    EVENT_TYPE = "department-record"
    TOPIC = Topic.DEPARTMENT_RECORDS

    batch_id: str
    department: str
    row: int = Field(ge=1, description="position in the batch, from 1")
    fields: dict[str, str] = Field(json_schema_extra={"x-personal-data": True})


class StudentMatched(Event):
    """A student in the roster matches one or more department lists (比对结果)."""

    EVENT_TYPE = "student-matched"
    TOPIC = Topic.STUDENT_MATCHED

    match_id: str
    revision: int = Field(ge=1, description="increases with every change of this match")
    student: StudentFacts
    categories: list[CategoryEntry] = Field(min_length=1)
    name_mismatch: bool = Field(description="a department spelled the name differently")
    batch_id: str
    matched_at: datetime
    change: str = Field(default="new", description="new or changed (re-comparison)")
    review: list[str] = Field(default_factory=list, description="flags for review, e.g. repeated_student")
    other_school_codes: list[str] = Field(default_factory=list, description="other schools enrolling the same ID")
    source_batches: list[str] = Field(default_factory=list, description="the department import batches behind it")


class StudentMatchWithdrawn(Event):
    """A match disappeared on re-comparison (比对结果撤销); same topic as the match."""

    EVENT_TYPE = "student-match-withdrawn"
    TOPIC = Topic.STUDENT_MATCHED

    match_id: str
    revision: int = Field(ge=1)
    school_code: str
    reason: str
    batch_id: str
    withdrawn_at: datetime


class Verified(Event):
    """A school's verification of a student, approved by its bureau (学校核对, 审核通过).

    ``student`` carries the corrected enrolment facts; an invalid record marked as a duplicate
    is not emitted (the student's valid record is another task's).
    """

    EVENT_TYPE = "verified"
    TOPIC = Topic.VERIFIED

    task_id: str
    match_id: str
    match_revision: int = Field(ge=1)
    status: VerificationStatus
    invalid_reason: str | None = None
    student: StudentFacts
    categories: list[CategoryEntry]
    verified_by: str = Field(description="the school account that verified")
    verified_at: datetime
    origin: str = Field(default="matched", description="matched (比对下发) or supplementary (学校补录)")
    corrections: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="enrolment fields the school corrected: field -> {old, new}",
        json_schema_extra={"x-personal-data": True})
    invalid_text: str | None = Field(default=None, description="the school's explanation of an invalid record")
    approved_by: str | None = Field(default=None, description="the bureau account that approved it (审核通过)")
    approved_at: datetime | None = None


class _ListEntry(Event):
    """What every event of a student's entry on an aid list says: the list, programme, period, amount."""

    list_id: str
    programme_code: str
    programme_name: str
    period: str = Field(description="e.g. 2026-autumn or 2026-11")
    amount_fen: int = Field(gt=0, description="amount in fen (分)")


class Published(_ListEntry):
    """A student's entry on an aid list under public notice (公示), or final after it."""

    EVENT_TYPE = "published"
    TOPIC = Topic.PUBLISHED

    student: StudentFacts
    published_at: datetime
    notice_ends_at: datetime
    final: bool = Field(description="the notice window closed with no upheld objection")


class PublicationWithdrawn(_ListEntry):
    """A student's entry taken off an aid list under notice before it became final (移出名单): an
    objection upheld (异议成立), or no longer eligible when the notice closed. It is never paid."""

    EVENT_TYPE = "publication-withdrawn"
    TOPIC = Topic.PUBLISHED

    reason_code: Literal["objection_upheld", "ineligible"]
    reason: str = Field(description="the bureau's reason for upholding, or the rule no longer met")
    withdrawn_at: datetime


class _Payment(Event):
    """What every payment event says: the payment, the programme and period, the amount, the student."""

    payment_id: str
    list_id: str
    programme_code: str
    programme_name: str
    period: str
    amount_fen: int = Field(gt=0)
    student: StudentFacts


class Paid(_Payment):
    """Money reached the student's card (资金发放到卡)."""

    EVENT_TYPE = "paid"
    TOPIC = Topic.PAID

    bank_reference: str
    paid_on: date
    paid_at: datetime


class PaymentFailed(_Payment):
    """The bank could not pay a student (发放失败); same topic as ``paid``. The payment is paid
    in a later batch once the card is corrected."""

    EVENT_TYPE = "payment-failed"
    TOPIC = Topic.PAID

    bank_code: str = Field(description="the bank's failure code")
    failed_on: date
    failed_at: datetime


class UnfundedReasonReported(Event):
    """A school's reason why a registered-poor student was not funded in a period (未资助原因上报)."""

    EVENT_TYPE = "unfunded-reason-reported"
    TOPIC = Topic.UNFUNDED_REASONS

    task_id: str
    period: str
    reason: str = Field(description="not_enrolled_anymore, funded_elsewhere, family_declined, "
                                    "not_eligible_stage or other")
    school_code: str
    reported_by: str
    reported_at: datetime


class TaskProgressed(Event):
    """A verification task's state after any change (核对任务进度), keyed by the student; no personal
    data. A consumer keeps the state with the largest ``sequence`` per task."""

    EVENT_TYPE = "task-progressed"
    TOPIC = Topic.TASK_PROGRESS

    task_id: str
    sequence: int = Field(ge=1, description="the task history entry's id: a larger one is a later state")
    origin: str = Field(description="matched (比对下发) or supplementary (学校补录)")
    school_code: str
    stage: Stage | None = Field(description="None for a task whose stage was never recorded")
    enrolment_region: str = Field(pattern=r"^\d{6}$")
    household_region: str = Field(pattern=r"^\d{6}$")
    categories: list[Category]
    batch_id: str | None = Field(description="the task batch (the match's import batch) its deadline is set for")
    status: Literal["pending", "verified_unchanged", "verified_updated", "invalid"] = Field(
        description="pending (待核对) or the school's answer")
    audit_state: Literal["unsubmitted", "submitted", "approved", "returned"] = Field(
        description="上报与审核: not submitted, awaiting the bureau's audit, approved or returned")
    open: bool = Field(description="false once the match is withdrawn or the student left the school")
    changed_at: datetime


class DeadlineSet(Event):
    """The province's deadline (截止日期) for a task batch, keyed by ``kind/batch``."""

    EVENT_TYPE = "deadline-set"
    TOPIC = Topic.DEADLINES

    kind: Literal["verification", "unfunded", "abnormal_check"] = Field(
        description="verification (a match batch), unfunded (a period) or abnormal_check (a check)")
    batch: str
    due: date
    set_at: datetime


class CheckProgressed(Event):
    """One school's part of an abnormal-record check (数据核查) after an upload or an answer,
    keyed by ``check_id/school_code``. A consumer keeps the state with the largest ``sequence``."""

    EVENT_TYPE = "check-progressed"
    TOPIC = Topic.CHECK_PROGRESS

    check_id: str
    title: str
    school_code: str
    county: str = Field(pattern=r"^\d{6}$", description="the school's county (学校所在地)")
    items: int = Field(ge=0, description="records of this check at this school")
    answers: dict[str, int] = Field(description="answered records per answer code")
    sequence: int = Field(ge=1, description="the audit-log entry's id: a larger one is a later state")
    changed_at: datetime


class AuditRecorded(Event):
    """One entry of a service's hash-chained audit log (审计日志), keyed by the service so its
    entries keep their order. No personal data: targets are ids or pseudonymous student keys."""

    EVENT_TYPE = "audit-recorded"
    TOPIC = Topic.AUDIT

    service: str
    entry_id: int = Field(ge=1, description="the entry's id in the service's log")
    entity: str = Field(description="what kind of record, e.g. task, aid_list, batch")
    entity_id: str = Field(description="which record (the target)")
    action: str
    actor: str = Field(description="the account (subject) that acted, or system")
    role: str | None = None
    institution: str | None = Field(default=None, description="the actor's school code, region code or department")
    detail: dict = Field(description="what changed (no personal data)")
    at: datetime
    trace_id: str | None = None
    prev_hash: str = Field(description="the hash of the entry before it in the service's log")
    hash: str = Field(description="SHA-256 of prev_hash and this entry's fields")


class InstitutionChanged(Event):
    """A school (机构) as it now is — found on the roster, added by its county bureau, renamed or
    removed — keyed by its code. One code may be two institutions, one per stage (a primary
    school with an attached preschool, FAQ Q16)."""

    EVENT_TYPE = "institution-changed"
    TOPIC = Topic.INSTITUTIONS

    code: str
    stage: Stage
    name: str = Field(description="the school's name ('' when only the roster's code is known)")
    county: str = Field(pattern=r"^\d{6}$")
    source: Literal["roster", "added"] = Field(description="from the enrolment roster, or added by the county bureau")
    active: bool = Field(description="false once removed (only a school without students may be)")
    changed_at: datetime


EVENT_MODELS: tuple[type[Event], ...] = (
    DepartmentRecord,
    ListImported,
    StudentMatched,
    StudentMatchWithdrawn,
    Verified,
    Published,
    PublicationWithdrawn,
    Paid,
    PaymentFailed,
    UnfundedReasonReported,
    TaskProgressed,
    DeadlineSet,
    CheckProgressed,
    AuditRecorded,
    InstitutionChanged,
)
EVENT_TYPES: dict[str, type[Event]] = {m.EVENT_TYPE: m for m in EVENT_MODELS}
