"""Servers for the whole test suite: a real Kafka broker and a real PostgreSQL server.

Started once per run, in a temporary state directory on free loopback ports. When
``KAFKA_BOOTSTRAP_SERVERS`` / ``AID_POSTGRES_URL`` name servers, those are used instead;
where a Docker engine answers and ``AID_TEST_CONTAINERS=1``, testcontainers provides them.
"""

from __future__ import annotations

import os
import random
import socket
import uuid
from contextlib import contextmanager
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import settings as hypothesis_settings

# Property tests judge results, never time: hypothesis's per-example deadline (200 ms) is a timed
# assertion, and an example's first call (a lazy import, a cold cache) on a busy machine exceeds it.
hypothesis_settings.register_profile("aid", deadline=None)
hypothesis_settings.load_profile("aid")


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return low, high


BENCH_PORTS = range(24000, 26600)  # the benchmarks' fixed ports: tests/test_benchmarks.py runs them meanwhile


def _free_block(size: int) -> int:
    """A base port whose next ``size`` ports are free, below the ephemeral range and apart from
    the benchmarks' ports.

    Outgoing connections take their local ports from the ephemeral range; a server restarted
    on such a port may find it taken by some client socket.
    """
    low, _ = _ephemeral_range()
    start = max(low - 12000, 1024)
    for _ in range(200):
        base = random.randrange(start, low - size - 1)
        if base + size >= BENCH_PORTS.start and base < BENCH_PORTS.stop:
            continue
        if all(_is_free(base + i) for i in range(size + 1)):
            return base
    raise RuntimeError("no block of free ports")


def free_port() -> int:
    return _free_block(0)


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextmanager
def servers(state: Path) -> Iterator:
    """A Platform whose Kafka and PostgreSQL run in ``state`` on free loopback ports, stopped after.
    Its ports are one free block: chosen apart, Kafka's or PostgreSQL's port could fall among the
    services' ports (free until the services start), and the services then found one taken."""
    from aid_local import infra
    from aid_local.platform import Platform

    base = _free_block(20)  # one block: the services' 18 ports, Kafka's two, PostgreSQL's
    plat = Platform(state_dir=state, http_base=base, kafka_port=base + 18, postgres_port=base + 20)
    infra.start(plat, partitions=3)
    try:
        yield plat
    finally:
        infra.stop(plat)


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """The platform's servers (Kafka, PostgreSQL) started for this test run."""
    state = Path(os.environ.get("AID_TEST_STATE_DIR") or tmp_path_factory.mktemp("aid-state"))
    with _containers_if_asked(), servers(state) as plat:
        yield plat


@pytest.fixture(scope="session")
def other_servers(tmp_path_factory: pytest.TempPathFactory):
    """Starts a second set of servers (a context manager): for a test whose truth must be its own."""
    return lambda: servers(tmp_path_factory.mktemp("aid-other-state"))


class _NoContainers:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _containers_if_asked():
    """testcontainers where a Docker engine exists and the run asks for it (AID_TEST_CONTAINERS=1)."""
    if os.environ.get("AID_TEST_CONTAINERS") != "1":
        return _NoContainers()
    from tests.containers import containers  # noqa: PLC0415 - only with Docker

    return containers()


@pytest.fixture(scope="session")
def kafka_bootstrap(platform) -> str:
    return platform.bootstrap_servers


@pytest.fixture
def fresh_database(platform) -> Iterator[str]:
    """A new empty database for one test; its SQLAlchemy URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = platform.server_url() + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{platform.server_url()}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def migrate(fresh_database):
    """Upgrade the fresh database with a service's migrations; returns its URL."""
    from aid_chassis.migrations import upgrade

    def run(package: str) -> str:
        upgrade(f"{package}:migrations", fresh_database)
        return fresh_database

    return run


@pytest.fixture
async def engine_for():
    """Async engines on given URLs, disposed after the test."""
    from sqlalchemy.ext.asyncio import create_async_engine

    engines = []

    def make(url: str):
        engines.append(create_async_engine(url))
        return engines[-1]

    yield make
    for engine in engines:
        await engine.dispose()
