"""The event envelope, following the CloudEvents 1.0 Kafka protocol binding (binary mode).

Attributes travel as ``ce_*`` Kafka headers, the data as a JSON value, the student's
pseudonymous key as the Kafka key (and the ``ce_partitionkey`` extension). The W3C
``traceparent`` header is added by whoever publishes, from the current trace context.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
_ATTRIBUTES = ("id", "source", "type", "subject", "time", "dataschema", "specversion")
_EXTENSIONS = ("dataversion", "partitionkey")
_NAMES = frozenset(_ATTRIBUTES + _EXTENSIONS)
_REQUIRED = ("id", "source", "type", "dataschema", "partitionkey")


class EnvelopeError(ValueError):
    """A Kafka record that is not a well-formed event envelope."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Envelope:
    """One event as it travels: CloudEvents attributes plus JSON data.

    A plain slotted dataclass: every attribute is checked where an envelope is made (``wrap``
    from a validated event, ``from_kafka`` from headers), and a consumer reads thousands a second."""

    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    source: str
    type: str
    subject: str
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    dataschema: str
    dataversion: str = "1"
    partitionkey: str
    specversion: str = SPEC_VERSION
    data: dict[str, Any]

    @classmethod
    def wrap(cls, event: BaseModel, *, source: str, key: str, subject: str | None = None) -> Envelope:
        """Envelope an event model; ``key`` is the partition key (the student's key)."""
        meta = type(event)
        return cls(
            source=source,
            type=meta.EVENT_TYPE,  # type: ignore[attr-defined]
            subject=subject or key,
            dataschema=meta.schema_uri(),  # type: ignore[attr-defined]
            dataversion=str(meta.VERSION),  # type: ignore[attr-defined]
            partitionkey=key,
            data=event.model_dump(mode="json"),
        )

    def headers(self) -> list[tuple[str, bytes]]:
        """The binary-mode Kafka headers of this event."""
        values = {name: getattr(self, name) for name in _ATTRIBUTES + _EXTENSIONS}
        values["time"] = self.time.isoformat()
        pairs = [(f"ce_{name}", str(value).encode()) for name, value in values.items()]
        return [("content-type", CONTENT_TYPE.encode()), *pairs]

    def value(self) -> bytes:
        """The Kafka record value: the event data as JSON."""
        return orjson.dumps(self.data)

    @classmethod
    def from_kafka(cls, headers: list[tuple[str, bytes]] | None, value: bytes | None) -> Envelope:
        """Read an envelope from a Kafka record; raises EnvelopeError when malformed.

        Every attribute is a string from a header; the time is parsed, the data must be a JSON object."""
        try:
            attrs = {k[3:]: v.decode() for k, v in headers or () if k.startswith("ce_") and v is not None}
        except UnicodeDecodeError:
            raise EnvelopeError("CloudEvents headers are not UTF-8") from None
        missing = [a for a in _REQUIRED if not attrs.get(a)]
        if missing:
            raise EnvelopeError(f"missing CloudEvents headers: {', '.join(missing)}")
        try:
            data = orjson.loads(value or b"")
        except orjson.JSONDecodeError as exc:
            raise EnvelopeError(f"event data is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise EnvelopeError("event data must be a JSON object")
        known = {k: v for k, v in attrs.items() if k in _NAMES}
        known.setdefault("subject", known["partitionkey"])
        known["time"] = _time(known.get("time"))
        return cls(**known, data=data)

    def parse(self, model: type[BaseModel]) -> BaseModel:
        """Validate the data against an event model (raises pydantic.ValidationError)."""
        return model.model_validate(self.data)


def _time(value: str | None) -> datetime:
    """The ``ce_time`` attribute (RFC 3339); the time of reading when the producer left it out."""
    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise EnvelopeError("ce_time is not an RFC 3339 timestamp") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def trace_headers(headers: list[tuple[str, bytes]] | None) -> dict[str, str]:
    """The W3C trace-context headers of a record, as a carrier for propagators."""
    wanted = ("traceparent", "tracestate")
    return {k: v.decode() for k, v in headers or () if k in wanted and v is not None}
