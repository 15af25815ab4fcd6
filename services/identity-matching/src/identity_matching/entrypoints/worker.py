"""identity-matching's worker: the outbox relay (department feeds on Kafka come later)."""

from aid_chassis.outbox import OutboxRelay
from identity_matching.adapters import tables
from identity_matching.settings import Settings


def build_loops(settings: Settings, sessions):
    relay = OutboxRelay(sessions, tables.chassis.outbox, bootstrap_servers=settings.kafka_bootstrap_servers,
                        service=settings.service_name, batch_size=settings.relay_batch_size,
                        idle_seconds=settings.relay_idle_seconds)
    return [relay.run]
