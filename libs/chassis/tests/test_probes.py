"""A worker's probe server on real PostgreSQL and Kafka: ready only while both answer."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from aid_chassis import probes


@pytest.fixture
async def engine(fresh_database):
    made = create_async_engine(fresh_database)
    yield made
    await made.dispose()


async def _get(server, path: str) -> httpx.Response:
    port = server.sockets[0].getsockname()[1]
    async with httpx.AsyncClient() as client:
        return await client.get(f"http://127.0.0.1:{port}{path}")


async def test_ready_while_database_and_broker_answer(engine, kafka_bootstrap):
    server = await probes.serve("127.0.0.1", 0, engine, kafka_bootstrap)
    try:
        ready, alive, metrics = [await _get(server, p) for p in ("/readyz", "/healthz", "/metrics")]
        assert (ready.status_code, alive.status_code, metrics.status_code) == (200, 200, 200)
        assert "# TYPE" in metrics.text and (await _get(server, "/nowhere")).status_code == 404
    finally:
        server.close()


async def _readyz(engine, bootstrap: str) -> httpx.Response:
    server = await probes.serve("127.0.0.1", 0, engine, bootstrap)
    try:
        return await _get(server, "/readyz")
    finally:
        server.close()


async def test_not_ready_without_a_broker_or_a_database(engine, fresh_database):
    resp = await _readyz(engine, "127.0.0.1:1")
    assert (resp.status_code, resp.text) == (503, "broker unreachable\n")
    broken = create_async_engine(fresh_database.rsplit("/", 1)[0] + "/no_such_database")
    try:
        resp = await _readyz(broken, "127.0.0.1:1")
        assert (resp.status_code, resp.text) == (503, "database unreachable\n")
    finally:
        await broken.dispose()
