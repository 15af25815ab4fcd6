"""Async SQLAlchemy 2 engine and sessions on psycopg 3, built in a lifespan, never at import."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from aid_chassis.settings import ServiceSettings


def make_engine(settings: ServiceSettings) -> AsyncEngine:
    """An engine for the service's own database, instrumented for tracing."""
    engine = create_async_engine(  # hide_parameters: no personal data in error messages or logs
        settings.database_url, pool_size=settings.db_pool_size, pool_pre_ping=True, hide_parameters=True
    )
    try:
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine, enable_commenter=False)
    except ImportError:  # pragma: no cover - instrumentation is a dependency
        pass
    return engine


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
