"""What one student adds to the live aggregates (资助工作进度): a pure function of the student's
state, so a change is applied as (what they add now) − (what they added before).

Buckets, on both dimensions (学籍所在地 enrolment, 户籍所在地 household) and per school:
- progress: per category (and ``*`` for every student once) and stage — pending (待核对), each
  verification status, withdrawn, unmatched, supplemented (学校补录), published, paid (students)
  and paid_fen, payment_failed. Students and matched are not stored but derived when read
  (``with_totals``): every student has exactly one status, so a student still pending writes one
  row per bucket instead of three;
- funding: per programme and period — listed, final, paid, paid_fen, payment_failed (an entry
  taken off its list under notice counts in none);
- unfunded: per period and reason — verified registered-poor students not paid in the period
  whose school reported why;
- daily: per county and day — verified (by approval date), paid and paid_fen (by payment date).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from aid_contracts.lifecycle import VALID, Row

ALL = "*"  # every student once, whatever their categories
DIMENSIONS = {"enrolment": "enrolment_region", "household": "household_region"}
STATUS_METRICS = ("pending", "verified_unchanged", "verified_updated", "invalid", "withdrawn")
PROGRESS_METRICS = ("students", "matched", *STATUS_METRICS, "supplemented", "published", "paid", "paid_fen",
                    "payment_failed")
FUNDING_METRICS = ("listed", "final", "paid", "paid_fen", "payment_failed")
POOR = "registered_poor"
CHINA = ZoneInfo("Asia/Shanghai")  # days are counted in Beijing time


def _progress(student: Row, aid: Sequence[Row]) -> dict[str, int]:
    status = student["status"]
    if not aid and student["matched"] and student["origin"] != "supplementary":
        return {"pending" if status == "matched" else status: 1}  # the common case: one status, nothing else
    values = {"pending" if status == "matched" else status: 1}
    if not student["matched"]:
        values["unmatched"] = 1
    if student["origin"] == "supplementary":
        values["supplemented"] = 1
    aid = [a for a in aid if a["status"] != "removed"]  # taken off a list under notice: not published
    if aid:  # a student just matched has none: the common case stops here
        values["published"] = 1
        paid = [a for a in aid if a["status"] == "paid"]
        if paid:
            values["paid"] = 1
            values["paid_fen"] = sum(a["amount_fen"] for a in paid)
        if any(a["status"] == "payment_failed" for a in aid):
            values["payment_failed"] = 1
    return {k: v for k, v in values.items() if v}


def with_totals(metrics: dict[str, int]) -> dict[str, int]:
    """A progress bucket's stored metrics with the derived ones: students (the sum of the statuses)
    and matched (students − unmatched). Students and matched rows a worker of the previous version
    added after migration 0008 count as what they say: unmatched moves by their difference."""
    students = sum(metrics.get(m, 0) for m in STATUS_METRICS)
    unmatched = metrics.get("unmatched", 0) + metrics.get("students", 0) - metrics.get("matched", 0)
    return {**metrics, "unmatched": unmatched, "students": students, "matched": students - unmatched}


def _funding(record: Row) -> dict[str, int]:
    status = record["status"]
    values = {"listed": int(status != "removed"), "final": int(status in ("final", "paid", "payment_failed")),
              "paid": int(status == "paid"), "paid_fen": record["amount_fen"] if status == "paid" else 0,
              "payment_failed": int(status == "payment_failed")}
    return {k: v for k, v in values.items() if v}


def contributions(student: Row | None, aid: Sequence[Row], reasons: Sequence[Row], out: Counter | None = None
                  ) -> Counter:
    """Every bucket this student counts in, with what they add to it (nothing before a student row exists),
    added to ``out`` when given (a batch sums thousands of students into one counter)."""
    out = Counter() if out is None else out
    if student is None:
        return out
    school, stage = student["school_code"], student["stage"]
    progress = list(_progress(student, aid).items())
    categories = (ALL, *student["categories"])
    unfunded = _unfunded(student, aid, reasons) if reasons else ()
    verified_on = (student["verified_at"].astimezone(CHINA).date()
                   if student["status"] in VALID and student["verified_at"] is not None else None)
    get = out.get  # not ``out[key] += value``: a new key would call Counter's __missing__ (Python) each time
    for dimension, column in DIMENSIONS.items():
        region = student[column]
        for category in categories:
            for metric, value in progress:
                key = ("progress", dimension, region, school, category, stage, metric)
                out[key] = get(key, 0) + value
        if not aid and not unfunded and verified_on is None:
            continue  # a student just matched (a burst's every student): nothing more to count
        for record in aid:
            for metric, value in _funding(record).items():
                out["funding", dimension, region, school, record["programme_code"], record["period"], metric] += value
            if record["status"] == "paid" and record["paid_on"] is not None:
                out["daily", dimension, region, record["paid_on"], "paid"] += 1
                out["daily", dimension, region, record["paid_on"], "paid_fen"] += record["amount_fen"]
        for reason in unfunded:
            out["unfunded", dimension, region, school, reason["period"], reason["reason"]] += 1
        if verified_on is not None:
            out["daily", dimension, region, verified_on, "verified"] += 1
    return out


def _unfunded(student: Row, aid: Sequence[Row], reasons: Sequence[Row]) -> list[Row]:
    """The reasons a verified registered-poor student's school gave for a period they were not paid in."""
    if POOR not in student["categories"] or student["status"] not in VALID:
        return []
    paid_periods = {a["period"] for a in aid if a["status"] == "paid"}
    return [r for r in reasons if r["period"] not in paid_periods]


def delta(before: Counter, after: Counter) -> Counter:
    """after − before, keeping negative and dropping zero changes."""
    change = Counter(after)
    change.subtract(before)
    return Counter({k: v for k, v in change.items() if v})
