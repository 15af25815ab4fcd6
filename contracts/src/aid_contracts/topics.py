"""Topic names: one topic per event stream, versioned as ``aid.<event>.v1``.

A withdrawal travels on the same topic as the match it withdraws, and a list's
finalisation on the same topic as its publication, so one student's events keep
their order (see docs/architecture.md).
"""

from enum import StrEnum


class Topic(StrEnum):
    DEPARTMENT_RECORDS = "aid.department-records.v1"
    LIST_IMPORTED = "aid.list-imported.v1"
    STUDENT_MATCHED = "aid.student-matched.v1"
    VERIFIED = "aid.verified.v1"
    PUBLISHED = "aid.published.v1"
    PAID = "aid.paid.v1"
    UNFUNDED_REASONS = "aid.unfunded-reasons.v1"
    TASK_PROGRESS = "aid.task-progress.v1"
    DEADLINES = "aid.deadlines.v1"
    CHECK_PROGRESS = "aid.check-progress.v1"
    AUDIT = "aid.audit.v1"
    INSTITUTIONS = "aid.institutions.v1"
    DEAD_LETTER = "aid.dead-letter.v1"
    STUDENT_KEYS = "aid.student-keys.v1"  # students' data keys in sealed buckets (aid_chassis.datakeys), not events


BUSINESS_TOPICS: tuple[Topic, ...] = tuple(t for t in Topic if t not in (Topic.DEAD_LETTER, Topic.STUDENT_KEYS))

# Settings of the topics that are not kept for ever. The data keys' topic is compacted: a bucket's
# older records (holding a shredded student's key) are gone within max.compaction.lag.ms (a day).
TOPIC_CONFIGS: dict[Topic, dict[str, str]] = {
    Topic.STUDENT_KEYS: {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.01",
                         "segment.ms": "3600000", "max.compaction.lag.ms": "86400000",
                         "delete.retention.ms": "86400000"},
}
