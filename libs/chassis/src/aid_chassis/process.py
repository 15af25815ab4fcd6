"""Process entrypoints: serve a service's API, or run its worker loops until SIGTERM."""

from __future__ import annotations

import asyncio
import functools
import gc
import importlib
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aid_chassis import db, probes
from aid_chassis.logs import configure_logging
from aid_chassis.settings import ServiceSettings
from aid_chassis.telemetry import configure_telemetry

log = logging.getLogger(__name__)
Loop = Callable[[asyncio.Event], Awaitable[None]]
PACKAGE_VARIABLE = "AID_SERVICE_PACKAGE"
GC_THRESHOLDS = (10_000, 50, 100)


def tune_gc() -> None:
    """Fewer cyclic collections for a worker that makes and drops thousands of objects a batch.

    The objects of start-up (modules, classes, settings) are frozen out of the collector, and the
    young generation holds 10,000 allocations before it is scanned instead of 700: the default
    made the collector a quarter of a projection's CPU (measured in ``bench/read_side.py``).
    Batches hold few reference cycles, so memory does not grow for it."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic collection inside: a consumer's batch or the relay's unpacking makes and drops
    up to a million objects without cycles, freed by their reference counts, and the collector's
    passes over them found next to nothing (a tenth of a projection's CPU in
    ``bench/projections.py``, two thirds of the relay's unpacking). The collector resumes
    afterwards and takes any cycles left (``pause``, ``resume``)."""
    pause()
    try:
        yield
    finally:
        resume()


def pause() -> None:
    """Pause the cyclic collector until the matching ``resume``. Pauses may nest or overlap (the
    relay makes a claim's batches while it sends the claim before; a consumer's batch beside
    them): the collector resumes when the last one ends, and only if it ran before the first.
    Pauses that keep overlapping for ``LONGEST_PAUSE`` seconds get a collection of the young
    generations, so cycles cannot pile up for good."""
    now = time.monotonic()
    if not _PAUSED:
        _PAUSED.append([gc.isenabled(), now])
        gc.disable()
    elif now - _PAUSED[0][1] > LONGEST_PAUSE:
        _PAUSED[0][1] = now
        gc.collect(1)
    _PAUSED.append(None)


def resume() -> None:
    """End a ``pause``."""
    _PAUSED.pop()
    if len(_PAUSED) == 1 and _PAUSED.pop()[0]:
        gc.enable()


_PAUSED: list = []  # while paused: [whether the collector ran before, since when], then one entry a pause
LONGEST_PAUSE = 30.0


def give_back_memory() -> bool:
    """Return the C heap's free pages to the system (glibc's ``malloc_trim``); True if any went.

    Objects made and dropped on worker threads (a province's round seals and packs its 600,000
    events on two) leave their memory to those threads' heaps, resident until reused: 0.1–0.15 GB
    of the round's peak, given back in a few ms (``bench/matching.py``). False, and nothing done,
    where the C library has no such call."""
    trim = getattr(_libc(), "malloc_trim", None)
    return bool(trim(0)) if trim is not None else False


@functools.cache
def _libc():
    import ctypes

    return ctypes.CDLL(None)


def serve_api(settings: ServiceSettings, app_factory: Callable[[ServiceSettings], object],
              package: str | None = None) -> None:
    """Serve the API; with ``api_workers`` > 1, that many processes share the port (each builds
    its app with ``app_from_env``, so ``package`` names the service)."""
    import uvicorn

    configure_logging(settings.log_level)
    if settings.api_workers > 1 and package:
        os.environ[PACKAGE_VARIABLE] = package
        uvicorn.run("aid_chassis.process:app_from_env", factory=True, workers=settings.api_workers,
                    host=settings.http_host, port=settings.http_port, log_config=None, access_log=False)
        return
    provider = configure_telemetry(settings, "api")
    try:
        uvicorn.run(app_factory(settings), host=settings.http_host, port=settings.http_port,
                    log_config=None, access_log=False)
    finally:
        provider.shutdown()


def app_from_env():
    """One API worker process's app: the service named by ``AID_SERVICE_PACKAGE``, its settings
    from the environment, its logging and tracing set up in this process."""
    package = os.environ[PACKAGE_VARIABLE]
    settings = importlib.import_module(f"{package}.settings").Settings()
    configure_logging(settings.log_level)
    configure_telemetry(settings, "api")
    return importlib.import_module(f"{package}.entrypoints.api").create(settings)


def run_worker(settings: ServiceSettings,
               build_loops: Callable[[async_sessionmaker[AsyncSession]], list[Loop]]) -> None:
    """Run the worker's loops (consumers, outbox relay, schedulers); exit if one fails."""
    configure_logging(settings.log_level)
    provider = configure_telemetry(settings, "worker")
    tune_gc()
    try:
        asyncio.run(_worker(settings, build_loops))
    finally:
        provider.shutdown()


async def _worker(settings: ServiceSettings, build_loops) -> None:
    engine = db.make_engine(settings, worker=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(run(stop)) for run in build_loops(db.make_sessions(engine))]
    server = None
    if settings.worker_metrics_port:  # /metrics, /healthz, /readyz
        server = await probes.serve(settings.http_host, settings.worker_metrics_port, engine,
                                    settings.kafka_bootstrap_servers)
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task.exception():
                log.error("worker loop failed", exc_info=task.exception())
                raise SystemExit(1)
    finally:
        stop.set()
        if server is not None:
            server.close()
        await asyncio.gather(*tasks, return_exceptions=True)
        await engine.dispose()
