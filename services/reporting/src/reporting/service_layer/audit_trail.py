"""Bureaus' search of every service's audit entries (审计日志查询): who did what, when, to which
record. Entries arrive as ``audit-recorded`` events; each is seen in the jurisdiction of the
institution that acted (a school's county, a bureau's region); entries of the system, operators
and departments only by province bureaus."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis.auth import Principal, Role, region_prefix
from aid_chassis.projection import insert_new
from aid_contracts import AuditRecorded, Envelope
from reporting.adapters import tables
from reporting.domain.counts import CHINA

A = tables.audit_trail.c
COLUMNS = ("service", "entry_id", "at", "actor", "role", "institution", "action", "entity", "entity_id", "detail",
           "trace_id")


def region_of(role: str | None, institution: str | None) -> str:
    """The region prefix whose bureaus see an entry ('' for the system, operators and departments)."""
    if role == Role.SCHOOL.value and institution:
        return institution[:6]
    if role in {r.value for r in (Role.PROVINCE_BUREAU, Role.CITY_BUREAU, Role.COUNTY_BUREAU)} and institution:
        return region_prefix(institution)
    return ""


async def keep(session: AsyncSession, envelopes: list[Envelope]) -> None:
    """Store the entries (an entry seen again changes nothing)."""
    rows = []
    for env in envelopes:
        entry = env.parse(AuditRecorded)
        rows.append({**entry.model_dump(exclude={"prev_hash"}), "region": region_of(entry.role, entry.institution)})
    await insert_new(session, tables.audit_trail, sorted(rows, key=lambda r: (r["service"], r["entry_id"])))


@dataclass(frozen=True)
class Search:
    """What a bureau looks for; every field narrows (None: any)."""

    service: str | None = None
    actor: str | None = None
    action: str | None = None
    entity: str | None = None
    target: str | None = None  # the record's id (entity_id)
    since: date | None = None  # days in Beijing time, both included
    until: date | None = None


def _where(who: Principal, search: Search) -> list:
    prefix = who.region_prefix or ""
    seen = A.region.startswith(prefix, autoescape=True)
    clauses = [or_(seen, A.region == "") if who.role is Role.PROVINCE_BUREAU else (seen & (A.region != ""))]
    for column, value in ((A.service, search.service), (A.actor, search.actor), (A.action, search.action),
                          (A.entity, search.entity), (A.entity_id, search.target)):
        if value:
            clauses.append(column == value)
    if search.since:
        clauses.append(A.at >= datetime.combine(search.since, time(), CHINA))
    if search.until:
        clauses.append(A.at < datetime.combine(search.until + timedelta(days=1), time(), CHINA))
    return clauses


async def search(session: AsyncSession, who: Principal, wanted: Search, *, limit: int, offset: int
                 ) -> tuple[int, list[dict]]:
    """The matching entries, newest first, and how many match in all."""
    where = _where(who, wanted)
    total = await session.scalar(select(func.count()).select_from(tables.audit_trail).where(*where))
    stmt = (select(*[A[c] for c in COLUMNS]).where(*where).order_by(A.at.desc(), A.service, A.entry_id.desc())
            .limit(limit).offset(offset))
    return total, [dict(row) for row in (await session.execute(stmt)).mappings()]
