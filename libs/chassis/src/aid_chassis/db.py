"""Async SQLAlchemy 2 engine and sessions on psycopg 3, built in a lifespan, never at import."""

from __future__ import annotations

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from aid_chassis.settings import ServiceSettings

CUSTOM_PLANS_ONLY = "-c plan_cache_mode=force_custom_plan"
"""The server option a worker's connections start with (``make_engine(worker=True)``)."""


def make_engine(settings: ServiceSettings, *, worker: bool = False) -> AsyncEngine:
    """An engine for the service's own database, instrumented for tracing.

    ``worker``: for a process that fills tables from events (a worker, a rebuild). Its statements
    are planned at every execution, never from a generic plan: such a table grows from empty
    under statements the driver prepares after five uses, and a generic plan cached while it
    held a few hundred rows walks the whole table for every batch after (until autovacuum's next
    ``ANALYZE``) — 60,000 events in batches of 200: reporting's server CPU 14.9 / 13.6 → 6.8 /
    7.9 s, query's 14.5 / 14.8 → 3.7 / 4.5 s (``docs/architecture.md``). Planning a batch's dozen
    statements costs far less. Server options the URL gives (``?options=``) are kept."""
    connect_args = {"options": _with_url_options(settings.database_url, CUSTOM_PLANS_ONLY)} if worker else {}
    engine = create_async_engine(  # hide_parameters: no personal data in error messages or logs
        settings.database_url, pool_size=settings.db_pool_size, pool_pre_ping=True, hide_parameters=True,
        connect_args=connect_args,
    )
    try:
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine, enable_commenter=False)
    except ImportError:  # pragma: no cover - instrumentation is a dependency
        pass
    return engine


def _with_url_options(url: str, options: str) -> str:
    """``options`` after the server options ``url`` already gives (``connect_args`` would replace them)."""
    given = make_url(url).query.get("options")
    return f"{given} {options}" if isinstance(given, str) and given else options


def make_driver_pool(settings: ServiceSettings):
    """A psycopg pool on the service's database (opened by the caller), statements prepared on reuse."""
    from psycopg_pool import AsyncConnectionPool

    conninfo = settings.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    return AsyncConnectionPool(conninfo, min_size=2, max_size=max(settings.db_pool_size, 16), open=False,
                               kwargs={"prepare_threshold": 0, "autocommit": True})


def make_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    """Raise unless the database answers."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


def any_of(column, values):
    """``column = ANY(:values)`` with one array parameter: no limit on how many, one plan to cache."""
    from sqlalchemy import any_, bindparam
    from sqlalchemy.dialects.postgresql import ARRAY

    return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))


async def driver(session):
    """The psycopg connection under an async session's transaction (for COPY and bulk statements)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection
