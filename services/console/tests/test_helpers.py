"""The console's small helpers: charts drawn on the server, recent traces from trace files."""

from __future__ import annotations

import json

from console.charts import bars, trend
from console.traces import TAIL_BYTES, recent_roots


def test_bars_are_shares_of_the_largest():
    assert [b["pct"] for b in bars([("a", 5), ("b", 10), ("c", 0)])] == [50.0, 100.0, 0.0]
    assert bars([]) == [] and bars([("none", 0)])[0]["pct"] == 0.0


def test_a_trend_is_a_line_per_series_inside_the_box():
    drawn = trend({"days": ["d1", "d2", "d3"], "verified": [0, 5, 10], "paid": [0, 0, 10]}, width=200, height=100)
    assert [line["name"] for line in drawn["lines"]] == ["verified", "paid"]
    ys = [float(p.split(",")[1]) for line in drawn["lines"] for p in line["points"].split()]
    xs = [float(p.split(",")[0]) for p in drawn["lines"][0]["points"].split()]
    assert xs == [0.0, 100.0, 200.0] and min(ys) >= 0 and max(ys) <= 100
    assert drawn["lines"][0]["points"].split()[-1].endswith(",8.0")  # the top value just below the edge


def span(trace: int, name: str, end: int, parent: str | None = None) -> str:
    return json.dumps({"trace_id": f"{trace:032x}", "span_id": "1", "parent_id": parent, "name": name,
                       "service": "query", "start_ns": end - 2_000_000, "end_ns": end, "status": "UNSET"})


def test_recent_traces_are_the_newest_roots_of_every_file(tmp_path):
    (tmp_path / "query-api.jsonl").write_text("\n".join([span(1, "GET /views", 10), span(1, "child", 11, "ab"),
                                                         span(2, "POST /public/lookup", 30)]) + "\n")
    (tmp_path / "console-api.jsonl").write_text(span(3, "GET /bureau/views", 20) + "\n{not json\n")
    roots = recent_roots(tmp_path, limit=2)
    assert [r["name"] for r in roots] == ["POST /public/lookup", "GET /bureau/views"]
    assert roots[0]["ms"] == 2.0 and roots[0]["trace_id"] == f"{2:032x}"
    assert recent_roots(tmp_path / "missing") == [] and recent_roots(None) == []


def test_only_the_tail_of_a_long_file_is_read(tmp_path):
    old = span(9, "old", 1)
    lines = [old] * (TAIL_BYTES // len(old) + 10) + [span(4, "new", 99)]
    (tmp_path / "x.jsonl").write_text("\n".join(lines) + "\n")
    names = {r["name"] for r in recent_roots(tmp_path, limit=1000)}
    assert "new" in names and len([r for r in recent_roots(tmp_path, limit=10**6)]) < len(lines)
