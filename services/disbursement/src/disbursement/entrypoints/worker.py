"""disbursement's worker: payments from final lists, the simulated bank, and the relay."""

from functools import partial

from aid_chassis.worker import consumer_and_relay, periodic
from aid_contracts import Published
from aid_contracts.topics import Topic
from disbursement.adapters import tables
from disbursement.service_layer import handlers


def build_loops(settings, sessions):
    loops = consumer_and_relay(settings, sessions, tables.chassis, topics=[Topic.PUBLISHED.value],
                               handlers={Published.EVENT_TYPE: handlers.on_published})
    bank = periodic(sessions, partial(handlers.settle_pending, batch_size=settings.bank_batch_size),
                    every=settings.settle_every_seconds, name="settling payments")
    return [*loops, bank]
