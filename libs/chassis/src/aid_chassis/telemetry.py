"""OpenTelemetry set-up, called by a service's entrypoint only (libraries never configure it).

Spans go to OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, and to a JSON-lines file per
process under ``AID_TRACE_DIR`` when that is set (``aidctl trace <id>`` reads them).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import orjson
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from aid_chassis.settings import ServiceSettings


class JsonLinesSpanExporter(SpanExporter):
    """Writes finished spans as one JSON object per line."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = b"".join(orjson.dumps(span_record(s)) + b"\n" for s in spans)
        with self._lock, self._path.open("ab") as fh:
            fh.write(lines)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:  # nothing to release
        return None


def span_record(span: ReadableSpan) -> dict:
    """The fields ``aidctl trace`` needs, with ids in W3C hex."""
    ctx = span.get_span_context()
    return {
        "trace_id": f"{ctx.trace_id:032x}",
        "span_id": f"{ctx.span_id:016x}",
        "parent_id": f"{span.parent.span_id:016x}" if span.parent else None,
        "name": span.name,
        "kind": span.kind.name,
        "service": span.resource.attributes.get("service.name"),
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name,
        "attributes": {k: v if isinstance(v, (str, int, float, bool)) else str(v) for k, v in (span.attributes or {}).items()},
        "links": [f"{link.context.trace_id:032x}:{link.context.span_id:016x}" for link in span.links],
    }


def configure_telemetry(settings: ServiceSettings, role: str) -> TracerProvider:
    """Install the tracer provider of this process (``role`` is api or worker)."""
    resource = Resource.create({"service.name": settings.service_name, "service.instance.id": f"{role}-{os.getpid()}"})
    provider = TracerProvider(resource=resource)
    if settings.trace_dir:
        own = f"-{os.getpid()}" if role == "api" and settings.api_workers > 1 else ""  # one file per process
        path = settings.trace_dir / f"{settings.service_name}-{role}{own}.jsonl"
        provider.add_span_processor(BatchSpanProcessor(JsonLinesSpanExporter(path), schedule_delay_millis=500))
    if settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider
