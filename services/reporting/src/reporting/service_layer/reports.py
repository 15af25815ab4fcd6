"""Reading the counters for a report: a jurisdiction (a region prefix on a dimension, or a
school), grouped one level down; a few thousand counter rows, never the students."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import accumulate

from datetime import date

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis.auth import Level, level_below
from reporting.adapters import tables
from reporting.domain.counts import with_totals


@dataclass(frozen=True)
class Scope:
    dimension: str  # enrolment or household
    prefix: str = ""
    school_code: str | None = None

    @property
    def level(self) -> Level:
        return level_below(self.prefix, self.school_code)


def _where(table: Table, scope: Scope) -> list:
    c = table.c
    clauses = [c.dimension == scope.dimension]
    if scope.school_code:
        clauses.append(c.school_code == scope.school_code)
    elif scope.prefix:
        clauses.append(c.region.startswith(scope.prefix, autoescape=True))
    return clauses


def _group(table: Table, scope: Scope):
    level = scope.level
    return table.c.school_code if level.digits is None else func.substr(table.c.region, 1, level.digits)


async def _by_metric(session: AsyncSession, table: Table, scope: Scope, category: str, stage: str | None):
    """region or school → metric → count of a counter table with category and stage columns, and the
    grouping and filter used (for a further query on the same rows)."""
    group = _group(table, scope).label("code")
    c = table.c
    where = [*_where(table, scope), c.category == category, *([c.stage == stage] if stage else [])]
    stmt = select(group, c.metric, func.sum(c.value)).where(*where).group_by(group, c.metric)
    pivot: dict[str, dict[str, int]] = defaultdict(dict)
    for code, metric, value in await session.execute(stmt):
        pivot[code][metric] = int(value)
    return pivot, group, where


async def progress(session: AsyncSession, scope: Scope, *, category: str = "*", stage: str | None = None
                   ) -> dict[str, dict[str, int]]:
    """region or school → metric → count, for one category (``*``: every student once); students and
    matched derived from the stored metrics."""
    pivot, _, _ = await _by_metric(session, tables.progress_counts, scope, category, stage)
    return {code: with_totals(metrics) for code, metrics in pivot.items()}


async def funding(session: AsyncSession, scope: Scope, *, period: str | None = None, programme: str | None = None
                  ) -> tuple[dict[tuple[str, str], dict[str, int]], dict[str, str]]:
    """(programme, period) → metric → count, and the programmes' names."""
    t = tables.funding_counts
    where = [*_where(t, scope), *([t.c.period == period] if period else []),
             *([t.c.programme_code == programme] if programme else [])]
    stmt = (select(t.c.programme_code, t.c.period, t.c.metric, func.sum(t.c.value)).where(*where)
            .group_by(t.c.programme_code, t.c.period, t.c.metric))
    pivot: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for programme_code, period_, metric, value in await session.execute(stmt):
        pivot[programme_code, period_][metric] = int(value)
    names = dict((await session.execute(select(tables.programmes))).all())
    return pivot, names


async def unfunded(session: AsyncSession, scope: Scope, *, period: str) -> dict[str, dict[str, int]]:
    """region or school → reason → students, for one period."""
    t = tables.unfunded_counts
    group = _group(t, scope).label("code")
    stmt = (select(group, t.c.reason, func.sum(t.c.value)).where(*_where(t, scope), t.c.period == period)
            .group_by(group, t.c.reason))
    pivot: dict[str, dict[str, int]] = defaultdict(dict)
    for code, reason, value in await session.execute(stmt):
        pivot[code][reason] = int(value)
    return pivot


async def trend(session: AsyncSession, scope: Scope) -> dict[str, list]:
    """Cumulative verified and paid students by day (a school's trend is its county's)."""
    t = tables.daily_counts
    prefix = scope.school_code[:6] if scope.school_code else scope.prefix
    where = [t.c.dimension == scope.dimension, *([t.c.region.startswith(prefix, autoescape=True)] if prefix else [])]
    stmt = (select(t.c.day, t.c.metric, func.sum(t.c.value)).where(*where, t.c.metric.in_(["verified", "paid"]))
            .group_by(t.c.day, t.c.metric).order_by(t.c.day))
    by_day: dict = defaultdict(lambda: {"verified": 0, "paid": 0})
    for day, metric, value in await session.execute(stmt):
        by_day[day][metric] = int(value)
    days = sorted(by_day)
    return {"days": [d.isoformat() for d in days],
            "verified": list(accumulate(by_day[d]["verified"] for d in days)),
            "paid": list(accumulate(by_day[d]["paid"] for d in days))}


async def tasks(session: AsyncSession, scope: Scope, *, today: date, category: str = "*", stage: str | None = None
                ) -> dict[str, dict[str, int]]:
    """region or school → task metric → count (open tasks, summed over batches), with ``overdue``:
    the unfinished tasks of batches whose verification deadline is before ``today``."""
    t, d = tables.task_counts, tables.deadlines
    pivot, group, where = await _by_metric(session, t, scope, category, stage)
    late = select(d.c.batch).where(d.c.kind == "verification", d.c.due < today)
    stmt = (select(group, func.sum(t.c.value)).where(*where, t.c.metric == "unfinished", t.c.batch_id.in_(late))
            .group_by(group))
    for code, value in await session.execute(stmt):
        pivot[code]["overdue"] = int(value)
    return pivot


async def checks(session: AsyncSession, scope: Scope, *, today: date, check_id: str | None = None
                 ) -> dict[str, dict[str, int]]:
    """region or school → records, answered, each answer's count and overdue (unanswered records of
    checks whose deadline is before ``today``), over the abnormal-record checks (or one)."""
    c, d = tables.check_schools, tables.deadlines
    level = scope.level
    group = c.c.school_code if level.digits is None else func.substr(c.c.county, 1, level.digits)
    where = [*([c.c.school_code == scope.school_code] if scope.school_code else []),
             *([c.c.county.startswith(scope.prefix, autoescape=True)] if scope.prefix and not scope.school_code else []),
             *([c.c.check_id == check_id] if check_id else [])]
    late = select(d.c.batch).where(d.c.kind == "abnormal_check", d.c.due < today)
    stmt = select(group.label("code"), c.c["items"], c.c.answers, c.c.check_id.in_(late)).where(*where)
    pivot: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for code, items, answers, overdue in await session.execute(stmt):
        answered = sum(answers.values())
        row = pivot[code]
        row["records"] += items
        row["answered"] += answered
        row["overdue"] += (items - answered) if overdue else 0
        for answer, n in answers.items():
            row[answer] += n
    return pivot


async def school_names(session: AsyncSession, codes) -> dict[str, str]:
    """The names of the schools among ``codes`` (one per code; unnamed and region codes left out)."""
    s = tables.schools.c
    stmt = (select(s.code, s.name).where(s.code.in_(sorted(set(codes))), s.name != "")
            .order_by(s.code, s.active, s.changed_at))  # the active, latest name last: it wins
    return dict((await session.execute(stmt)).all())
