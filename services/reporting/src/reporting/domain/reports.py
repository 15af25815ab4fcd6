"""The reports bureaus read, shaped from the counters: rows one level down (city, county or
school), the words of their columns, and completion (完成率)."""

from __future__ import annotations

from aid_contracts import labels, regions
from reporting.domain.counts import FUNDING_METRICS, PROGRESS_METRICS

TITLES = {"progress": "资助工作进度 (progress by jurisdiction)", "funding": "资助资金发放 (funding by programme and period)",
          "unfunded": "建档立卡未资助原因 (why registered-poor students were not funded)",
          "checks": "异常数据核查汇总 (abnormal-record checks)"}
PROGRESS_WORDS = {"code": "地区/学校", "name": "名称", "students": "学生数", "matched": "比对在册", "pending": "待核对",
                  "verified_unchanged": "已核对未更新", "verified_updated": "已核对已更新", "invalid": "无效",
                  "withdrawn": "比对已撤销", "supplemented": "学校补录", "published": "已公示", "paid": "已发放人数",
                  "paid_yuan": "发放金额(元)", "payment_failed": "发放失败", "completion": "核对完成率(%)",
                  "tasks": "核对任务", "answered": "学校已核对", "submitted": "已上报待审核", "approved": "审核通过",
                  "returned": "审核退回", "overdue": "逾期未完成"}
TASK_COLUMNS = ("tasks", "answered", "submitted", "approved", "returned", "overdue")
CHECK_WORDS = {"code": "地区/学校", "name": "名称", "records": "核查记录", "answered": "已反馈",
               **labels.CHECK_ANSWER, "overdue": "逾期未反馈", "completion": "反馈率(%)"}
FUNDING_WORDS = {"programme_code": "项目代码", "programme_name": "资助项目", "period": "期次", "listed": "公示人数",
                 "final": "公示结束", "paid": "已发放人数", "paid_yuan": "发放金额(元)", "payment_failed": "发放失败"}


def yuan(fen: int) -> str:
    return f"{fen / 100:.2f}"


def _names(codes, schools: dict[str, str] | None) -> dict[str, str]:
    """Regions by their GB/T 2260 names, schools by the names their county gave them (机构)."""
    return regions.names(list(codes)) | (schools or {})


def progress_rows(pivot: dict[str, dict[str, int]], tasks: dict[str, dict[str, int]] | None = None,
                  schools: dict[str, str] | None = None) -> list[dict]:
    """One row per region or school: every metric, the amount in yuan, completion in %, and the
    verification tasks' answers, audits and overdue ones."""
    tasks = tasks or {}
    rows, names = [], _names(pivot | tasks, schools)
    for code in sorted(pivot.keys() | tasks.keys()):
        metrics, work = pivot.get(code, {}), tasks.get(code, {})
        row = {"code": code, "name": names.get(code, ""), **{m: int(metrics.get(m, 0)) for m in PROGRESS_METRICS}}
        row["paid_yuan"] = yuan(row.pop("paid_fen"))
        row["completion"] = completion(row)
        row.update({m: int(work.get(m, 0)) for m in TASK_COLUMNS})
        rows.append(row)
    return rows


def completion(row: dict) -> float:
    """Answered (verified or invalid) of the students to answer (withdrawn ones are not), in %."""
    answered = row["verified_unchanged"] + row["verified_updated"] + row["invalid"]
    due = row["students"] - row["withdrawn"]
    return round(100 * answered / due, 1) if due else 0.0


def totals(rows: list[dict]) -> dict:
    numbers = {k: sum(r[k] for r in rows) for k in PROGRESS_METRICS if k != "paid_fen"}
    paid = sum(round(float(r["paid_yuan"]) * 100) for r in rows)
    total = {"code": "合计", "name": "", **numbers, "paid_yuan": yuan(paid)}
    total["completion"] = completion(total)
    total.update({m: sum(r[m] for r in rows) for m in TASK_COLUMNS})
    return total


def funding_rows(pivot: dict[tuple[str, str], dict[str, int]], names: dict[str, str]) -> list[dict]:
    rows = []
    for (programme, period), metrics in sorted(pivot.items()):
        row = {"programme_code": programme, "programme_name": names.get(programme, programme), "period": period,
               **{m: int(metrics.get(m, 0)) for m in FUNDING_METRICS}}
        row["paid_yuan"] = yuan(row.pop("paid_fen"))
        rows.append(row)
    return rows


def unfunded_words() -> dict[str, str]:
    return {"code": "地区/学校", "name": "名称", **{code: labels.UNFUNDED_REASON[code] for code in labels.UNFUNDED_REASON},
            "total": "合计"}


def unfunded_rows(pivot: dict[str, dict[str, int]], schools: dict[str, str] | None = None) -> list[dict]:
    rows, names = [], _names(pivot, schools)
    for code, reasons in sorted(pivot.items()):
        row = {"code": code, "name": names.get(code, ""), **{r: int(reasons.get(r, 0)) for r in labels.UNFUNDED_REASON}}
        row["total"] = sum(row[r] for r in labels.UNFUNDED_REASON)
        rows.append(row)
    return rows


def check_rows(pivot: dict[str, dict[str, int]], schools: dict[str, str] | None = None) -> list[dict]:
    """One row per region or school: records, answered, each answer, overdue and answered in %."""
    rows, names = [], _names(pivot, schools)
    for code, counts in sorted(pivot.items()):
        row = {"code": code, "name": names.get(code, ""), "records": counts["records"], "answered": counts["answered"],
               **{a: int(counts.get(a, 0)) for a in labels.CHECK_ANSWER}, "overdue": counts["overdue"]}
        row["completion"] = round(100 * row["answered"] / row["records"], 1) if row["records"] else 0.0
        rows.append(row)
    return rows
