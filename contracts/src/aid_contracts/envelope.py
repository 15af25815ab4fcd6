"""The event envelope, following the CloudEvents 1.0 Kafka protocol binding (binary mode).

Attributes travel as ``ce_*`` Kafka headers, the data as a JSON value, the student's
pseudonymous key as the Kafka key (and the ``ce_partitionkey`` extension). The W3C
``traceparent`` header is added by whoever publishes, from the current trace context.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel

from aid_contracts import views

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
_ATTRIBUTES = ("id", "source", "type", "subject", "time", "dataschema", "specversion")
_EXTENSIONS = ("dataversion", "partitionkey")
_HEADERS = tuple((name, f"ce_{name}") for name in _ATTRIBUTES + _EXTENSIONS)
_REQUIRED = ("id", "source", "type", "dataschema", "partitionkey")


class EnvelopeError(ValueError):
    """A Kafka record that is not a well-formed event envelope."""


class Envelope:
    """One event as it travels: CloudEvents attributes plus JSON data; immutable.

    A plain slotted class, not a pydantic model: a consumer reads thousands a second, and every
    attribute is checked where an envelope is made (``wrap`` from a validated event, ``from_kafka``
    from headers). Read from Kafka, the data stays the record's JSON until asked for: ``parse``
    validates the bytes straight into the event model (one pass instead of two)."""

    __slots__ = ("id", "source", "type", "subject", "time", "dataschema", "dataversion", "partitionkey",
                 "specversion", "_data", "_raw")

    def __init__(self, *, source: str, type: str, dataschema: str, partitionkey: str,  # noqa: A002 - CloudEvents
                 data: dict[str, Any] | None = None, raw: bytes | None = None, id: str | None = None,  # noqa: A002
                 subject: str | None = None, time: datetime | None = None, dataversion: str = "1",
                 specversion: str = SPEC_VERSION) -> None:
        if (data is None) == (raw is None):
            raise ValueError("an envelope holds either its data or the JSON text of its data")
        put = object.__setattr__
        put(self, "id", id or str(uuid.uuid4()))
        put(self, "source", source)
        put(self, "type", type)
        put(self, "subject", subject or partitionkey)
        put(self, "time", time or datetime.now(UTC))
        put(self, "dataschema", dataschema)
        put(self, "dataversion", dataversion)
        put(self, "partitionkey", partitionkey)
        put(self, "specversion", specversion)
        put(self, "_data", data)
        put(self, "_raw", raw)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("an envelope is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Envelope):
            return NotImplemented
        names = _ATTRIBUTES + _EXTENSIONS
        return all(getattr(self, n) == getattr(other, n) for n in names) and self.data == other.data

    __hash__ = None  # type: ignore[assignment] - mutable data inside

    def __repr__(self) -> str:
        return f"Envelope(id={self.id!r}, type={self.type!r}, source={self.source!r})"

    @property
    def data(self) -> dict[str, Any]:
        """The event data as a dict (read from the JSON text once, when first asked for)."""
        if self._data is None:
            try:
                data = orjson.loads(self._raw)
            except orjson.JSONDecodeError as exc:
                raise EnvelopeError(f"event data is not JSON: {exc}") from None
            if not isinstance(data, dict):
                raise EnvelopeError("event data must be a JSON object")
            object.__setattr__(self, "_data", data)
        return self._data

    def replace(self, **changes: Any) -> Envelope:
        """A copy with some attributes (or the data) changed."""
        current: dict[str, Any] = {name: getattr(self, name) for name in _ATTRIBUTES + _EXTENSIONS}
        if "data" not in changes:
            current["data"] = self.data
        return Envelope(**(current | changes))

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
        return self._raw if self._raw is not None else orjson.dumps(self._data)

    @classmethod
    def from_kafka(cls, headers: list[tuple[str, bytes]] | None, value: bytes | None) -> Envelope:
        """Read an envelope from a Kafka record; raises EnvelopeError when malformed.

        The attributes are checked here (present, UTF-8, an RFC 3339 time); the data must look
        like a JSON object, and is parsed when asked for (``parse``, ``data``). Made without the
        keyword constructor: a consumer reads every record through here."""
        found = {k: v for k, v in headers if v is not None} if headers else {}  # a repeated header: the last
        try:
            id_, source, type_, subject, at, schema, spec, version, key = [
                None if (raw := found.get(header)) is None else raw.decode() for header in _READ]
        except UnicodeDecodeError:
            raise EnvelopeError("CloudEvents headers are not UTF-8") from None
        if not (id_ and source and type_ and schema and key):
            attrs = {"id": id_, "source": source, "type": type_, "dataschema": schema, "partitionkey": key}
            raise EnvelopeError(f"missing CloudEvents headers: {', '.join(a for a in _REQUIRED if not attrs[a])}")
        if not value or value.lstrip()[:1] != b"{":
            raise EnvelopeError("event data must be a JSON object")
        envelope = object.__new__(cls)
        _SET_ID(envelope, id_)
        _SET_SOURCE(envelope, source)
        _SET_TYPE(envelope, type_)
        _SET_SUBJECT(envelope, subject or key)
        _SET_TIME(envelope, _time(at))
        _SET_SCHEMA(envelope, schema)
        _SET_VERSION(envelope, "1" if version is None else version)
        _SET_KEY(envelope, key)
        _SET_SPEC(envelope, SPEC_VERSION if spec is None else spec)
        _SET_DATA(envelope, None)
        _SET_RAW(envelope, value if isinstance(value, bytes) else bytes(value))
        return envelope

    def parse(self, model: type[BaseModel]) -> BaseModel:
        """Validate the data against an event model (raises pydantic.ValidationError).

        Not kept on the envelope: a batch's thousands of models alive until its end made the
        cyclic collector a fifth of a projection's CPU (measured with ``bench/read_side.py``)."""
        if self._data is None:
            return model.model_validate_json(self._raw)
        return model.model_validate(self._data)

    def view(self, model: type[BaseModel]) -> Any:
        """The data as the model's read-only view (``aid_contracts.views``): refused as ``parse``
        refuses it, read in about half the time — for consumers that fold thousands of events a batch."""
        if self._data is None:
            return views.decode(model, self._raw)
        return views.of(model.model_validate(self._data))


_READ = tuple(header for _, header in _HEADERS)  # id, source, type, subject, time, dataschema, specversion, …
# the slots' own setters: ``from_kafka`` fills eleven per record, faster than object.__setattr__ by name
(_SET_ID, _SET_SOURCE, _SET_TYPE, _SET_SUBJECT, _SET_TIME, _SET_SCHEMA, _SET_VERSION, _SET_KEY, _SET_SPEC,
 _SET_DATA, _SET_RAW) = (getattr(Envelope, name).__set__ for name in (
    "id", "source", "type", "subject", "time", "dataschema", "dataversion", "partitionkey", "specversion", "_data",
    "_raw"))


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
