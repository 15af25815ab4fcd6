"""Lookups that arrive together share one query (``student_key = ANY(…)``): under load a single
round trip answers dozens of parents, and no lookup waits longer than the query in flight."""

from __future__ import annotations

import asyncio
from collections import defaultdict, namedtuple

import psycopg

from query.adapters import tables

Row = namedtuple("Row", "name id_number school_code programme_name period amount_fen status paid_on")
LOOKUP_MANY = (
    f"SELECT s.student_key, s.name, s.id_number, s.school_code, a.programme_name, a.period, a.amount_fen, a.status, "
    f"a.paid_on FROM {tables.students.name} s LEFT OUTER JOIN {tables.aid_records.name} a "
    "ON a.student_key = s.student_key WHERE s.student_key = ANY(%s) ORDER BY s.student_key, a.published_at")


class Coalescer:
    """``await rows(key)``: the student's rows (empty when unknown), fetched with whoever else asked
    in the meantime; one query in flight per process."""

    def __init__(self, pool, max_batch: int = 256) -> None:
        self._pool = pool
        self._max = max_batch
        self._pending: dict[str, list[asyncio.Future]] = defaultdict(list)
        self._draining = False

    async def rows(self, key: str) -> list[Row]:
        future = asyncio.get_running_loop().create_future()
        self._pending[key].append(future)
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _fetch(self, keys: list[str]) -> list:
        try:
            return await self._query(keys)
        except psycopg.OperationalError:  # the server restarted under the pool: drop the dead connections, once more
            await self._pool.check()
            return await self._query(keys)

    async def _query(self, keys: list[str]) -> list:
        async with self._pool.connection() as conn:
            return await (await conn.execute(LOOKUP_MANY, (keys,))).fetchall()

    async def _drain(self) -> None:
        try:
            while self._pending:
                await asyncio.sleep(0)  # let the lookups of this turn of the loop join
                keys = list(self._pending)[: self._max]
                batch = {k: self._pending.pop(k) for k in keys}
                try:
                    found = await self._fetch(keys)
                except Exception as exc:  # noqa: BLE001 - every waiting lookup gets the error
                    for futures in batch.values():
                        for f in futures:
                            if not f.done():
                                f.set_exception(exc)
                    continue
                by_key: dict[str, list[Row]] = defaultdict(list)
                for key, *rest in found:
                    by_key[key].append(Row(*rest))
                for key, futures in batch.items():
                    for f in futures:
                        if not f.done():
                            f.set_result(by_key.get(key, []))
        finally:
            self._draining = False
