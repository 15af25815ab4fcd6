"""A service's real app on a migrated database, called with dev-issuer tokens (API tests)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from aid_chassis.dev_issuer import DevIssuer


@dataclass
class Api:
    client: TestClient
    issuer: DevIssuer
    url: str
    callers: dict[str, dict]  # name -> token claims (role, region, school_code …)
    ids: dict = field(default_factory=dict)

    def headers(self, who: str | None) -> dict:
        if who is None:
            return {}
        claims = dict(self.callers[who])
        return {"Authorization": f"Bearer {self.issuer.issue(subject=who, role=claims.pop('role'), **claims)}"}

    def call(self, who: str | None, method: str, path: str, **kwargs):
        return self.client.request(method, path.format(**self.ids), headers=self.headers(who), **kwargs)

    def count(self, table, *where) -> int:
        """Rows of a table in the service's database (to show a refusal changed nothing)."""
        async def run() -> int:
            engine = create_async_engine(self.url)
            try:
                async with engine.connect() as conn:
                    return (await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one()
            finally:
                await engine.dispose()
        return asyncio.run(run())


def seed(url: str, project, envelopes) -> None:
    """Apply events to a service's database with its bulk projection (before its API starts)."""
    async def run() -> None:
        engine = create_async_engine(url)
        try:
            async with async_sessionmaker(engine)() as session, session.begin():
                await project(session, list(envelopes))
        finally:
            await engine.dispose()
    asyncio.run(run())
