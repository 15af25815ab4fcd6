"""Prometheus metrics every service exposes on ``/metrics``."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS_HANDLED = Counter(
    "aid_events_handled_total", "Events consumed, by outcome", ["service", "topic", "outcome"]
)
EVENTS_PUBLISHED = Counter("aid_events_published_total", "Events published from the outbox", ["service"])
EVENTS_PARKED = Counter("aid_outbox_rows_parked_total", "Outbox rows the relay can never send, left for an operator",
                        ["service"])
OUTBOX_BACKLOG = Gauge("aid_outbox_backlog", "Outbox rows waiting to be published", ["service"])
OUTBOX_OLDEST_AGE = Gauge("aid_outbox_oldest_age_seconds", "Age of the oldest outbox row", ["service"])
HTTP_REQUESTS = Counter("aid_http_requests_total", "HTTP requests, by route and status",
                        ["service", "method", "route", "status"])
HTTP_DURATION = Histogram("aid_http_request_duration_seconds", "HTTP request duration, by route",
                          ["service", "method", "route"],
                          buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
CONSUMER_LAG = Gauge("aid_consumer_lag", "Records behind the partition's end after the last batch applied",
                     ["service", "group", "topic", "partition"])
CONSUMER_EVENT_AGE = Gauge("aid_consumer_last_event_age_seconds",
                           "Age of the newest event applied, when it was applied (projection lag)", ["service", "topic"])
