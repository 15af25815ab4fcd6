"""Prometheus metrics every service exposes on ``/metrics``."""

from prometheus_client import Counter, Gauge

EVENTS_HANDLED = Counter(
    "aid_events_handled_total", "Events consumed, by outcome", ["service", "topic", "outcome"]
)
EVENTS_PUBLISHED = Counter("aid_events_published_total", "Events published from the outbox", ["service"])
OUTBOX_BACKLOG = Gauge("aid_outbox_backlog", "Outbox rows waiting to be published", ["service"])
OUTBOX_OLDEST_AGE = Gauge("aid_outbox_oldest_age_seconds", "Age of the oldest outbox row", ["service"])
