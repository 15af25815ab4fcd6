"""`make bench`: every benchmark in one run, each figure against the goal its issue states.

Runs the benchmarks one after another (each starts and stops its own servers), then reads
``bench/results/*.json``, writes ``bench/results/summary.json`` (every goal: figure, bar, floor
measured in the same run where there is one, met or not, machine info) and the generated part of
``docs/benchmarks.md`` (a table, and ``docs/benchmarks-goals.svg``: each figure as a share of its
bar), and prints which goals are met.

``BENCH_SCALE=quick`` runs a small province (150,000 students, a 60 s load) for a quick look;
the default is the province (1.5M students). ``BENCH_ONLY=matching,lookup`` runs some of them;
``BENCH_REPORT_ONLY=1`` only rewrites the summary from the results already there (keeping the
time and the run times of the run that made them). Exits 1 when a
benchmark failed (not when a goal is missed: a missed goal is a finding, reported as such).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from goals import GOALS, evaluate
from report import number, write_docs

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
BENCHES = ("matching", "payments", "read_side", "lookup", "field_crypto", "recovery", "load")
QUICK = {"BENCH_STUDENTS": "150000", "BENCH_PAYMENTS": "100000", "BENCH_EVENTS": "30000",
         "BENCH_LOOKUP_STUDENTS": "150000", "BENCH_FIELDS": "100000", "BENCH_LOAD_SECONDS": "60"}


def _run(name: str, scale: str) -> dict:
    env = {**os.environ, **(QUICK if scale == "quick" else {})}
    print(f"== bench/{name}.py ({scale})", flush=True)
    start = time.monotonic()
    done = subprocess.run([sys.executable, str(HERE / f"{name}.py")], env=env, cwd=HERE.parent)
    seconds = round(time.monotonic() - start, 1)
    print(f"== bench/{name}.py: exit {done.returncode} after {seconds} s", flush=True)
    return {"exit": done.returncode, "seconds": seconds}


def machine() -> dict:
    memory = next((int(x.split()[1]) // 1024 for x in Path("/proc/meminfo").read_text().splitlines()
                   if x.startswith("MemTotal")), None)
    return {"cpus": os.cpu_count(), "memory_mb": memory, "python": platform.python_version(),
            "system": platform.platform()}


def main() -> int:
    if os.environ.get("BENCH_RESULTS_DIR"):  # the results would go there, the table read from here
        print("bench/suite.py records bench/results: unset BENCH_RESULTS_DIR (tests' small runs only)", file=sys.stderr)
        return 2
    scale = os.environ.get("BENCH_SCALE", "province")
    only = [x for x in os.environ.get("BENCH_ONLY", "").split(",") if x] or list(BENCHES)
    previous = json.loads((RESULTS / "summary.json").read_text()) if (RESULTS / "summary.json").exists() else {}
    if os.environ.get("BENCH_REPORT_ONLY"):  # the verdicts again, with the run that made the results
        at, scale, runs = previous.get("at"), previous.get("scale", scale), previous.get("runs", {})
        started = previous.get("started")
    else:
        started = _now()
        runs = {name: _run(name, scale) for name in only}
        at = _now()
    results = {p.stem: json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json")) if p.stem != "summary"}
    goals = [evaluate(goal, results) for goal in GOALS]
    measured = {name: results[name].get("measured_at") for name in sorted({g.file for g in GOALS}) if name in results}
    summary = {"at": at, "started": started, "scale": scale, "machine": machine(), "runs": runs,
               "measured": measured, "goals": goals}
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
    write_docs(summary, HERE.parent / "docs")
    _print(summary)
    return 1 if any(r["exit"] for r in runs.values()) else 0


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _print(summary: dict) -> None:
    print(f"\n{'goal':60} {'figure':>10}   {'bar':10} verdict")
    for g in summary["goals"]:
        bar = f"{g['op']} {number(g['bar'])}" if g["op"] else ""
        print(f"{g['title'][:60]:60} {number(g['figure']):>10}   {bar:10} {g['verdict']}")
    met = sum(g["verdict"] == "met" for g in summary["goals"])
    judged = sum(g["verdict"] in ("met", "missed") for g in summary["goals"])
    print(f"\n{met} of {judged} judged goals met; runs: "
          + ", ".join(f"{k} {v['seconds']} s" + (" FAILED" if v["exit"] else "") for k, v in summary["runs"].items()))


if __name__ == "__main__":
    sys.exit(main())
