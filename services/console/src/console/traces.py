"""Recent traces for the operator page, read from the trace files the platform writes on one
machine (``AID_TRACE_DIR``; in a cluster the page links to the trace viewer instead)."""

from __future__ import annotations

import json
from pathlib import Path

TAIL_BYTES = 256 * 1024  # of each file: the recent spans


def recent_roots(trace_dir: Path | None, limit: int = 20) -> list[dict]:
    """The newest root spans (a request or a flow, not its children): name, service, duration, trace id."""
    if trace_dir is None or not trace_dir.is_dir():
        return []
    roots = []
    for path in trace_dir.glob("*.jsonl"):
        for span in _tail(path):
            if not span.get("parent_id") and span.get("end_ns") and span.get("start_ns"):
                roots.append({"trace_id": span["trace_id"], "name": span.get("name", ""), "service": span.get("service"),
                              "ms": round((span["end_ns"] - span["start_ns"]) / 1e6, 1), "status": span.get("status"),
                              "end_ns": span["end_ns"]})
    return sorted(roots, key=lambda r: r["end_ns"], reverse=True)[:limit]


def _tail(path: Path) -> list[dict]:
    with path.open("rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(size - TAIL_BYTES, 0))
        lines = fh.read().splitlines()[1 if size > TAIL_BYTES else 0:]  # the first may be cut
    spans = []
    for line in lines:
        try:
            spans.append(json.loads(line))
        except ValueError:
            continue
    return spans
