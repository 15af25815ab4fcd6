"""The province manages programmes: a change is a new version from a later period."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis.auth import Principal
from publicity.adapters import tables
from publicity.domain.programmes import Period, Rules, check_new_version, rules_json, version_for
from publicity.service_layer.store import V, log, versions


async def current(session: AsyncSession, today: date) -> list[Rules]:
    """Every programme's rules in force this month."""
    codes = (await session.execute(select(V.code).distinct().order_by(V.code))).scalars()
    month = Period.of_month(today)
    found = []
    for code in list(codes):
        every = await versions(session, code)
        fitting = [v for v in every if Period.parse(v.effective_from) <= month]
        found.append(version_for(every, month) if fitting else min(every, key=lambda v: v.version))
    return found


async def add_version(session: AsyncSession, who: Principal, rules: Rules, today: date) -> Rules:
    """A new version of a programme (or a new programme), effective from a later period."""
    existing = (await versions(session, rules.code)) if await session.scalar(
        select(func.count()).where(V.code == rules.code)) else []
    check_new_version(rules, existing, today)
    version = max((v.version for v in existing), default=0) + 1
    await session.execute(insert(tables.programme_versions).values(
        code=rules.code, version=version, effective_key=Period.parse(rules.effective_from).key,
        rules=rules_json(rules), created_by=who.subject))
    await log(session, "programme", rules.code, "versioned", who, {"version": version, **rules_json(rules)})
    return Rules(**{**rules.__dict__, "version": version})
