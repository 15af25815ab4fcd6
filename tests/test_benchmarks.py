"""Every benchmark of ``make bench`` runs, at a small scale, in every ``make test``.

``make bench`` is not part of CI, so a benchmark broken by a change elsewhere went unnoticed:
the public lookup's and the recovery benchmark failed for four days after the events were
sealed, while the table kept their old figures (docs/benchmarks.md, 2026-12-05). Here each one
runs as ``make bench`` runs it (its own servers on loopback, its own processes) with a few thousand
students and seconds instead of millions and minutes, writes its results to a temporary
directory (``BENCH_RESULTS_DIR``; the recorded ones stay) and must exit 0 with every figure and
floor its goals read (``bench/goals.py``) and none of the errors a run reports (failed or 5xx
calls, dead processes, dead letters). The figures themselves mean nothing at this scale and are
not judged.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SMALL = {  # each benchmark's knobs turned down (its module docstring names them)
    "matching": {"BENCH_STUDENTS": "3000", "BENCH_BROKER_WARMUP": "1000"},
    "payments": {"BENCH_PAYMENTS": "3000"},
    "read_side": {"BENCH_EVENTS": "3000", "BENCH_WARMUP": "300", "BENCH_FAUST_EVENTS": "300"},
    "lookup": {"BENCH_LOOKUP_STUDENTS": "5000", "BENCH_LOOKUP_SECONDS": "2"},
    "field_crypto": {"BENCH_FIELDS": "3000", "BENCH_STUDENTS_SEALED": "3000"},
    "recovery": {"BENCH_RESTARTS": "1", "BENCH_DOWN_SECONDS": "1"},
    "load": {"BENCH_LOAD_SECONDS": "20"},
}
NO_ERRORS = {  # paths that must be 0 (or empty) whatever the scale
    "lookup": ("api.errors", "during_import.errors"),
    "recovery": ("died",),
    "load": ("errors_total", "died", "dead_letters.count", "api.failed", "api.server_errors"),
}
SERVERS_OF_THE_SESSION = ("KAFKA_BOOTSTRAP_SERVERS", "AID_POSTGRES_URL", "AID_TEST_CONTAINERS")
TIMEOUT = 540


@pytest.fixture
def bench(monkeypatch):
    """``bench/``'s modules importable for this test only."""
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    return importlib.import_module


def test_every_benchmark_of_the_suite_has_a_small_run(bench):
    assert sorted(SMALL) == sorted(bench("suite").BENCHES)


@pytest.mark.timeout(TIMEOUT + 60)
@pytest.mark.parametrize("name", list(SMALL))
def test_the_benchmark_runs_and_writes_its_figures(name, tmp_path, bench):
    goals = bench("goals")
    found = _run(name, tmp_path)
    for goal in (g for g in goals.GOALS if g.file == name):
        for path in (*goal.path.split("|"), *goal.floor):
            assert goals.dig(found, path) is not None, f"{name}: no {path} for the goal {goal.title!r}"
    for path in NO_ERRORS.get(name, ()):
        assert goals.dig(found, path) in (0, []), f"{name}: {path} = {goals.dig(found, path)!r}"
    if name == "lookup":
        assert found["api"]["statuses"].get("200"), found["api"]["statuses"]  # some lookups found their student


def _run(name: str, results: Path) -> dict:
    """Run ``bench/<name>.py`` on servers of its own (none of the test session's) and read its results.
    On a timeout it is interrupted first, so that its ``finally`` stops the servers it started."""
    env = {k: v for k, v in os.environ.items()
           if k not in SERVERS_OF_THE_SESSION and not k.endswith("_DATABASE_URL")}
    env.update(SMALL[name], BENCH_RESULTS_DIR=str(results))
    child = subprocess.Popen([sys.executable, str(ROOT / "bench" / f"{name}.py")], cwd=ROOT, env=env, text=True,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = child.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGINT)  # KeyboardInterrupt: the benchmark's finally blocks run
        try:
            out, err = child.communicate(timeout=45)
        except subprocess.TimeoutExpired:
            child.kill()
            out, err = child.communicate()
        pytest.fail(f"bench/{name}.py ran longer than {TIMEOUT} s:\n{err[-3000:]}")
    assert child.returncode == 0, (out[-3000:], err[-3000:])
    return json.loads((results / f"{name}.json").read_text(encoding="utf-8"))
