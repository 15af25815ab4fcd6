"""reporting's worker: keeps per-student progress from every business event."""

from aid_chassis.worker import consumer_and_relay
from aid_contracts import Paid, Published, StudentMatched, StudentMatchWithdrawn, Verified
from aid_contracts.topics import Topic
from reporting.adapters import tables
from reporting.service_layer import projections as p

TOPICS = [Topic.STUDENT_MATCHED.value, Topic.VERIFIED.value, Topic.PUBLISHED.value, Topic.PAID.value]


def build_loops(settings, sessions):
    return consumer_and_relay(settings, sessions, tables.chassis, topics=TOPICS, handlers={
        StudentMatched.EVENT_TYPE: p.on_matched, StudentMatchWithdrawn.EVENT_TYPE: p.on_withdrawn,
        Verified.EVENT_TYPE: p.on_verified, Published.EVENT_TYPE: p.on_published, Paid.EVENT_TYPE: p.on_paid,
    })
