"""``aidctl trace``: the span tree of one trace, from the JSON-lines files the services write.

Runs of sibling spans with the same service and name (a batch's INSERTs, a relay's
per-event publishes) are folded into one line with their count and summed time, showing
the children of the run's first span only, unless ``full`` is asked for.
"""

from __future__ import annotations

import json
from collections import defaultdict
from itertools import groupby
from pathlib import Path


def load_spans(trace_dir: Path, trace_id: str) -> list[dict]:
    """The trace's spans, plus the batch spans of other traces that link to it (with their children).

    A batch consumer's span is a child of one event's trace and links to the others; such a
    span is shown under the span it links to, marked with ``linked_to``.
    """
    every: list[dict] = []
    for path in sorted(trace_dir.glob("*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            every += map(json.loads, fh)
    spans = [s for s in every if s["trace_id"] == trace_id]
    prefix = f"{trace_id}:"
    linked = {}
    for span in every:
        target = next((link for link in span.get("links", ()) if link.startswith(prefix)), None)
        if span["trace_id"] != trace_id and target:
            linked[span["span_id"]] = {**span, "linked_to": target[len(prefix):]}
    children: dict[str, list[dict]] = defaultdict(list)
    for span in every:
        if span["parent_id"]:
            children[span["parent_id"]].append(span)
    todo = list(linked)
    while todo:  # the linked spans' descendants in their own trace
        for child in children.pop(todo.pop(), ()):
            linked.setdefault(child["span_id"], child)
            todo.append(child["span_id"])
    return spans + list(linked.values())


def render(spans: list[dict], *, full: bool = False) -> list[str]:
    """One line per span (or per folded run), indented under its parent, with offset and duration."""
    if not spans:
        return []
    ids = {s["span_id"] for s in spans}
    children: dict[str | None, list[dict]] = defaultdict(list)
    for span in spans:
        parent = span.get("linked_to") or span["parent_id"]
        children[parent if parent in ids else None].append(span)
    t0 = min(s["start_ns"] for s in spans)
    lines: list[str] = []

    def walk(parent: str | None, depth: int) -> None:
        ordered = sorted(children[parent], key=lambda s: s["start_ns"])
        runs = [[s] for s in ordered] if full else [list(g) for _, g in groupby(ordered, key=_label)]
        for run in runs:
            lines.append(_line(run, depth, t0))
            walk(run[0]["span_id"], depth + 1)

    walk(None, 0)
    return lines


def _label(span: dict) -> tuple[str, str]:
    return str(span["service"]), span["name"]


def _line(run: list[dict], depth: int, t0: int) -> str:
    first = run[0]
    start = (first["start_ns"] - t0) / 1e6
    took = sum(s["end_ns"] - s["start_ns"] for s in run) / 1e6
    times = f" ×{len(run)}" if len(run) > 1 else ""
    name = f"{first['name']}{times}"
    mark = "↪ " if first.get("linked_to") else ""  # reached by a span link, not as a child
    return f"{'  ' * depth}{mark}{str(first['service']):<18} {name:<50} +{start:9.1f} ms {took:9.1f} ms"
