"""Alembic, one history per service: the env.py helper and a programmatic upgrade."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from alembic import command, context
from alembic.config import Config
from psycopg.errors import LockNotAvailable
from sqlalchemy import MetaData, pool, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import async_engine_from_config

log = logging.getLogger(__name__)


def alembic_config(script_location: str, database_url: str) -> Config:
    """``script_location`` is ``package:migrations``."""
    cfg = Config()
    cfg.set_main_option("script_location", script_location)
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


LOCK_TIMEOUT = "10s"
"""How long each statement of a migration waits for a lock (once the pods' turn is taken): an ``ALTER
TABLE`` queued behind a long read would otherwise hold up every later query of that table for as
long as the read lasts. On timeout nothing is applied and the migration is run again later (the pod
restarts; an operator runs ``migrate`` again)."""


TAKE_TURN = "SELECT pg_advisory_xact_lock(hashtext('aid-migrations'))"  # one migrating pod at a time


BYTE_ORDER = ("C", "POSIX")  # libc collations PostgreSQL compares with memcmp


def collation_advice(database: str, settings: dict) -> str | None:
    """A warning when ``database`` (its ``pg_database`` row as ``settings``) compares text by a
    language's rules: every key the services look rows up by (student keys, list, task and event
    ids, codes) is then compared through the locale (``bench/collation.py`` measures the price).
    Nothing in the services sorts people's text in SQL (names are sealed), so byte order costs no
    user anything. None when the order is bytes: a libc "C"/"POSIX" collation or PostgreSQL's
    builtin provider (17 and later)."""
    provider, collation = settings.get("datlocprovider", "c"), settings.get("datcollate")
    if provider == "b" or (provider == "c" and collation in BYTE_ORDER):
        return None
    shown = settings.get("datlocale") or settings.get("daticulocale") or collation
    return (f"数据库 {database} 按语言规则 ({shown}) 比较文本，键的比较较慢；建库时请用 LC_COLLATE 'C' "
            f"(database {database} compares text by the rules of {shown}: every key lookup and index insert "
            f"pays for it; create the database with TEMPLATE template0 LOCALE_PROVIDER libc LC_COLLATE 'C' — "
            "docs/deploy.md)")


class MigrationLockTimeout(RuntimeError):
    """A migration gave up waiting for a lock another transaction holds; nothing was changed."""


def upgrade(script_location: str, database_url: str, revision: str = "head") -> None:
    try:
        command.upgrade(alembic_config(script_location, database_url), revision)
    except OperationalError as exc:
        if not isinstance(exc.orig, LockNotAvailable):
            raise
        statement = " ".join((exc.statement or "").split())[:200]
        raise MigrationLockTimeout(
            f"数据库迁移等待锁超过 {LOCK_TIMEOUT}，未做任何更改，请稍后重试 (the migration waited longer than "
            f"{LOCK_TIMEOUT} for a lock another transaction holds; nothing was changed: run it again). "
            f"Waiting: {statement}") from None


def run_env(metadata: MetaData) -> None:
    """The body of every service's ``migrations/env.py``."""
    if context.is_offline_mode():
        context.configure(url=context.config.get_main_option("sqlalchemy.url"), target_metadata=metadata,
                          literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(_online(metadata))
        return
    with ThreadPoolExecutor(1) as pool:  # called from async code (tests): its own loop in a thread
        pool.submit(asyncio.run, _online(metadata)).result()


async def _online(metadata: MetaData) -> None:
    engine = async_engine_from_config(
        context.config.get_section(context.config.config_ini_section, {}),
        prefix="sqlalchemy.", poolclass=pool.NullPool,
    )
    async with engine.connect() as conn:
        await conn.run_sync(_run_sync, metadata)
    await engine.dispose()


def _run_sync(connection, metadata: MetaData) -> None:
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        # Several pods may start at once, each migrating first: one upgrades, the others wait
        # for its commit and then find the database at head.
        connection.execute(text(TAKE_TURN))
        connection.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))  # the turn taken: no endless wait
        _advise_on_collation(connection)
        context.run_migrations()


def _advise_on_collation(connection) -> None:
    """Log ``collation_advice`` for the database being migrated (its row as JSON: the columns vary
    between PostgreSQL versions)."""
    name, row = connection.execute(text("SELECT datname, to_jsonb(d) FROM pg_database d "
                                        "WHERE datname = current_database()")).one()
    if advice := collation_advice(name, row):
        log.warning(advice)


def create_outbox_and_inbox() -> None:
    """The chassis's tables (see ``tables.py``), created by each service's first migration."""
    import sqlalchemy as sa
    from alembic import op
    from sqlalchemy.dialects import postgresql

    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(length=200), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )


def drop_outbox_and_inbox() -> None:
    from alembic import op

    op.drop_table("outbox")
    op.drop_table("inbox")


def create_consumer_offsets(consumer: str) -> None:
    """The consumer offsets of a service whose consumer applies whole batches (see ``tables.py``);
    the group's inbox rows are no longer read and go (its dead-letter marks stay)."""
    import sqlalchemy as sa
    from alembic import op

    op.execute(sa.text("DELETE FROM inbox WHERE consumer = :consumer AND event_id NOT LIKE 'dlq:%'")
               .bindparams(consumer=consumer))

    op.create_table(
        "consumer_offsets",
        sa.Column("consumer", sa.String(length=200), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "topic", "partition"),
    )


# Migration steps: a service's outbox keeps packed rows (``bulk.queue_events``) as they are — they
# are lz4-compressed already, and PostgreSQL compressing them again cost 0.8 s per 600,000 events.
OUTBOX_VALUES_AS_IS = "ALTER TABLE outbox ALTER COLUMN value SET STORAGE EXTERNAL"
OUTBOX_VALUES_COMPRESSED = "ALTER TABLE outbox ALTER COLUMN value SET STORAGE EXTENDED"


def personal_columns_as_text(table: str, plain_types: dict) -> None:
    """Alembic: let ``table``'s personal columns (name → their type while plain) hold sealed tokens."""
    import sqlalchemy as sa
    from alembic import op

    for column in plain_types:
        op.alter_column(table, column, type_=sa.Text(), existing_nullable=False)


def personal_columns_as_plain(table: str, plain_types: dict) -> None:
    """Alembic: the downgrade of ``personal_columns_as_text`` (only while every stored value is plain)."""
    from alembic import op

    for column, plain in plain_types.items():
        op.alter_column(table, column, type_=plain, existing_nullable=False)
