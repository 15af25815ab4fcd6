"""What a verification task adds to the task counters (核对与审核进度), and which of two states of a
task is the later one. Only open tasks count; a task counts once per category and once under ``*``.

Metrics: tasks (核对任务), answered (学校已核对, whatever the audit), submitted (已上报待审核),
approved (审核通过), returned (审核退回), unfinished (not yet approved). Counters are kept per task
batch, so "overdue" (逾期未完成) is the unfinished tasks of the batches whose deadline has passed,
summed when a report is read: moving a deadline changes no counter.
"""

from __future__ import annotations

from collections import Counter

from aid_contracts import TaskProgressed
from aid_contracts.lifecycle import Row
from reporting.domain.counts import ALL, DIMENSIONS

TASK_METRICS = ("tasks", "answered", "submitted", "approved", "returned", "unfinished")


def task_row(student_key: str, event: TaskProgressed) -> Row:
    """The state reporting keeps of a task (no personal data)."""
    return {"task_id": event.task_id, "student_key": student_key, "sequence": event.sequence,
            "school_code": event.school_code, "stage": event.stage.value if event.stage else "", "enrolment_region": event.enrolment_region,
            "household_region": event.household_region, "categories": [c.value for c in event.categories],
            "batch_id": event.batch_id or "", "status": event.status, "audit_state": event.audit_state,
            "open": event.open}


def is_later(stored: Row | None, sequence: int) -> bool:
    """An event's state replaces the stored one only when it is later (a redelivered or republished
    older state changes nothing)."""
    return stored is None or sequence > stored["sequence"]


def task_contributions(task: Row | None, out: Counter) -> Counter:
    """Every task counter this task is in, with what it adds, added to ``out``."""
    if task is None or not task["open"]:
        return out
    state = task["audit_state"]
    values = {"tasks": 1, "answered": task["status"] != "pending", "submitted": state == "submitted",
              "approved": state == "approved", "returned": state == "returned", "unfinished": state != "approved"}
    for dimension, column in DIMENSIONS.items():
        for category in (ALL, *task["categories"]):
            for metric, value in values.items():
                if value:
                    out["tasks", dimension, task[column], task["school_code"], category, task["stage"],
                        task["batch_id"], metric] += 1
    return out
