"""Benchmark: reading ``student-matched`` events as pydantic models or as their views (``aid_contracts.views``).

The same ``BENCH_EVENTS`` (default 40,000) sealed matches as ``bench/projections.py`` makes, read by
one process's CPU (``time.process_time``, the cycle collector off as in a consumer's batch), each
way five times in turn and the fastest kept, so a slow moment of the machine weighs on neither:

- ``decode.model_us`` / ``decode.view_us``   one event's data: ``Envelope.parse`` / ``Envelope.view``
- ``fold.model_us`` / ``fold.view_us``       query's fold of it (``readmodel.fold``, batches of 8,000)
  with the shared fold's events read either way
- ``*.ratio``                                view over model

Writes ``bench/results/decoding.json``. Not part of ``make bench``'s goals: it says what the views
save of the catch-up's CPU (``bench/read_side.py``).
"""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path

import projections
from aid_contracts import Envelope, lifecycle
from aid_contracts.events import StudentMatched
from query.domain import readmodel

RESULTS = Path(__file__).resolve().parent / "results" / "decoding.json"
ROUNDS, BATCH = 5, 8000


def _fastest(run, events: list[Envelope]) -> float:
    """Microseconds an event of ``run(events)``'s fastest round."""
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.process_time()
        run(events)
        best = min(best, time.process_time() - start)
    return round(best / len(events) * 1e6, 2)


def _fold_with(parse):
    def run(events: list[Envelope]) -> None:
        lifecycle.parse = parse  # the shared fold reads its events through this name
        for first in range(0, len(events), BATCH):
            readmodel.fold(events[first:first + BATCH], {}, {}, {})
    return run


def main() -> dict:
    n = int(os.environ.get("BENCH_EVENTS", "40000"))
    events = [Envelope.from_kafka(r.headers, r.value) for r in projections._records(n)]
    by_view = lifecycle.parse
    ways = {"decode.model_us": lambda es: [e.parse(StudentMatched) for e in es],
            "decode.view_us": lambda es: [e.view(StudentMatched) for e in es],
            "fold.model_us": _fold_with(lambda e: e.parse(lifecycle.MODELS[e.type])),
            "fold.view_us": _fold_with(by_view)}
    gc.disable()
    try:
        found = {name: _fastest(run, events) for name, run in ways.items()}
    finally:
        lifecycle.parse = by_view
        gc.enable()
    return {"events": n, **found, "decode.ratio": round(found["decode.view_us"] / found["decode.model_us"], 2),
            "fold.ratio": round(found["fold.view_us"] / found["fold.model_us"], 2)}


if __name__ == "__main__":
    projections.write(RESULTS, main())
