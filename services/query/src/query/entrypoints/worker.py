"""query's worker: projects every business event into the read models, a batch at a time."""

from aid_chassis.worker import consumer_and_relay
from aid_contracts.topics import Topic
from query.adapters import tables
from query.service_layer import projections

TOPICS = [Topic.STUDENT_MATCHED.value, Topic.VERIFIED.value, Topic.PUBLISHED.value, Topic.PAID.value,
          Topic.UNFUNDED_REASONS.value]


def build_loops(settings, sessions, topics: list[str] = TOPICS):
    return consumer_and_relay(settings, sessions, tables.chassis, topics=topics, handlers={},
                              bulk=projections.project, bulk_types=projections.TYPES)
