"""Reconciliation (对账) of a return file against its payment batch — no database."""

from __future__ import annotations

from dataclasses import dataclass

from disbursement.domain.bankfile import Result, ReturnFile

PAID, FAILED = "paid", "failed"


@dataclass(frozen=True)
class Reconciled:
    apply: list[Result]  # results that change a payment
    unchanged: int  # results already applied by an earlier import (idempotent)
    problems: list[dict]  # any problem stops the batch; nothing is applied

    @property
    def ok(self) -> bool:
        return not self.problems


def reconcile(returned: ReturnFile, lines: dict[str, tuple[int, str]]) -> Reconciled:
    """Check a return file against the batch's lines (payment id → (amount, state)).

    Problems: the header or trailer totals disagree with the lines; a line for a payment not
    in the batch; an amount that differs from the batch; a result contradicting an earlier one.
    """
    problems = totals(returned)
    apply, unchanged = [], 0
    for r in returned.results:
        line = lines.get(r.payment_id)
        if line is None:
            problems.append({"line": r.line, "code": "unknown_payment", "message": "该付款不在本批次 (not in this batch)"})
            continue
        amount, state = line
        if r.amount_fen != amount:
            problems.append({"line": r.line, "code": "amount_mismatch",
                             "message": f"金额 {r.amount_fen} 与批次 {amount} 不符 (amount differs from the batch)"})
            continue
        outcome = PAID if r.success else FAILED
        if state == outcome:
            unchanged += 1
        elif state in (PAID, FAILED):
            problems.append({"line": r.line, "code": "contradicts_earlier_return",
                             "message": f"此前回盘为 {state}，本次为 {outcome} (an earlier return said {state})"})
        else:
            apply.append(r)
    return Reconciled(apply if not problems else [], unchanged, problems)


def totals(returned: ReturnFile) -> list[dict]:
    """The file's own control totals against its lines (repeated lines count as the bank sent them)."""
    count, total, ok_count, ok_total = returned.as_sent
    problems = []
    if (returned.declared_count, returned.declared_total) != (count, total):
        problems.append({"line": 1, "code": "header_totals", "message": (
            f"H 行笔数/金额 {returned.declared_count}/{returned.declared_total} 与明细 {count}/{total} 不符 "
            "(the header's count/total differ from the lines)")})
    if returned.trailer != (count, ok_count, ok_total):
        problems.append({"line": 0, "code": "trailer_totals", "message": (
            f"T 行 {returned.trailer} 与明细 {(count, ok_count, ok_total)} 不符 "
            "(the trailer's lines/successes/success total differ from the lines)")})
    return problems
