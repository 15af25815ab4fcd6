"""verification's worker: matches become tasks, payments are remembered; relays ``verified``.

The consumer takes whole batches (``intake.apply``): a burst of new matches becomes tasks a batch
at a time; every other event is applied one at a time, in order.
"""

from functools import partial

from aid_chassis.worker import consumer_and_relay
from aid_contracts.topics import Topic
from verification.adapters import tables
from verification.service_layer import intake

TOPICS = [Topic.STUDENT_MATCHED.value, Topic.PAID.value]


def bulk_handler(settings):
    """The consumer's batch handler: the intake, opening sealed fields to tell a real change."""
    return partial(intake.apply, fields=settings.field_cipher())


def build_loops(settings, sessions):
    return consumer_and_relay(settings, sessions, tables.chassis, topics=TOPICS, handlers={},
                              bulk=bulk_handler(settings), bulk_types=intake.TYPES, opens_fields=True)
