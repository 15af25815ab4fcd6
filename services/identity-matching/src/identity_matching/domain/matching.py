"""Matching by ID number and re-comparison: what is new, changed or withdrawn."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from aid_contracts.events import CategoryEntry, PovertyStatus, StudentFacts


@dataclass(frozen=True)
class Finding:
    """One department's record of a person: the name it spelled, the category, the import batch."""

    name: str
    entry: CategoryEntry
    batch_id: str = ""


REPEATED_STUDENT = "repeated_student"  # 重复学生: enrolled at more than one school


@dataclass(frozen=True)
class MatchFacts:
    student: StudentFacts
    categories: tuple[CategoryEntry, ...]
    name_mismatch: bool
    other_school_codes: tuple[str, ...] = ()
    source_batches: tuple[str, ...] = ()

    @property
    def review(self) -> list[str]:
        """Flags a bureau must look at."""
        return [REPEATED_STUDENT] if self.other_school_codes else []

    def fingerprint(self) -> str:
        """What re-comparison compares: a hash of ``canonical_text`` (the bulk path builds the same text)."""
        return fingerprint(self.canonical_text())

    def canonical_text(self) -> str:
        s = self.student
        categories = ITEM.join(ENTRY.join((c.category.value, c.department, _text(c.poverty_status), _text(c.exit_year)))
                               for c in self.categories)
        return FIELD.join((s.id_number, s.name, s.school_code, s.stage.value, s.enrolment_region, s.household_region,
                           "1" if self.name_mismatch else "0", ITEM.join(self.other_school_codes),
                           ITEM.join(self.source_batches), categories))


FIELD, ITEM, ENTRY = "\x1f", "\x1e", "\x1d"  # separators that never occur in validated values


def _text(value) -> str:
    return "" if value is None else str(getattr(value, "value", value))


def fingerprint(canonical_text: str) -> str:
    return hashlib.sha256(canonical_text.encode()).hexdigest()


@dataclass(frozen=True)
class PriorMatch:
    revision: int
    fingerprint: str
    active: bool
    school_code: str


@dataclass(frozen=True)
class EligibilityPolicy:
    """Which findings count. A family out of poverty (已脱贫) keeps aid while
    ``year <= exit_year + exit_grace_years`` (FAQ Q34); both numbers are configuration."""

    year: int
    exit_grace_years: int = 3

    def counts(self, entry: CategoryEntry) -> bool:
        if entry.poverty_status is PovertyStatus.OUT and entry.exit_year is not None:
            return self.year <= entry.exit_year + self.exit_grace_years
        return True


def match(enrolments: list[StudentFacts], findings: list[Finding], policy: EligibilityPolicy) -> MatchFacts | None:
    """The match of one person, or None when not enrolled or on no list that counts.

    The enrolment name wins; a department spelling it otherwise is flagged, not corrected.
    A student enrolled at several schools is matched once, at the first school by code, and
    flagged for the repeated-student check (重复学生核查) with the other schools named.
    """
    findings = [f for f in findings if policy.counts(f.entry)]
    if not enrolments or not findings:
        return None
    student, *others = sorted(enrolments, key=lambda e: e.school_code)
    categories = tuple(sorted({f.entry for f in findings},
                              key=lambda e: (e.category.value, e.department)))
    mismatch = any(f.name != student.name for f in findings)
    return MatchFacts(student=student, categories=categories, name_mismatch=mismatch,
                      other_school_codes=tuple(o.school_code for o in others),
                      source_batches=tuple(sorted({f.batch_id for f in findings if f.batch_id})))


@dataclass(frozen=True)
class Change:
    """What re-comparison decided for one student key."""

    kind: str  # "new", "changed" or "withdrawn"
    revision: int
    facts: MatchFacts | None
    school_code: str


def compare(prior: PriorMatch | None, current: MatchFacts | None) -> Change | None:
    if current is None:
        if prior and prior.active:
            return Change("withdrawn", prior.revision + 1, None, prior.school_code)
        return None
    revision = (prior.revision if prior else 0) + 1
    if prior is None or not prior.active:
        return Change("new", revision, current, current.student.school_code)
    if prior.fingerprint != current.fingerprint():
        return Change("changed", revision, current, current.student.school_code)
    return None
