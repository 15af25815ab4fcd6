"""Matching by ID number and re-comparison: what is new, changed or withdrawn."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from aid_contracts.events import CategoryEntry, StudentFacts


@dataclass(frozen=True)
class Finding:
    """One department's record of a person: the name it spelled and the category."""

    name: str
    entry: CategoryEntry


@dataclass(frozen=True)
class MatchFacts:
    student: StudentFacts
    categories: tuple[CategoryEntry, ...]
    name_mismatch: bool

    def fingerprint(self) -> str:
        doc = {"s": self.student.model_dump(mode="json"),
               "c": [c.model_dump(mode="json") for c in self.categories], "n": self.name_mismatch}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class PriorMatch:
    revision: int
    fingerprint: str
    active: bool
    school_code: str


def match(student: StudentFacts | None, findings: list[Finding]) -> MatchFacts | None:
    """The match of one person, or None when not enrolled or on no list.

    The enrolment name wins; a department spelling it otherwise is flagged, not corrected.
    """
    if student is None or not findings:
        return None
    categories = tuple(sorted({f.entry for f in findings},
                              key=lambda e: (e.category.value, e.department)))
    mismatch = any(f.name != student.name for f in findings)
    return MatchFacts(student=student, categories=categories, name_mismatch=mismatch)


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
