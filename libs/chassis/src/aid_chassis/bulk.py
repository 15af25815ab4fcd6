"""Province-scale table work: PostgreSQL ``COPY`` to and from polars frames, in the caller's transaction.

Rows travel as CSV with ``\\N`` for NULL, so an empty string stays an empty string. Events
queued here land in the same outbox as ``outbox.add`` and carry the same CloudEvents headers
(the tests read them back through ``Envelope.from_kafka``).
"""

from __future__ import annotations

import io

import polars as pl
from opentelemetry import propagate
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from aid_contracts.envelope import CONTENT_TYPE, SPEC_VERSION

CSV = "FORMAT csv, NULL '\\N'"
CHUNK_ROWS = 50_000


async def _driver(session: AsyncSession):
    """The psycopg connection under the session's transaction."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


async def copy_in(session: AsyncSession, table: str, frame: pl.DataFrame) -> None:
    """Append ``frame``'s rows to ``table`` (columns by name), in chunks."""
    if frame.is_empty():
        return
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    driver = await _driver(session)
    async with driver.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN WITH ({CSV})") as copy:
        for start in range(0, frame.height, CHUNK_ROWS):
            part = frame.slice(start, CHUNK_ROWS)
            await copy.write(part.write_csv(include_header=False, null_value="\\N").encode())


async def copy_out(session: AsyncSession, query: str, schema: dict[str, pl.DataType], params=None) -> pl.DataFrame:
    """The rows of ``query`` as a frame with ``schema`` (names and types, in the query's order)."""
    driver = await _driver(session)
    buffer = io.BytesIO()
    async with driver.cursor() as cursor, cursor.copy(f"COPY ({query}) TO STDOUT WITH ({CSV})", params) as copy:
        async for chunk in copy:
            buffer.write(chunk)
    if buffer.tell() == 0:
        return pl.DataFrame(schema=schema)
    buffer.seek(0)
    return pl.read_csv(buffer, has_header=False, new_columns=list(schema), schema=schema, null_values="\\N")


async def temp_keys(session: AsyncSession, name: str, keys: pl.Series) -> None:
    """A temporary one-column table ``name(student_key)`` holding ``keys``, dropped at commit."""
    driver = await _driver(session)
    await driver.execute(f"DROP TABLE IF EXISTS {name}")
    await driver.execute(f"CREATE TEMP TABLE {name} (student_key text PRIMARY KEY) ON COMMIT DROP")
    await copy_in(session, name, keys.unique().alias("student_key").to_frame())
    await driver.execute(f"ANALYZE {name}")


def _headers(source: str) -> pl.Expr:
    """The binary-mode headers of ``Envelope.headers()``, plus the current trace context."""
    trace: dict[str, str] = {}
    propagate.inject(trace)
    fixed = [pl.lit(CONTENT_TYPE).alias("content-type"), pl.col("event_id").alias("ce_id"),
             pl.lit(source).alias("ce_source"), pl.col("type").alias("ce_type"), pl.col("key").alias("ce_subject"),
             pl.col("time").alias("ce_time"), pl.col("dataschema").alias("ce_dataschema"),
             pl.lit(SPEC_VERSION).alias("ce_specversion"), pl.col("dataversion").alias("ce_dataversion"),
             pl.col("key").alias("ce_partitionkey")]
    return pl.struct(*fixed, *[pl.lit(v).alias(k) for k, v in trace.items()]).struct.json_encode()


async def queue_events(session: AsyncSession, outbox: Table, events: pl.DataFrame, *, source: str) -> None:
    """Queue already-encoded events: columns event_id, topic, key, type, dataschema, dataversion,
    time (ISO 8601 text) and data (the JSON value as text)."""
    rows = events.select(
        "event_id", "topic", "key", _headers(source).alias("headers"),
        (pl.lit("\\x") + pl.col("data").str.encode("hex")).alias("value"))
    await copy_in(session, outbox.name, rows)
