"""Process entrypoints: serve a service's API, or run its worker loops until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aid_chassis import db
from aid_chassis.logs import configure_logging
from aid_chassis.settings import ServiceSettings
from aid_chassis.telemetry import configure_telemetry

log = logging.getLogger(__name__)
Loop = Callable[[asyncio.Event], Awaitable[None]]


def serve_api(settings: ServiceSettings, app_factory: Callable[[ServiceSettings], object]) -> None:
    import uvicorn

    configure_logging(settings.log_level)
    provider = configure_telemetry(settings, "api")
    try:
        uvicorn.run(app_factory(settings), host=settings.http_host, port=settings.http_port,
                    log_config=None, access_log=False)
    finally:
        provider.shutdown()


def run_worker(settings: ServiceSettings,
               build_loops: Callable[[async_sessionmaker[AsyncSession]], list[Loop]]) -> None:
    """Run the worker's loops (consumers, outbox relay, schedulers); exit if one fails."""
    configure_logging(settings.log_level)
    provider = configure_telemetry(settings, "worker")
    if settings.worker_metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.worker_metrics_port, addr=settings.http_host)
    try:
        asyncio.run(_worker(settings, build_loops))
    finally:
        provider.shutdown()


async def _worker(settings: ServiceSettings, build_loops) -> None:
    engine = db.make_engine(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(run(stop)) for run in build_loops(db.make_sessions(engine))]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task.exception():
                log.error("worker loop failed", exc_info=task.exception())
                raise SystemExit(1)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await engine.dispose()
