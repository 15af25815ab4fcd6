"""Every benchmark of ``make bench`` runs, at a small scale, in every ``make test``.

``make bench`` is not part of CI, so a benchmark broken by a change elsewhere went unnoticed:
the public lookup's and the recovery benchmark failed for four days after the events were
sealed, while the table kept their old figures (docs/benchmarks.md, 2026-12-05). Here each one
runs as ``make bench`` runs it (its own servers on loopback, its own processes) with a few thousand
students and seconds instead of millions and minutes, writes its results to a temporary
directory (``BENCH_RESULTS_DIR``; the recorded ones stay) and must exit 0 with the figures its goals
read (``bench/goals.py``). The figures themselves mean nothing at this scale and are not judged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from goals import GOALS, dig  # noqa: E402

SMALL = {  # each benchmark's knobs turned down (its module docstring names them)
    "matching": {"BENCH_STUDENTS": "3000", "BENCH_BROKER_WARMUP": "1000"},
    "payments": {"BENCH_PAYMENTS": "3000"},
    "read_side": {"BENCH_EVENTS": "3000", "BENCH_WARMUP": "300", "BENCH_FAUST_EVENTS": "300"},
    "lookup": {"BENCH_LOOKUP_STUDENTS": "5000", "BENCH_LOOKUP_SECONDS": "2"},
    "field_crypto": {"BENCH_FIELDS": "3000", "BENCH_STUDENTS_SEALED": "3000"},
    "recovery": {"BENCH_RESTARTS": "1", "BENCH_DOWN_SECONDS": "1"},
    "load": {"BENCH_LOAD_SECONDS": "20"},
}


def test_every_benchmark_of_the_suite_has_a_small_run():
    from suite import BENCHES

    assert sorted(SMALL) == sorted(BENCHES)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", list(SMALL))
def test_the_benchmark_runs_and_writes_its_figures(name, tmp_path):
    env = {**os.environ, **SMALL[name], "BENCH_RESULTS_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, str(ROOT / "bench" / f"{name}.py")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=580, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    found = json.loads((tmp_path / f"{name}.json").read_text(encoding="utf-8"))
    for goal in (g for g in GOALS if g.file == name):
        for path in goal.path.split("|"):
            assert dig(found, path) is not None, f"{name}: no {path} for the goal {goal.title!r}"
