"""Aid programmes (资助项目) and their versioned rules.

A programme pays students of one stage who have a qualifying category, an amount per period
(by category where the province sets tiers), on a payment calendar: monthly (中职国家助学金,
periods ``2026-11``) or per term (periods ``2026-spring`` / ``2026-autumn``). The province
changes a programme by adding a version that applies from a later period; lists of earlier
periods keep the version they were built with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from aid_contracts.events import Category, Stage, VerificationStatus

ELIGIBLE = {VerificationStatus.VERIFIED_UNCHANGED.value, VerificationStatus.VERIFIED_UPDATED.value}
ALL_CATEGORIES = frozenset(c.value for c in Category)
TERM_MONTH = {"spring": 3, "autumn": 9}
_PERIOD = re.compile(r"^(\d{4})-(spring|autumn|0[1-9]|1[0-2])$")


class ListRefused(ValueError):
    """An aid-list or programme action the rules do not allow."""

    def __init__(self, message: str, code: str = "refused") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, order=True)
class Period:
    """A payment period; ordered in time (a term sorts at its first month: March, September)."""

    key: int
    text: str = field(compare=False)
    monthly: bool = field(compare=False)

    @classmethod
    def parse(cls, text: str) -> Period:
        found = _PERIOD.match(text or "")
        if not found:
            raise ListRefused(f"期次 {text!r} 格式应为 2026-autumn、2026-spring 或 2026-11 "
                              "(period must look like 2026-autumn, 2026-spring or 2026-11)", "bad_period")
        year, part = int(found[1]), found[2]
        month = TERM_MONTH.get(part) or int(part)
        return cls(year * 100 + month, text, part not in TERM_MONTH)

    @classmethod
    def of_month(cls, day: date) -> Period:
        return cls(day.year * 100 + day.month, f"{day.year}-{day.month:02d}", True)


@dataclass(frozen=True)
class Rules:
    """One version of a programme's rules."""

    code: str
    name: str
    stage: Stage
    monthly: bool
    amount_fen: int
    categories: frozenset[str] = ALL_CATEGORIES
    amount_by_category: dict[str, int] = field(default_factory=dict)
    pay_months: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 9, 10, 11, 12)  # monthly: the academic months
    effective_from: str = "2020-spring"
    version: int = 1

    def check(self) -> None:
        """Refuse rules a province could not mean."""
        if self.amount_fen <= 0 or any(v <= 0 for v in self.amount_by_category.values()):
            raise ListRefused("金额须为正整数（分）(amounts are positive integers in fen)", "bad_amount")
        unknown = (set(self.categories) | set(self.amount_by_category)) - ALL_CATEGORIES
        if unknown or not self.categories:
            raise ListRefused(f"类别不在代码表中或为空 (unknown or no categories: {sorted(unknown)})", "bad_category")
        if not self.pay_months or any(not 1 <= m <= 12 for m in self.pay_months):
            raise ListRefused("发放月份须在 1-12 之间 (pay_months must be 1-12)", "bad_calendar")
        Period.parse(self.effective_from)

    def check_period(self, period: Period) -> None:
        """The period fits the payment calendar: a month for monthly programmes, a term otherwise."""
        if period.monthly != self.monthly:
            kind = "月份，如 2026-11 (a month)" if self.monthly else "学期，如 2026-autumn (a term)"
            raise ListRefused(f"{self.name} 按{kind}发放 ({self.code} is paid per {'month' if self.monthly else 'term'})",
                              "bad_period")
        if self.monthly and period.key % 100 not in self.pay_months:
            raise ListRefused(f"{self.name} 在 {period.text} 不发放 (no payment in {period.text})", "bad_period")

    def amount_for(self, categories: set[str]) -> int | None:
        """The amount for a student with these categories; None if none qualifies."""
        qualifying = categories & self.categories
        if not qualifying:
            return None
        return max(self.amount_by_category.get(c, self.amount_fen) for c in qualifying)


def version_for(versions: list[Rules], period: Period) -> Rules:
    """The version in force for a period: the latest whose effective_from is not after it."""
    fitting = [v for v in versions if Period.parse(v.effective_from) <= period]
    if not fitting:
        raise ListRefused(f"该期次没有生效的项目规则 (no rules in force for {period.text})", "no_rules")
    return max(fitting, key=lambda v: (Period.parse(v.effective_from), v.version))


def check_new_version(new: Rules, versions: list[Rules], today: date) -> None:
    """A change applies to later periods only: after the current month and every existing version."""
    starts = Period.parse(new.effective_from)
    if starts <= Period.of_month(today):
        raise ListRefused(f"新规则只能从以后的期次生效 (a change applies to later periods only; {new.effective_from} "
                          "has begun)", "not_later")
    latest = max((Period.parse(v.effective_from) for v in versions), default=None)
    if latest is not None and starts <= latest:
        raise ListRefused(f"已有从 {latest.text} 起生效的版本 (a version from {latest.text} exists; start later)",
                          "not_later")
    new.check()


def rules_json(rules: Rules) -> dict:
    """A version's rules as stored (the code and version are the row's key)."""
    return {"name": rules.name, "stage": rules.stage.value, "monthly": rules.monthly, "amount_fen": rules.amount_fen,
            "categories": sorted(rules.categories), "amount_by_category": dict(rules.amount_by_category),
            "pay_months": list(rules.pay_months), "effective_from": rules.effective_from}


def rules_of(code: str, version: int, data: dict) -> Rules:
    return Rules(code, data["name"], Stage(data["stage"]), data["monthly"], data["amount_fen"],
                 frozenset(data["categories"]), dict(data["amount_by_category"]), tuple(data["pay_months"]),
                 data["effective_from"], version)
