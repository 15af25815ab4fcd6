"""A worker's own small HTTP server on 127.0.0.1 (or ``http_host``): ``/metrics`` for Prometheus,
``/healthz`` (the process runs) and ``/readyz`` — ready only while its database answers and a
Kafka broker accepts a connection (a worker that can reach neither applies and relays nothing)."""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine

from aid_chassis import db

log = logging.getLogger(__name__)
TIMEOUT = 2.0


async def broker_reachable(bootstrap_servers: str) -> bool:
    """Whether any bootstrap server accepts a TCP connection within the timeout."""
    for server in bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host or "127.0.0.1", int(port)), TIMEOUT)
        except (OSError, ValueError, TimeoutError):
            continue
        writer.close()
        return True
    return False


async def _not_ready(engine: AsyncEngine, bootstrap_servers: str) -> str | None:
    try:
        await asyncio.wait_for(db.ping(engine), TIMEOUT)
    except Exception:  # noqa: BLE001 - any failure means not ready
        return "database unreachable"
    if not await broker_reachable(bootstrap_servers):
        return "broker unreachable"
    return None


async def serve(host: str, port: int, engine: AsyncEngine, bootstrap_servers: str) -> asyncio.Server:
    """Start the probe server; the caller closes it."""
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = (await asyncio.wait_for(reader.readline(), TIMEOUT)).decode("latin-1").split()
            path = request[1] if len(request) > 1 else "/"
            status, kind, body = 404, "text/plain", b"not found\n"
            if path == "/metrics":
                status, kind, body = 200, CONTENT_TYPE_LATEST, generate_latest()
            elif path == "/healthz":
                status, body = 200, b"ok\n"
            elif path == "/readyz":
                problem = await _not_ready(engine, bootstrap_servers)
                status, body = (503, f"{problem}\n".encode()) if problem else (200, b"ready\n")
            head = f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\nContent-Type: {kind}\r\n" \
                   f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            writer.write(head.encode() + body)
            await writer.drain()
        except (OSError, TimeoutError, UnicodeDecodeError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(answer, host, port)
