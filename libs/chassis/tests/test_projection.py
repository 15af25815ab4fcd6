"""Bulk projection helpers against real PostgreSQL: whole-row upserts, new rows only, counter deltas."""

from __future__ import annotations

import pytest
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

from sqlalchemy.exc import IntegrityError
from sqlalchemy import (ARRAY, BigInteger, Column, Date, DateTime, Identity, LargeBinary, MetaData, Numeric, String,
                        Table, Text, select)
from sqlalchemy.dialects.postgresql import JSONB

from aid_chassis import db, projection
from aid_chassis.projection import add_counts, insert_new, insert_rows, rows_by_key, upsert

from .test_outbox_and_inbox import sessions_for

ASYNC = pytest.mark.asyncio(loop_scope="function")
metadata = MetaData()
rows = Table("rows", metadata, Column("student_key", String(64), primary_key=True), Column("tags", ARRAY(Text)),
             Column("doc", JSONB), Column("note", Text), Column("day", Date), Column("at", DateTime(timezone=True)),
             Column("amount", Numeric(12, 2)))
counts = Table("counts", metadata, Column("region", String(6), primary_key=True),
               Column("category", String(30), primary_key=True), Column("value", BigInteger, nullable=False))
daily = Table("daily", metadata, Column("day", Date, primary_key=True),
              Column("metric", String(40, collation="C"), primary_key=True), Column("value", BigInteger, nullable=False))
queued = Table("queued", metadata, Column("id", BigInteger, Identity(), primary_key=True), Column("name", Text),
               Column("doc", JSONB), Column("blob", LargeBinary), Column("at", DateTime(timezone=True)),
               Column("state", Text, nullable=False, server_default="waiting"))
AWKWARD = ['say "hi"', "back\\slash", "{braces,comma}", "NULL", "", "行\t二\n三", None]


@pytest.fixture
async def sessions(fresh_database):
    async for made in sessions_for(fresh_database, metadata):
        yield made


@ASYNC
async def test_upsert_round_trips_arrays_json_and_nulls_and_replaces_whole_rows(sessions):
    first = [{"student_key": "a", "tags": AWKWARD, "doc": {"名": ["x", 1, None]}, "note": None, "day": date(2026, 3, 1),
              "at": datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC), "amount": Decimal("1250.50")},
             {"student_key": "b", "tags": [], "doc": None, "note": "\\N", "day": None, "at": None, "amount": None},
             {"student_key": "c", "tags": None, "doc": {"k": "v"}, "note": "kept", "day": None, "at": None,
              "amount": Decimal("0.01")}]
    async with sessions() as s, s.begin():
        await upsert(s, rows, first)
    async with sessions() as s, s.begin():
        await upsert(s, rows, [{**first[0], "note": "changed"}])
        await insert_new(s, rows, [{**first[2], "note": "not replaced"}, {"student_key": "d", "tags": ["x"]}])
    async with sessions() as s:
        back = {r["student_key"]: dict(r) for r in (await s.execute(select(rows))).mappings()}
    assert back["a"] == {**first[0], "note": "changed"}
    assert back["b"] == first[1] and back["c"] == first[2]
    assert back["d"] == {"student_key": "d", "tags": ["x"], "doc": None, "note": None, "day": None, "at": None,
                         "amount": None}


@ASYNC
async def test_rows_by_key_reads_only_the_asked_keys_and_counts_add_up(sessions):
    async with sessions() as s, s.begin():
        await upsert(s, rows, [{"student_key": k, "tags": [k]} for k in ("a", "b", 'q"uote')])
        found = await rows_by_key(s, rows, ["b", 'q"uote', "missing", "b"], lambda r: r["student_key"])
        await add_counts(s, counts, {("520101", "orphan"): 2, ("520101", "disabled"): 1})
        await add_counts(s, counts, {("520101", "orphan"): -1, ("520102", "orphan"): 5})
    assert sorted(found) == ["b", 'q"uote'] and found["b"]["tags"] == ["b"]
    async with sessions() as s:
        totals = {(r.region, r.category): r.value for r in await s.execute(select(counts))}
    assert totals == {("520101", "orphan"): 1, ("520101", "disabled"): 1, ("520102", "orphan"): 5}
    async with sessions() as s:
        assert await rows_by_key(s, rows, [], lambda r: r) == {}


@ASYNC
async def test_upsert_with_stored_keys_inserts_the_new_rows_and_replaces_the_read_ones(sessions):
    async with sessions() as s, s.begin():
        await upsert(s, rows, [{"student_key": "a", "note": "first"}])
    async with sessions() as s, s.begin():
        found = await rows_by_key(s, rows, ["a", "b"], lambda r: r["student_key"])
        await upsert(s, rows, [{"student_key": "a", "note": "second"}, {"student_key": "b", "note": "new"}],
                     stored=set(found))
    async with sessions() as s:
        assert {r.student_key: r.note for r in await s.execute(select(rows))} == {"a": "second", "b": "new"}


@ASYNC
async def test_upsert_fails_rather_than_merging_a_row_it_did_not_read(sessions):
    """A key left out of ``stored`` is inserted plainly: a row already there is a unique violation
    (the consumer then applies the batch again), never a silent overwrite or a lost update."""
    async with sessions() as s, s.begin():
        await upsert(s, rows, [{"student_key": "a", "note": "first"}])
    with pytest.raises(IntegrityError):
        async with sessions() as s, s.begin():
            await upsert(s, rows, [{"student_key": "a", "note": "second"}], stored=set())
    async with sessions() as s:
        assert [r.note for r in await s.execute(select(rows))] == ["first"]


@ASYNC
async def test_insert_new_keeps_the_transaction_when_a_row_is_there_and_fails_on_other_violations(sessions):
    """The optimistic plain insert is rolled back to its savepoint only: what the transaction wrote
    before stays, the duplicate is left as it was, the new rows go in; a violation that is not a
    duplicate key (a missing value) still fails the transaction."""
    async with sessions() as s, s.begin():
        await insert_new(s, counts, [{"region": "520101", "category": "orphan", "value": 1}])
    async with sessions() as s, s.begin():
        await add_counts(s, counts, {("520102", "orphan"): 4})
        await insert_new(s, counts, [{"region": "520101", "category": "orphan", "value": 9},
                                     {"region": "520103", "category": "orphan", "value": 2}])
        await insert_new(s, counts, [])
    async with sessions() as s:
        assert {r.region: r.value for r in await s.execute(select(counts))} == {"520101": 1, "520102": 4, "520103": 2}
    with pytest.raises(IntegrityError):
        async with sessions() as s, s.begin():
            await insert_new(s, counts, [{"region": "520104", "category": "orphan", "value": None}])


@ASYNC
async def test_rows_read_back_are_written_again_with_plain_column_names(sessions):
    """``rows_by_key`` names columns with plain strings, and rows keyed by SQLAlchemy's own names
    (a ``str`` subclass orjson refuses by default) are still written."""
    async with sessions() as s, s.begin():
        await upsert(s, rows, [{"student_key": "a", "note": "first"}])
    async with sessions() as s, s.begin():
        found = await rows_by_key(s, rows, ["a"], lambda r: r["student_key"])
        assert all(type(name) is str for name in found["a"])
        mapped = dict((await s.execute(select(rows))).mappings().one())
        assert any(type(name) is not str for name in mapped)  # what the fallback is for
        await upsert(s, rows, [{**mapped, "note": "second"}])
    async with sessions() as s:
        assert [r.note for r in await s.execute(select(rows))] == ["second"]


@ASYNC
async def test_upsert_keeps_the_kept_columns_of_stored_rows_and_writes_those_of_new_ones(sessions):
    async with sessions() as s, s.begin():
        await upsert(s, rows, [{"student_key": "a", "note": "first", "tags": ["kept"]}])
    async with sessions() as s, s.begin():
        found = await rows_by_key(s, rows, ["a", "b"], lambda r: r["student_key"])
        await upsert(s, rows, [{"student_key": "a", "note": "second", "tags": ["changed"]},
                               {"student_key": "b", "note": "new", "tags": ["written"]}],
                     stored=set(found), keep=("tags",))
    async with sessions() as s:
        back = {r.student_key: (r.note, r.tags) for r in await s.execute(select(rows))}
    assert back == {"a": ("second", ["kept"]), "b": ("new", ["written"])}


@ASYNC
async def test_insert_rows_keeps_order_bytes_json_and_server_defaults_and_returns_what_is_asked(sessions, monkeypatch):
    monkeypatch.setattr(projection, "INSERT_SLICE", 2)  # three rows: two statements
    stamp = datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)
    given = [{"name": name, "doc": {"名": [name, 1, None], "q": 'say "hi"'}, "blob": blob, "at": stamp}
             for name, blob in (("z", b"\x00\xff\\x"), ("a", b""), ("行\t二", bytes(range(256))))]
    async with sessions() as s, s.begin():
        back = await insert_rows(s, queued, given, returning=("name", "id"))
        assert await insert_rows(s, queued, []) == []
        with pytest.raises(ValueError, match="same columns"):  # a key the first row lacks is no silent drop
            await insert_rows(s, queued, [{"name": "x"}, {"name": "y", "doc": {"k": 1}}])
    assert [name for name, _ in back] == ["z", "a", "行\t二"]
    async with sessions() as s:
        stored = [dict(r) for r in (await s.execute(select(queued).order_by(queued.c.id))).mappings()]
    assert [r["id"] for r in stored] == [i for _, i in back] == sorted(i for _, i in back)  # numbered in order
    assert [{k: r[k] for k in ("name", "doc", "blob", "at")} for r in stored] == given
    assert {r["state"] for r in stored} == {"waiting"}  # a column left out takes its default


@ASYNC
@pytest.mark.parametrize("worker", [True, False], ids=["worker", "default"])
async def test_a_workers_statements_are_planned_for_the_table_as_it_has_grown(fresh_database, worker):
    """A lookup prepared (and used) while its table held a few rows keeps a generic plan — a walk of
    the whole table — after the table has grown, until the table is analysed (autovacuum off here);
    a worker's engine plans each execution for the table as it is: the index."""
    settings = SimpleNamespace(database_url=fresh_database, db_pool_size=1)
    engine = db.make_engine(settings, worker=worker)
    lookup = ("PREPARE lookup(text) AS SELECT * FROM grown WHERE student_key IN "
              "(SELECT json_array_elements_text(CAST($1 AS json)))")
    try:
        async with engine.connect() as conn:
            mode = (await conn.exec_driver_sql("SHOW plan_cache_mode")).scalar()
            assert mode == ("force_custom_plan" if worker else "auto")
            await conn.exec_driver_sql("CREATE TABLE grown (student_key text PRIMARY KEY, note text) "
                                       "WITH (autovacuum_enabled = false)")
            await conn.exec_driver_sql("INSERT INTO grown VALUES ('k0', 'first')")
            await conn.exec_driver_sql(lookup)
            for _ in range(10):  # five custom plans, then the generic one is chosen and cached
                await conn.exec_driver_sql("""EXECUTE lookup('["k0"]')""")
            await conn.exec_driver_sql("INSERT INTO grown SELECT 'k' || n, repeat('x', 200) "
                                       "FROM generate_series(1, 30000) n")
            plan = "\n".join(row[0] for row in await conn.exec_driver_sql("""EXPLAIN EXECUTE lookup('["k7"]')"""))
    finally:
        await engine.dispose()
    assert ("Index Scan using grown_pkey" in plan) is worker, plan
    assert ("Seq Scan on grown" in plan) is not worker, plan


@ASYNC
async def test_counts_add_up_under_keys_of_every_type_and_awkward_text(sessions):
    """``add_counts`` sends each key column as a JSON array: dates come back as dates, text as it was
    (quotes, backslashes, commas, new lines, an empty string), big changes and negative ones exactly."""
    texts = [t for t in AWKWARD if t is not None]
    first = {(date(2026, 3, d), text): d for d, text in enumerate(texts, start=1)}
    async with sessions() as s, s.begin():
        await add_counts(s, daily, first)
        await add_counts(s, daily, {(date(2026, 3, 1), texts[0]): 2**40, (date(2026, 3, 2), texts[1]): -2})
        await add_counts(s, daily, {})
    async with sessions() as s:
        back = {(r.day, r.metric): r.value for r in await s.execute(select(daily))}
    assert back == {**first, (date(2026, 3, 1), texts[0]): 1 + 2**40, (date(2026, 3, 2), texts[1]): 0}


@ASYNC
async def test_counts_with_keys_of_the_wrong_length_are_refused(sessions):
    """A key with a column too many would have shifted every column by one (its last part read as the value)."""
    async with sessions() as s, s.begin():
        with pytest.raises(ValueError, match=r"a key is \(day, metric\)"):
            await add_counts(s, daily, {(date(2026, 3, 1), "paid", "extra"): 1})
        with pytest.raises(ValueError, match="a key is"):
            await add_counts(s, daily, {(date(2026, 3, 1),): 1})

