"""How fast a faust-streaming agent reads events here, with and without a changelog-backed table
write per event: the measurement behind reporting's choice of PostgreSQL counters over faust
tables (docs/architecture.md). Run by ``bench/read_side.py`` on its broker, or alone:
``python bench/faust_floor.py BOOTSTRAP [EVENTS]``."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid

import faust

from aid_chassis.kafka import ensure_topics, make_producer


async def _agent_rate(bootstrap: str, n: int, *, table_write: bool) -> float:
    """Events per second through one agent (first event to last), on a topic of its own."""
    run = uuid.uuid4().hex[:8]
    topic_name = f"bench.faust.{run}"
    await ensure_topics(bootstrap, partitions=6, topics=[topic_name])
    producer = await make_producer(bootstrap, client_id="bench-faust")
    try:
        futures = [await producer.send(topic_name, key=b"k%07d" % (i % 50_000), value=b'{"x":1}')
                   for i in range(n)]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    with tempfile.TemporaryDirectory(prefix="aid-faust-") as datadir:
        app = faust.App(f"bench-faust-{run}", broker=f"kafka://{bootstrap}", store="memory://", datadir=datadir,
                        topic_partitions=6, web_enabled=False, consumer_auto_offset_reset="earliest")
        table = app.Table("students", default=None, partitions=6, key_type=bytes, value_type=bytes)
        seen = {"n": 0, "first": 0.0, "last": 0.0}

        @app.agent(app.topic(topic_name, key_type=bytes, value_type=bytes, value_serializer="raw",
                             key_serializer="raw"))
        async def count(stream):
            async for event in stream.events():
                if table_write:
                    table[event.key] = event.value
                seen["n"] += 1
                seen["first"] = seen["first"] or time.perf_counter()
                seen["last"] = time.perf_counter()

        await app.start()
        try:
            deadline = time.perf_counter() + 600
            while seen["n"] < n and time.perf_counter() < deadline:
                await asyncio.sleep(0.2)
        finally:
            await app.stop()
    return round(seen["n"] / max(seen["last"] - seen["first"], 1e-9))


async def measure(bootstrap: str, n: int = 30_000) -> dict:
    return {"events": n, "noop_events_per_s": await _agent_rate(bootstrap, n, table_write=False),
            "table_write_events_per_s": await _agent_rate(bootstrap, n, table_write=True)}


if __name__ == "__main__":
    print(asyncio.run(measure(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 30_000)))
