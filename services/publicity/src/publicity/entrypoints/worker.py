"""publicity's worker: candidates from ``verified`` and matches, the outbox relay, and finalisation."""

from aid_chassis.worker import consumer_and_relay, periodic
from aid_contracts import StudentMatched, StudentMatchWithdrawn, Verified
from aid_contracts.topics import Topic
from publicity.adapters import tables
from publicity.service_layer import candidates, lists


def build_loops(settings, sessions):
    loops = consumer_and_relay(settings, sessions, tables.chassis,
                               topics=[Topic.VERIFIED.value, Topic.STUDENT_MATCHED.value], handlers={
                                   Verified.EVENT_TYPE: candidates.on_verified,
                                   StudentMatched.EVENT_TYPE: candidates.on_matched,
                                   StudentMatchWithdrawn.EVENT_TYPE: candidates.on_withdrawn,
                               })
    finaliser = periodic(sessions, lists.finalise_due, every=settings.finalise_every_seconds,
                         name="finalising aid lists")
    return [*loops, finaliser]
