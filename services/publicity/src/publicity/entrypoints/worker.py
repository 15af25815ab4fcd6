"""publicity's worker: candidates from ``verified``, the outbox relay, and finalisation."""

from aid_chassis.worker import consumer_and_relay, periodic
from aid_contracts import Verified
from aid_contracts.topics import Topic
from publicity.adapters import tables
from publicity.service_layer import handlers


def build_loops(settings, sessions):
    loops = consumer_and_relay(settings, sessions, tables.chassis, topics=[Topic.VERIFIED.value],
                               handlers={Verified.EVENT_TYPE: handlers.on_verified})
    finaliser = periodic(sessions, handlers.finalise_due, every=settings.finalise_every_seconds,
                         name="finalising aid lists")
    return [*loops, finaliser]
