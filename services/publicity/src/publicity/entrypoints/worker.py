"""publicity's worker: candidates from ``verified`` and matches (a batch at a time, ``intake.py``), the
outbox relay, and finalisation."""

from aid_chassis.worker import consumer_and_relay, periodic
from aid_contracts.topics import Topic
from publicity.adapters import tables
from publicity.service_layer import intake, lists


def build_loops(settings, sessions):
    loops = consumer_and_relay(settings, sessions, tables.chassis,
                               topics=[Topic.VERIFIED.value, Topic.STUDENT_MATCHED.value], handlers={},
                               bulk=intake.apply, bulk_types=intake.TYPES)
    finaliser = periodic(sessions, lists.finalise_due, every=settings.finalise_every_seconds,
                         name="finalising aid lists")
    return [*loops, finaliser]
