"""Province-scale table work: polars frames into PostgreSQL with ``COPY``, and out as CSV text the
server writes (``copy_out``), in the caller's transaction.

Rows travel as CSV with every text value quoted and NULL as nothing at all, so an empty string
stays an empty string and no text is mistaken for NULL. Events queued here land in the same
outbox as ``outbox.add``, packed, and reach Kafka with the same CloudEvents headers (the tests
read them back through ``Envelope.from_kafka``).
"""

from __future__ import annotations

import asyncio
import uuid

import cramjam
import polars as pl
from opentelemetry import propagate
from psycopg import waiting
from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis.db import driver
from aid_contracts.envelope import CONTENT_TYPE, SPEC_VERSION

CSV_IN = "FORMAT csv"  # NULL unquoted and empty, text quoted (``quote_style="non_numeric"``)
CSV_OUT = "FORMAT csv, FORCE_QUOTE *"  # NULL unquoted and empty, every value quoted
CHUNK_ROWS = 50_000


async def copy_in(session: AsyncSession, table: str, frame: pl.DataFrame) -> None:
    """Append ``frame``'s rows to ``table`` (columns by name), in chunks."""
    if frame.is_empty():
        return
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    connection = await driver(session)
    statement = f"COPY {table} ({columns}) FROM STDIN WITH ({CSV_IN})"
    async with connection.cursor() as cursor, cursor.copy(statement) as copy:
        for start in range(0, frame.height, CHUNK_ROWS):
            part = frame.slice(start, CHUNK_ROWS)
            await copy.write(part.write_csv(include_header=False, quote_style="non_numeric").encode())


READ_CHUNK_ROWS = 200_000  # rows per text value the server sends (a value may hold at most 1 GB)


async def copy_out(session: AsyncSession, query: str, schema: dict[str, pl.DataType], params=None, *,
                   wide: bool = False) -> pl.DataFrame:
    """The rows of ``query`` as a frame with ``schema`` (names and types, in the query's order and
    row order).

    The server writes the rows as CSV text itself (every value quoted, NULL as nothing at all, so
    NULL stays apart from the empty string) and sends a chunk of 200,000 rows as one value.
    ``COPY TO`` sends one message per row, and each costs the client about 3 µs in psycopg: a
    million keys took 3.2 s that way, under 1 s this way (``bench/matching.py``'s comparison
    reads a province's enrolments and lists). A query with ``ORDER BY`` has each chunk's rows
    explicitly aggregated in that order (a quarter more server time).

    ``wide``: rows of many or long texts (a payment's facts with the student's JSON) are read with
    ``COPY TO`` instead (``_copy_to``): quoting every value in SQL costs the server more than a
    message per row costs the client (a million payments' facts: 13–16 s → about 10 s). A NULL
    reads as null either way, a boolean too."""
    if wide:
        return _frame(await _copy_to(session, query, params), schema)
    names = [f"c{i}" for i in range(len(schema))]
    line = " || ',' || ".join(_csv_value(name, kind) for name, kind in zip(names, schema.values(), strict=True))
    in_order = " ORDER BY n" if "ORDER BY" in query.upper() else ""  # a group's rows arrive in order anyway
    statement = (f"SELECT convert_to(string_agg(line, E'\\n'{in_order}), 'UTF8') FROM ("  # noqa: S608
                 f"SELECT {line} AS line, row_number() OVER () AS n FROM ({query}) q({', '.join(names)})) r "
                 f"GROUP BY (n - 1) / {READ_CHUNK_ROWS} ORDER BY (n - 1) / {READ_CHUNK_ROWS}")
    connection = await driver(session)
    chunks = [chunk for (chunk,) in await (await connection.execute(statement, params, binary=True)).fetchall()]
    return _frame(b"\n".join(chunks), schema)


def _frame(text: bytes, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """CSV rows (every value quoted, NULL as nothing, a boolean as t or f) as a frame with ``schema``."""
    if not text:
        return pl.DataFrame(schema=schema)
    text_schema = {name: pl.String if kind == pl.Boolean else kind for name, kind in schema.items()}
    frame = pl.read_csv(text, has_header=False, new_columns=list(schema), schema=text_schema)
    flags = [name for name, kind in schema.items() if kind == pl.Boolean]
    return frame.with_columns(pl.col(name) == "t" for name in flags) if flags else frame


async def _copy_to(session: AsyncSession, query: str, params) -> bytes:
    """``COPY (query) TO STDOUT`` as CSV (every value quoted, NULL as nothing, so a NULL boolean
    stays null), drained in a worker thread with blocking reads: the server sends a message per
    row, and an asyncio wait per message costs about 4 µs. The connection is this coroutine's alone
    while the thread reads; if the caller is cancelled the server's statement is cancelled and the
    thread let finish before the connection is touched again."""
    connection = await driver(session)
    async with connection.cursor() as cursor, cursor.copy(f"COPY ({query}) TO STDOUT WITH ({CSV_OUT})", params) as copy:
        reading = asyncio.ensure_future(asyncio.to_thread(_drain, copy, connection.pgconn.socket))
        try:
            return await asyncio.shield(reading)
        except asyncio.CancelledError:
            await connection.cancel_safe()
            await asyncio.wait([reading])  # its error (the statement cancelled) is the cancellation's
            raise


def _drain(copy, socket: int) -> bytes:
    """Every row of a started ``COPY TO``: psycopg's own read generator, waited on blocking (polls
    of 0.1 s, as psycopg's own waits: no spinning while the server works)."""
    rows = bytearray()
    while data := waiting.wait(copy._read_gen(), socket, interval=0.1):  # noqa: SLF001 — read() is async only
        rows += data
    return bytes(rows)


def _csv_value(column: str, kind: pl.DataType) -> str:
    """SQL for one column as a quoted CSV value (a boolean as t or f), NULL as the empty string."""
    text = f"(CASE WHEN {column} THEN 't' WHEN NOT {column} THEN 'f' END)" if kind == pl.Boolean else f"{column}::text"
    return f"""coalesce('"' || replace({text}, '"', '""') || '"', '')"""


BATCH_EVENTS = 5_000  # events per packed outbox row


async def queue_events(session: AsyncSession, outbox: Table, events: pl.DataFrame, *, source: str, time: str) -> None:
    """Queue many already-encoded events as packed outbox rows (``outbox.PACKED``): columns event_id,
    topic, key, type, dataschema, dataversion and data (the JSON value as text), all sharing ``time``.

    One row carries up to 5,000 events as compressed tab-separated lines; the relay unpacks them
    into ordinary CloudEvents records. A province's import queues a few hundred rows, not 600,000.
    """
    await insert_packed(session, outbox, pack_events(events), source=source, time=time)


def pack_events(events: pl.DataFrame | pl.LazyFrame) -> list[tuple[str, int, bytes]]:
    """(topic, count, compressed lines) per packed row (``packed``): pure CPU work (polars and zstd
    release the GIL), so a caller may run it in a thread while its database statements run. A lazy
    ``events`` is worked out in the same query (its columns are never all held at once: a million
    payments' events 30% faster)."""
    line = pl.concat_str(["key", "event_id", "type", "dataschema", "dataversion", "data"], separator="\t")
    packed = (events.lazy().select("topic", line.alias("line"))
              .with_columns((pl.int_range(pl.len()).over("topic") // BATCH_EVENTS).alias("chunk"))
              .group_by("topic", "chunk", maintain_order=True)
              .agg(pl.len().alias("count"), pl.col("line").str.join("\n").cast(pl.Binary))).collect()
    return [(topic, count, packed_text(text)) for topic, _, count, text in packed.iter_rows()]


ZSTD_LEVEL = 1
MOST_PACKED_TEXT = 256 << 20  # a packed row's text (5,000 events of a few kB at most) is never larger


def packed_text(text: bytes) -> bytes:
    """A packed row's value: its text's size (little-endian u32), then the text as one zstd frame at
    level 1. A province's round of 600,000 events is 85 MB so, ~130 MB as lz4 blocks: PostgreSQL
    spends ~15 ms of CPU on each MB of ``bytea`` it stores (``docs/benchmarks.md``)."""
    if len(text) > MOST_PACKED_TEXT:  # no reader would open it: refused here, not parked by the relay
        raise ValueError(f"a packed outbox row's text of {len(text):,} bytes (at most {MOST_PACKED_TEXT:,})")
    return len(text).to_bytes(4, "little") + bytes(cramjam.zstd.compress(text, level=ZSTD_LEVEL))


async def insert_packed(session: AsyncSession, outbox: Table, packed: list[tuple[str, int, bytes]], *, source: str,
                        time: str) -> None:
    """Insert ``pack_events``' rows into the outbox, with the current trace."""
    trace: dict[str, str] = {}
    propagate.inject(trace)
    common = {PACKED: PACKED_FORMAT, "content-type": CONTENT_TYPE, "ce_source": source, "ce_time": time,
              "ce_specversion": SPEC_VERSION, **trace}
    for topic, count, value in packed:
        await session.execute(insert(outbox).values(event_id=f"packed-{uuid.uuid4()}", topic=topic,
                                                    key=f"{count} events", headers=common, value=value))


PACKED, PACKED_FORMAT = "aid-outbox-packed", "tsv+zstd"
PACKED_FORMATS = (PACKED_FORMAT, "tsv+lz4")  # what is written; what rows queued before zstd carry
EVENTS_IN_ROW = (f"CASE WHEN headers->>'{PACKED}' IS NOT NULL "
                 "THEN split_part(key, ' ', 1)::int ELSE 1 END")  # SQL: a packed row's key says "<n> events"
BULK_WORK_MEM = "256MB"


async def roomy(session: AsyncSession) -> None:
    """Memory for the hash joins and sorts of province-scale statements, for this transaction only
    (``SET LOCAL work_mem``): a million-row join stays in memory instead of spilling to disk."""
    await (await driver(session)).execute(f"SET LOCAL work_mem = '{BULK_WORK_MEM}'")


ANALYZE_AFTER = 10_000  # changed rows after which a table's statistics are refreshed


async def refresh_statistics(session: AsyncSession, table: str, changed_rows: int) -> None:
    """``ANALYZE`` a table after a large change, in the transaction, so the joins that follow are
    planned for the table as it now is."""
    if changed_rows > ANALYZE_AFTER:
        await (await driver(session)).execute(f"ANALYZE {table}")


class Growth:
    """A table a consumer fills a batch at a time, its statistics refreshed as it grows: ``ANALYZE``
    after ``first`` rows added by this process, then each time that count has doubled (a handful
    of times over a province's round, ~0.1 s each).

    Autovacuum analyses a table only on its next round (a minute apart by default) and after a
    tenth more rows: until then a table that filled from empty has no statistics of the columns
    its lookups filter on, and the plans other processes cached for it (an API's, prepared while
    the table was small) stay — a lookup walked the whole table (verification's tasks: ~200 ms a
    batch at 150,000 tasks, where the index takes 2 ms; the worker's own statements are now
    planned at every execution, ``db.make_engine(worker=True)``). An ``ANALYZE`` refreshes both.
    ``columns``: those the lookups filter on (the table's size is refreshed with them); the others
    are left to autovacuum.

    The ``ANALYZE`` runs on a connection of its own, committed at once: it counts the rows committed
    so far (not the batch's), a batch rolled back later does not take the statistics with it, and
    the batch holds no lock on the table's statistics until it ends."""

    def __init__(self, table: str, columns: tuple[str, ...] = (), first: int = ANALYZE_AFTER) -> None:
        self.added, self.next = 0, first
        self.statement = f"ANALYZE {table}" + (f" ({', '.join(columns)})" if columns else "")

    async def added_rows(self, session: AsyncSession, rows: int) -> None:
        """Count ``rows`` added in ``session``'s transaction; ``ANALYZE`` when the count reaches the next mark."""
        self.added += rows
        if self.added >= self.next:
            self.next = 2 * self.added
            async with session.bind.connect() as connection:
                await (await connection.execution_options(isolation_level="AUTOCOMMIT")).exec_driver_sql(self.statement)


PACKED_COMMON = ("content-type", "ce_source", "ce_time", "ce_specversion")  # a packed row's headers its events share


def is_packed(headers: dict[str, str]) -> bool:
    """Whether an outbox row's headers say it is packed (``queue_events``), in whatever format: one
    this release does not read (a later release's) is refused by ``unpack`` — the relay parks the
    row — and never sent as one record."""
    return PACKED in headers


def readable(headers: dict[str, str]) -> bool:
    """Whether a packed row is in a format this release reads (``PACKED_FORMATS``)."""
    return headers.get(PACKED) in PACKED_FORMATS


def events_in(key: str) -> int:
    """How many events a packed row holds (its key says "<n> events")."""
    return int(key.split(" ", 1)[0])


def records_of(headers: dict[str, str], key: str, value: bytes, tag=None) -> list[tuple]:
    """The (tag, key, headers, value) Kafka records of an outbox row: one, or a packed row's many."""
    if is_packed(headers):
        return unpack(headers, value, tag)
    return [(tag, key.encode(), list(zip(headers, map(str.encode, headers.values()), strict=True)), value)]


LZ4_MOST_PER_BYTE = 255  # the most an lz4 block's byte can stand for
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"  # a zstd frame's first bytes (no lz4 block's: a match reaching before its text)


def _lines(value: bytes) -> bytes:
    """A packed row's text: its size (little-endian u32), then a zstd frame (``packed_text``) or, in
    a row queued before, an lz4 block — told apart by the frame's magic number. A size larger than
    any row's, or than the lz4 block could reach, is refused (``cramjam.DecompressionError``, as the
    native relay's) before anything is allocated for it: a damaged row must not ask for gigabytes.
    A frame holding more or less than its size says is refused too."""
    size = int.from_bytes(value[:4], "little")
    try:
        if value[4:8] == ZSTD_MAGIC:
            if size <= MOST_PACKED_TEXT:
                text = bytearray(size)
                if cramjam.zstd.decompress_into(value[4:], text) == size:
                    return bytes(text)
        elif len(value) >= 4 and size <= (len(value) - 4) * LZ4_MOST_PER_BYTE + 16:
            return bytes(cramjam.lz4.decompress_block(value))
    except cramjam.DecompressionError:
        pass
    raise cramjam.DecompressionError(NOT_PACKED)


NOT_PACKED = "neither a zstd frame nor an lz4 block of its size"


def unpack(headers: dict[str, str], value: bytes, tag=None) -> list[tuple]:
    """The (tag, key, CloudEvents headers, value) of each event in a packed outbox row, in order
    (ValueError for a format this release does not read)."""
    if not readable(headers):
        raise ValueError("a packed outbox row in a format this release does not read")
    content_type, event_source, at, version = (
        (name, headers[name].encode()) for name in PACKED_COMMON)
    records = []
    add = records.append
    for line in _lines(value).split(b"\n"):
        key, event_id, kind, schema, dataversion, data = line.split(b"\t", 5)
        add((tag, key, [content_type, ("ce_id", event_id), event_source, ("ce_type", kind), ("ce_subject", key), at,
                   ("ce_dataschema", schema), version, ("ce_dataversion", dataversion), ("ce_partitionkey", key)],
             data))
    return records
