"""reporting's worker: keeps the live aggregates from every business event, a batch at a time."""

from aid_chassis.worker import consumer_and_relay
from aid_contracts.topics import Topic
from reporting.adapters import tables
from reporting.service_layer import projections

TOPICS = [Topic.STUDENT_MATCHED.value, Topic.VERIFIED.value, Topic.PUBLISHED.value, Topic.PAID.value,
          Topic.UNFUNDED_REASONS.value, Topic.TASK_PROGRESS.value, Topic.DEADLINES.value, Topic.CHECK_PROGRESS.value,
          Topic.AUDIT.value, Topic.INSTITUTIONS.value]


def build_loops(settings, sessions):
    return consumer_and_relay(settings, sessions, tables.chassis, topics=TOPICS, handlers={},
                              bulk=projections.project, bulk_types=projections.TYPES)
