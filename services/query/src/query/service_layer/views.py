"""The jurisdiction views as SQL: a page of students, the drill-down summary, every row for an export."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass

from sqlalchemy import and_, exists, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from query.adapters import tables
from aid_chassis.auth import level_below
from aid_contracts import regions
from aid_contracts.lifecycle import VALID
from query.domain.views import Scope

S, A, R = tables.students.c, tables.aid_records.c, tables.unfunded_reasons.c
POOR = "registered_poor"
EXPORT_CHUNK = 5_000


@dataclass(frozen=True)
class Filters:
    """What a user narrows a view by (all optional, except the period of the unfunded view)."""

    category: str | None = None
    stage: str | None = None
    status: str | None = None
    programme: str | None = None
    period: str | None = None
    school_code: str | None = None

    def describe(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _region(scope: Scope):
    return S.enrolment_region if scope.dimension == "enrolment" else S.household_region


def _paid(period: str | None):
    clauses = [A.student_key == S.student_key, A.status == "paid"]
    return exists().where(*clauses, *([A.period == period] if period else []))


def _where(view: str, scope: Scope, f: Filters) -> list:
    clauses = [S.school_code == scope.school_code] if scope.school_code else (
        [_region(scope).startswith(scope.prefix, autoescape=True)] if scope.prefix else [])
    if view == "elsewhere":
        clauses.append(~S.enrolment_region.startswith(scope.home, autoescape=True))
    elif view == "self-collected":
        clauses += [S.origin == "supplementary", S.categories.contains([POOR])]
    elif view == "unfunded":
        clauses += [S.categories.contains([POOR]), S.status.in_(VALID), ~_paid(f.period)]
    if f.category:
        clauses.append(S.categories.contains([f.category]))
    if f.stage:
        clauses.append(S.stage == f.stage)
    if f.status:
        clauses.append(S.status.in_(VALID) if f.status == "verified" else S.status == f.status)
    if f.school_code:
        clauses.append(S.school_code == f.school_code)
    if view != "unfunded" and (f.programme or f.period):
        aid = [A.student_key == S.student_key, A.status != "removed",
               *([A.programme_code == f.programme] if f.programme else []),
               *([A.period == f.period] if f.period else [])]
        clauses.append(exists().where(*aid))
    return clauses


SHOWN = [c for c in tables.students.c if c.name != "first_line"]  # a view's columns: not the timeline's line


def _rows(view: str, f: Filters):
    if view != "unfunded":
        return select(*SHOWN, literal(None).label("reason"))
    return (select(*SHOWN, R.reason)
            .outerjoin(tables.unfunded_reasons, and_(R.student_key == S.student_key, R.period == f.period)))


async def page(session: AsyncSession, view: str, scope: Scope, f: Filters, *, limit: int,
               after: tuple[str, str] | None) -> tuple[list, int, bool]:
    """A page of students in (school, key) order after the cursor, the total, and whether more follow."""
    where = _where(view, scope, f)
    stmt = _rows(view, f).where(*where).order_by(S.school_code, S.student_key).limit(limit + 1)
    if after:
        stmt = stmt.where(tuple_(S.school_code, S.student_key) > tuple_(*after))
    rows = (await session.execute(stmt)).all()
    total = await session.scalar(select(func.count()).select_from(tables.students).where(*where))
    return rows[:limit], int(total or 0), len(rows) > limit


async def summary(session: AsyncSession, view: str, scope: Scope, f: Filters) -> tuple[str, list[dict]]:
    """Counts one level down (cities, counties or schools) for drill-down; the level's name."""
    level = level_below(scope.prefix, scope.school_code)
    group = S.school_code if level.digits is None else func.substr(_region(scope), 1, level.digits)
    stmt = select(
        group.label("code"), func.count().label("students"),
        func.count().filter(S.status == "matched").label("pending"),
        func.count().filter(S.status.in_(VALID)).label("verified"),
        func.count().filter(S.status == "invalid").label("invalid"),
        func.count().filter(S.status == "withdrawn").label("withdrawn"),
        func.count().filter(_paid(f.period)).label("paid"),
    ).where(*_where(view, scope, f)).group_by(group).order_by(group)
    rows = [dict(r._mapping) for r in await session.execute(stmt)]
    names = regions.names([row["code"] for row in rows])  # 贵阳市, 观山湖区 … (schools have codes only)
    return level.name, [{"code": row["code"], "name": names.get(row["code"]), **row} for row in rows]


async def every_row(session: AsyncSession, view: str, scope: Scope, f: Filters) -> AsyncIterator:
    """Every student of the view in order, read in chunks from a server-side cursor."""
    stmt = _rows(view, f).where(*_where(view, scope, f)).order_by(S.school_code, S.student_key)
    result = await session.stream(stmt.execution_options(yield_per=EXPORT_CHUNK))
    async for partition in result.partitions():
        for row in partition:
            yield row


async def count(session: AsyncSession, view: str, scope: Scope, f: Filters) -> int:
    return int(await session.scalar(select(func.count()).select_from(tables.students)
                                    .where(*_where(view, scope, f))) or 0)
