"""The usual worker of a service: its consumer group and its outbox relay."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aid_chassis import datakeys
from aid_chassis.consumer import BulkHandler, EventConsumer, Handler
from aid_chassis.outbox import OutboxRelay
from aid_chassis.process import Loop
from aid_chassis.settings import ServiceSettings
from aid_chassis.tables import ChassisTables

log = logging.getLogger(__name__)


def consumer_and_relay(settings: ServiceSettings, sessions: async_sessionmaker[AsyncSession],
                       tables: ChassisTables, *, topics: list[str], handlers: dict[str, Handler],
                       bulk: BulkHandler | None = None, bulk_types: frozenset[str] = frozenset(),
                       opens_fields: bool = False) -> list[Loop]:
    """The consumer group ``<service>`` on ``topics`` and the relay of the service's outbox; with
    ``opens_fields`` (its handlers open students' sealed fields), the data keys' follower too."""
    consumer = event_consumer(settings, sessions, tables, topics=topics, handlers=handlers, bulk=bulk,
                              bulk_types=bulk_types)
    relay = OutboxRelay(
        sessions, tables.outbox, bootstrap_servers=settings.kafka_bootstrap_servers,
        service=settings.service_name, batch_size=settings.relay_batch_size, idle_seconds=settings.relay_idle_seconds)
    if not opens_fields:
        return [consumer.run, relay.run]
    return [after_data_keys(settings, consumer.run), relay.run, data_keys_follower(settings)]


def after_data_keys(settings: ServiceSettings, loop: Loop) -> Loop:
    """``loop`` started once the process has read the students' data keys (a worker that opens
    fields must not take a key still on its way for a shredded one)."""
    keys = datakeys.attach(settings.field_cipher())

    async def waiting(stop: asyncio.Event) -> None:
        while not keys.ready.is_set() and not stop.is_set():
            await asyncio.sleep(0.1)
        if not stop.is_set():
            await loop(stop)

    return waiting


def data_keys_follower(settings: ServiceSettings) -> Loop:
    """The loop that keeps the process's students' data keys (``aid_chassis.datakeys``)."""
    return datakeys.follower(settings.field_cipher(), settings.kafka_bootstrap_servers,
                             f"{settings.service_name}-worker-data-keys").run


def event_consumer(settings: ServiceSettings, sessions: async_sessionmaker[AsyncSession], tables: ChassisTables, *,
                   topics: list[str], handlers: dict[str, Handler], bulk: BulkHandler | None = None,
                   bulk_types: frozenset[str] = frozenset()) -> EventConsumer:
    """The consumer of group ``<service>`` (the worker's, and the one a rebuild replays with)."""
    return EventConsumer(
        sessions, tables, bootstrap_servers=settings.kafka_bootstrap_servers, group_id=settings.service_name,
        topics=topics, handlers=handlers, service=settings.service_name, batch_size=settings.consumer_batch_size,
        bulk=bulk, bulk_types=bulk_types, lanes=settings.consumer_lanes)


def periodic(sessions: async_sessionmaker[AsyncSession], job: Callable[[AsyncSession], Awaitable[object]], *,
             every: float, name: str) -> Loop:
    """A loop running ``job`` in its own transaction every ``every`` seconds until stopped."""

    async def loop(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with sessions() as session, session.begin():
                    await job(session)
            except Exception:  # noqa: BLE001 - retried on the next tick
                log.exception("%s failed; will retry", name)
            try:
                await asyncio.wait_for(stop.wait(), every)
            except TimeoutError:
                pass

    return loop
