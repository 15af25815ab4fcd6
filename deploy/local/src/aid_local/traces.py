"""``aidctl trace``: the span tree of one trace, from the JSON-lines files the services write."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path


def load_spans(trace_dir: Path, trace_id: str) -> list[dict]:
    spans = []
    for path in sorted(trace_dir.glob("*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            spans += [s for s in map(json.loads, fh) if s["trace_id"] == trace_id]
    return spans


def render(spans: list[dict]) -> list[str]:
    """One line per span, indented under its parent, with its start offset and duration."""
    if not spans:
        return []
    children: dict[str | None, list[dict]] = defaultdict(list)
    ids = {s["span_id"] for s in spans}
    for span in spans:
        children[span["parent_id"] if span["parent_id"] in ids else None].append(span)
    t0 = min(s["start_ns"] for s in spans)
    lines: list[str] = []

    def walk(parent: str | None, depth: int) -> None:
        for span in sorted(children[parent], key=lambda s: s["start_ns"]):
            start = (span["start_ns"] - t0) / 1e6
            took = (span["end_ns"] - span["start_ns"]) / 1e6
            lines.append(f"{'  ' * depth}{str(span['service']):<18} {span['name']:<45} +{start:9.1f} ms {took:8.1f} ms")
            walk(span["span_id"], depth + 1)

    walk(None, 0)
    return lines
