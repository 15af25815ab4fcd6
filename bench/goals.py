"""Every figure the issues ask for: where it is in ``bench/results/<file>.json``, its bar, its floor.

A goal without a bar is reported, not judged (a figure an issue asks to measure without a number).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Goal:
    issue: int
    title: str
    file: str
    path: str
    op: str = "≤"  # "≤", "≥" or "" (reported only)
    bar: float = 0
    unit: str = "s"
    floor: tuple[str, ...] = ()  # paths summed: the same work with nothing in the way, same run
    skip: tuple[str, ...] = ()  # keys left out where the figure is the largest of a mapping
    none_is_missed: bool = False


GOALS = (
    Goal(3, "比对: files → every student-matched event (1.5M + 1M)", "matching", "files_to_events_seconds", "≤", 20,
         floor=("floor.parse", "floor.join", "floor.produce")),
    Goal(3, "比对: peak memory of the pipeline", "matching", "peak_rss_mb", "≤", 2048, "MB"),
    Goal(3, "比对: re-import of a list with 1% changed", "matching", "reimport_1pct", "≤", 3),
    Goal(5, "发放: bank file for 1M payments written", "payments", "file.write", "≤", 10, floor=("floor.write",)),
    Goal(5, "发放: return file of 1M lines reconciled", "payments", "return.reconcile", "≤", 30, floor=("floor.read",)),
    Goal(6, "个人查询: lookups per second", "lookup", "api.rps", "≥", 3000, "req/s", floor=("floor.qps",)),
    Goal(6, "个人查询: p99 latency", "lookup", "api.p99_ms", "≤", 20, "ms", floor=("floor.p99_ms",)),
    Goal(10, "个人查询 while a roster as large imports: lookups per second", "lookup", "during_import.rps", "≥", 3000,
         "req/s"),
    Goal(10, "个人查询 while a roster as large imports: p99 latency", "lookup", "during_import.p99_ms", "≤", 20, "ms"),
    Goal(6, "个人查询: timing spread found / wrong name / unknown (median)", "lookup", "timing.spread_ms", "≤", 1, "ms"),
    Goal(6, "query catches up after 150k student-matched", "read_side", "query.catch_up", "≤", 10,
         floor=("floor.read",)),
    Goal(6, "reporting catches up after 150k student-matched", "read_side", "reporting.catch_up", "≤", 10,
         floor=("floor.read",)),
    Goal(10, "verification takes in 150k student-matched (alone, start included)", "read_side",
         "verification.events_per_s", "", 0, "events/s"),
    Goal(7, "personal field sealed (AES-GCM) in Python", "field_crypto", "microseconds_per_field.seal", "", 0, "µs",
         floor=("microseconds_per_field.floor",)),
    Goal(7, "a student's name and ID number sealed under their own data key, native", "field_crypto",
         "students.microseconds_per_student.native.seal", "", 0, "µs"),
    Goal(7, "the same in Python (the fallback without a Rust toolchain)", "field_crypto",
         "students.microseconds_per_student.python.seal", "", 0, "µs"),
    Goal(10, "broker restart: a new event through query and verification", "recovery", "broker.event_path", "≤", 30),
    Goal(10, "database restart: a new event through query and verification", "recovery", "database.event_path",
         "≤", 30),
    Goal(10, "load: events/s sustained (1,000/s asked, for 10 min)", "load", "achieved_rate", "≥", 990, "events/s"),
    Goal(10, "load: largest lag of any group (≤ 10 s of traffic)", "load", "max_lag", "≤", 10_000, "events"),
    Goal(10, "load: lag growth over the second half, worst group", "load", "lag_slope", "≤", 10, "events/s"),
    Goal(10, "load: every group drained after the load stops", "load", "drain_seconds", "≤", 30, none_is_missed=True),
    Goal(10, "load: memory growth of the services and Kafka, worst (end ÷ 1 min)", "load", "memory_growth", "≤", 1.1,
         "×", skip=("postgres", "postgres-pss")),
    Goal(10, "load: dead letters + failed calls + 5xx + dead processes", "load",
         "dead_letters.count|api.failed|api.server_errors|died", "≤", 0, ""),
    Goal(10, "idle memory of the whole platform (13 processes, Kafka, PostgreSQL; PSS)", "load",
         "idle_memory.pss_total_mb", "", 0, "MB"),
)


def dig(data, path: str):
    """``data[path]``, where a path's parts are nested keys or keys that hold dots themselves."""
    if not path:
        return data
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        key = ".".join(parts[:i])
        if isinstance(data, dict) and key in data:
            return dig(data[key], ".".join(parts[i:]))
    return None


def _figure(found: dict, goal: Goal):
    """The figure at ``goal.path``: the sum where it names several (``a|b``; a list counts its
    items), the largest value where it is a mapping (but ``goal.skip``)."""
    parts = [dig(found, p) for p in goal.path.split("|")]
    if None in parts:
        return None
    parts = [len(x) if isinstance(x, list) else x for x in parts]
    if len(parts) > 1:
        return sum(parts)
    if isinstance(parts[0], dict):
        return max((v for k, v in parts[0].items() if k not in goal.skip and v is not None), default=None)
    return parts[0]


def evaluate(goal: Goal, results: dict) -> dict:
    """The goal with its figure from the results, its floor and ratio, and the verdict."""
    found = results.get(goal.file)
    figure = _figure(found, goal) if found is not None else None
    floors = [dig(found, p) for p in goal.floor] if found is not None else []
    floor = round(sum(floors), 3) if floors and None not in floors else None
    if figure is None:  # no results, or (``none_is_missed``) a run that never reached it: a drain without end
        verdict = "missed" if found is not None and goal.none_is_missed else "not run"
    elif not goal.op:
        verdict = "reported"
    else:
        verdict = "met" if (figure <= goal.bar if goal.op == "≤" else figure >= goal.bar) else "missed"
    headroom = None
    if figure is not None and goal.op:
        if goal.bar == 0 or figure == 0:  # nothing allowed (errors), or nothing measured
            headroom = 1.0 if verdict == "met" else 0.0
        else:
            headroom = goal.bar / figure if goal.op == "≤" else figure / goal.bar
    return {"issue": goal.issue, "title": goal.title, "file": goal.file, "path": goal.path, "op": goal.op,
            "bar": goal.bar, "unit": goal.unit, "figure": figure, "floor": floor,
            "ratio_to_floor": round(figure / floor, 2) if figure is not None and floor else None,
            "headroom": round(headroom, 3) if headroom is not None else None, "verdict": verdict}
