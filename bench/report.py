"""The generated part of ``docs/benchmarks.md`` (between its markers) and the goals chart (SVG)."""

from __future__ import annotations

import json
import math
import os
from datetime import UTC, datetime
from html import escape
from pathlib import Path

BEGIN, END = "<!-- bench/suite.py: begin -->", "<!-- bench/suite.py: end -->"
CHART = "benchmarks-goals.svg"
VERDICT = {"met": "**met**", "missed": "**missed**", "reported": "reported", "not run": "not run"}


def save(path: Path, found: dict) -> None:
    """Write a benchmark's figures to ``bench/results/<name>.json`` with the moment they were
    measured (the table tells a result rerun alone from those of the suite's run). With
    ``BENCH_RESULTS_DIR`` (the test suite's small runs, ``tests/test_benchmarks.py``) they go to
    that directory instead and the recorded results stay as they are."""
    if elsewhere := os.environ.get("BENCH_RESULTS_DIR"):
        path = Path(elsewhere) / path.name
    path.parent.mkdir(parents=True, exist_ok=True)
    stamped = {**found, "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}
    path.write_text(json.dumps(stamped, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def number(x) -> str:
    if x is None:
        return "—"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.3g}" if isinstance(x, float) else f"{x:,}"


def table(summary: dict) -> str:
    m = summary["machine"]
    lines = [f"Run of {summary['at']} (`BENCH_SCALE={summary['scale']}`) on {m['cpus']} CPUs, "
             f"{m['memory_mb']:,} MB, Python {m['python']}; every figure from `bench/results/<file>.json`, "
             f"the verdicts in `bench/results/summary.json`.", "",
             "| issue | figure | measured | bar | floor (same run) | ratio | verdict |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for g in summary["goals"]:
        bar = f"{g['op']} {number(g['bar'])} {g['unit']}" if g["op"] else "—"
        measured = f"{number(g['figure'])} {g['unit']}" if g["figure"] is not None else "—"
        lines.append(f"| {g['issue']} | {g['title']} (`{g['file']}`: `{g['path']}`) | {measured} | {bar} | "
                     f"{number(g['floor'])} | {number(g['ratio_to_floor'])} | {VERDICT[g['verdict']]} |")
    runs = ", ".join(f"{k} {v['seconds']:.0f} s" for k, v in summary["runs"].items())
    elsewhere = not_from_the_run(summary)
    met = sum(g["verdict"] == "met" for g in summary["goals"])
    judged = sum(g["verdict"] in ("met", "missed") for g in summary["goals"])
    lines += ["", f"**{met} of {judged} judged goals met.** Time of each benchmark: {runs or '—'}."
              + (" Not from this run: " + ", ".join(f"{k} ({at or 'undated'})" for k, at in elsewhere.items()) + "."
                 if elsewhere else ""), "",
              f"![Each goal's headroom: the bar ÷ the figure (≤ goals) or the figure ÷ the bar (≥ goals); "
              f"right of 1 is met]({CHART})"]
    return "\n".join(lines)


def not_from_the_run(summary: dict) -> dict[str, str | None]:
    """The goals' result files measured outside the suite's run (rerun alone later, left from an
    earlier run, or undated), with when. A summary from before results were dated tells only
    those measured after it."""
    started, at = summary.get("started"), summary.get("at")
    out = {}
    for name, when in summary.get("measured", {}).items():
        if when is None:
            if started is not None:
                out[name] = None
        elif (started is not None and when < started) or (at is not None and when > at):
            out[name] = when
    return out


def chart(summary: dict) -> str:
    """Horizontal bars on a log scale: headroom per judged goal, the line at 1 is the bar."""
    goals = [g for g in summary["goals"] if g["headroom"] is not None]
    width, left, row, top = 900, 430, 22, 30
    height = top + row * len(goals) + 30
    low, high = math.log2(0.25), math.log2(16)

    def x(v: float) -> float:
        clipped = min(max(math.log2(max(v, 1e-9)), low), high)
        return left + (clipped - low) / (high - low) * (width - left - 20)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
           f'font-size="12"><rect width="100%" height="100%" fill="white"/>',
           '<text x="10" y="18" font-weight="bold">Headroom per goal (log scale; 1 = at the bar, right = met)</text>']
    for i, g in enumerate(goals):
        y = top + i * row
        colour = "#2e7d32" if g["verdict"] == "met" else "#c62828"
        out.append(f'<text x="10" y="{y + 14}">{escape(g["title"][:62])}</text>')
        out.append(f'<rect x="{x(0.25):.1f}" y="{y + 3}" width="{x(g["headroom"]) - x(0.25):.1f}" height="{row - 6}" '
                   f'fill="{colour}"/>')
        out.append(f'<text x="{x(g["headroom"]) + 4:.1f}" y="{y + 14}">{g["headroom"]:.2f}</text>')
    for tick in (0.25, 0.5, 1, 2, 4, 8, 16):
        out.append(f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{top}" y2="{height - 25}" '
                   f'stroke="{"black" if tick == 1 else "#ccc"}"/>')
        out.append(f'<text x="{x(tick) - 8:.1f}" y="{height - 10}">{tick:g}</text>')
    return "\n".join(out + ["</svg>"]) + "\n"


def write_docs(summary: dict, docs: Path) -> None:
    page = docs / "benchmarks.md"
    text = page.read_text()
    generated = f"{BEGIN}\n{table(summary)}\n{END}"
    if BEGIN in text:
        text = text[:text.index(BEGIN)] + generated + text[text.index(END) + len(END):]
    else:  # first time: after the introduction
        head, _, rest = text.partition("\n## ")
        text = f"{head}\n## Every goal in one table (`make bench`)\n\n{generated}\n\n## {rest}"
    page.write_text(text)
    (docs / CHART).write_text(chart(summary))
