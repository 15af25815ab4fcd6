"""Payment batches (代发批次): the bureau collects ready payments, exports the bank file, imports
the bank's return file; the school never touches the money (seed 001 §2)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime

import polars as pl
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis import bulk, db
from aid_chassis.audit import new_id
from aid_chassis.auth import Principal
from aid_chassis.fields import FieldCipher, ShreddedFieldError
from disbursement.adapters import tables
from disbursement.domain import bankfile, returns_frame
from disbursement.domain.money import yuan
from disbursement.domain.reconcile import reconcile
from disbursement.service_layer import settle
from disbursement.service_layer.store import log

B = tables.batches.c


class BatchRefused(ValueError):
    def __init__(self, code: str, message: str, problems: list[dict] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.problems = problems or []


async def create_batch(session: AsyncSession, who: Principal, *, list_id: str | None, limit: int) -> dict:
    """Collect the ready payments in the bureau's jurisdiction (optionally one list) into a batch.
    The lines are fixed here with the name, ID number and card (still encrypted) the bank file will
    carry: every download of the file is the same file, whatever changes afterwards."""
    batch_id, prefix = new_id("B"), who.region_prefix or "-"
    conn = await db.driver(session)
    await bulk.roomy(session)
    await conn.execute(
        "WITH picked AS (SELECT s.payment_id FROM payment_states s JOIN payments p USING (payment_id) "
        "WHERE s.status = 'ready' AND left(p.region, %(n)s) = %(prefix)s AND (%(list)s::text IS NULL OR p.list_id = "
        "%(list)s) ORDER BY s.payment_id LIMIT %(limit)s FOR UPDATE OF s SKIP LOCKED) "
        "INSERT INTO payment_batch_lines (batch_id, payment_id, seq, amount_fen, student_key, name, id_number, bank, "
        "card_cipher) SELECT %(batch)s, p.payment_id, row_number() OVER (ORDER BY p.payment_id), p.amount_fen, "
        "p.student_key, p.student->>'name', p.student->>'id_number', a.bank, a.card_cipher FROM picked "
        "JOIN payments p USING (payment_id) JOIN bank_accounts a ON a.student_key = p.student_key",
        {"n": len(prefix), "prefix": prefix, "list": list_id, "limit": limit, "batch": batch_id})
    count, total = (await (await conn.execute(
        "SELECT count(*), coalesce(sum(amount_fen), 0) FROM payment_batch_lines WHERE batch_id = %s",
        (batch_id,))).fetchone())
    if not count:
        raise BatchRefused("nothing_ready", "没有可发放的付款（须有终审名单且已登记银行卡）(no payment is ready: "
                                            "final list and registered card needed)")
    await bulk.refresh_statistics(session, "payment_batch_lines", count)
    await conn.execute("UPDATE payment_states s SET status = 'in_batch', batch_id = l.batch_id, attempts = s.attempts + 1 "
                       "FROM payment_batch_lines l WHERE l.batch_id = %s AND l.payment_id = s.payment_id", (batch_id,))
    await session.execute(insert(tables.batches).values(batch_id=batch_id, region_prefix=who.region_prefix,
                                                        status="created", count=count, total_fen=total,
                                                        created_by=who.subject))
    await log(session, "batch", batch_id, "created", who, {"count": count, "total_fen": total})
    return {"batch_id": batch_id, "count": count, "total_fen": total, "total_yuan": yuan(total)}


async def batch_of(session: AsyncSession, who: Principal, batch_id: str, *, lock: bool = False):
    stmt = select(tables.batches).where(B.batch_id == batch_id)
    batch = (await session.execute(stmt.with_for_update() if lock else stmt)).first()
    if batch is None or not (who.region_prefix and batch.region_prefix.startswith(who.region_prefix)):
        raise LookupError(f"没有这个发放批次 (no batch {batch_id} in your jurisdiction)")
    return batch


EXPORT_SCHEMA = {"payment_id": pl.String, "seq": pl.Int64, "amount_fen": pl.Int64, "name": pl.String,
                 "id_number": pl.String, "student_key": pl.String, "bank": pl.String, "card_hex": pl.String}


async def export_lines(session: AsyncSession, who: Principal, batch_id: str, cipher: FieldCipher,
                       fields: FieldCipher) -> tuple:
    """The batch and its payment instructions (a frame) with card numbers (``cipher``), names and ID
    numbers (``fields``) in clear, only for the bank file."""
    batch = await batch_of(session, who, batch_id, lock=True)
    lines = await _lines_in_clear(session, batch_id, batch.count, cipher, fields)
    if batch.status == "created":
        await session.execute(update(tables.batches).where(B.batch_id == batch_id).values(
            status="exported", exported_at=datetime.now(UTC)))
    await log(session, "batch", batch_id, "exported", who, {"count": lines.height})
    return batch, lines


EXPORT_PART = 200_000  # lines read at a time; a part is opened (cards, names, IDs) while the next is read
_EXPORT_SQL = ("SELECT payment_id, seq, amount_fen, name, id_number, student_key, bank, encode(card_cipher, 'hex') "
               "FROM payment_batch_lines WHERE batch_id = %s AND seq BETWEEN %s AND %s")


async def _lines_in_clear(session: AsyncSession, batch_id: str, count: int, cipher: FieldCipher,
                          fields: FieldCipher) -> pl.DataFrame:
    """The batch's lines in order with their cards, names and ID numbers opened, read in parts: one
    part is opened in a thread while PostgreSQL sends the next. Lines of shredded students (销毁)
    are all found, then the file is refused naming them (``_refuse_shredded``)."""
    parts, pending, indexes, shredded = [], None, {}, []  # indexes: the data keys' buckets, for every part
    for start in range(1, count + 1, EXPORT_PART):
        rows = await bulk.copy_out(session, _EXPORT_SQL, EXPORT_SCHEMA, (batch_id, start, start + EXPORT_PART - 1),
                                   wide=True)
        if pending is not None:
            parts.append(await _opened(pending, shredded))
        pending = asyncio.create_task(asyncio.to_thread(_in_clear, rows, cipher, fields, indexes))
    if pending is not None:
        parts.append(await _opened(pending, shredded))
    if shredded:
        _refuse_shredded(shredded)
    return pl.concat(parts).sort("seq").drop("seq") if parts else pl.DataFrame()


class _ShreddedLines(Exception):
    def __init__(self, lines: list[dict]) -> None:
        super().__init__(f"{len(lines)} lines")
        self.lines = lines


async def _opened(part: asyncio.Task, shredded: list[dict]) -> pl.DataFrame | None:
    try:
        return await part
    except _ShreddedLines as found:
        shredded.extend(found.lines)
        return None


SHOWN_LINES = 50  # shredded students' lines named in a refusal


def _refuse_shredded(lines: list[dict]) -> None:
    lines = sorted(lines, key=lambda line: line["line"])
    named = "，".join(f"第 {line['line']} 行（{line['payment_id']}）" for line in lines[:10])
    more = f" 等 {len(lines)} 行" if len(lines) > 10 else ""
    raise BatchRefused("shredded", f"批次中 {len(lines)} 笔付款的学生个人信息已销毁，无法写出银行文件：{named}{more} "
                                   f"({len(lines)} lines belong to students whose personal data was shredded; "
                                   "the bank file cannot be written)", lines[:SHOWN_LINES])


def _in_clear(rows: pl.DataFrame, cipher: FieldCipher, fields: FieldCipher, indexes: dict) -> pl.DataFrame:
    owners = rows["student_key"].to_list()
    cards = cipher.open_all(rows["card_hex"].str.decode("hex").to_list(), owners, "card")
    try:
        columns = fields.open_columns({name: rows[name].to_list() for name in ("name", "id_number")}, owners, indexes)
    except ShreddedFieldError:
        raise _ShreddedLines(_shredded_lines(rows, fields, indexes)) from None
    opened = [pl.Series(name, values, pl.String) for name, values in columns.items()]  # the order of a line
    return rows.select("seq", "payment_id", *opened, "bank", pl.Series("card", cards, pl.String), "amount_fen")


def _shredded_lines(rows: pl.DataFrame, fields: FieldCipher, indexes: dict) -> list[dict]:
    """The part's lines (bank-file line number and payment) whose name or ID number no longer opens
    (a line at a time; the buckets' indexes shared, so a bucket is indexed once, not per line)."""
    found = []
    for seq, payment_id, owner, name, id_number in rows.select(
            "seq", "payment_id", "student_key", "name", "id_number").iter_rows():
        try:
            fields.open_columns({"name": [name], "id_number": [id_number]}, [owner], indexes)
        except ShreddedFieldError:
            found.append({"line": seq, "payment_id": payment_id})
    return found


def bank_file(batch, lines: pl.DataFrame, fmt: str) -> Iterator[bytes]:
    """The payment file of an exported batch, CSV or fixed-width (docs/bank-files.md)."""
    created = batch.created_at.date()
    if fmt == "fixed":
        return bankfile.payment_fixed(batch.batch_id, created, [bankfile.Line(*row) for row in lines.iter_rows()])
    return bankfile.payment_csv_frame(batch.batch_id, created, lines)


async def import_return(session: AsyncSession, who: Principal, content: bytes) -> dict:
    """Apply a bank return file. The same file again changes nothing and answers as before; a file
    whose totals or lines disagree with the batch stops the batch with the report."""
    digest = hashlib.sha256(content).hexdigest()
    try:
        fast = returns_frame.read(content)
        batch_id = fast[0]
    except returns_frame.NotFast:
        fast, returned = None, bankfile.parse_return(content)
        batch_id = returned.batch_id
    batch = await batch_of(session, who, batch_id, lock=True)
    earlier = await session.scalar(select(tables.return_imports.c.outcome).where(tables.return_imports.c.sha256 == digest))
    if earlier is not None:
        return {**earlier, "repeated_import": True}
    if batch.status == "stopped":
        raise BatchRefused("batch_stopped", "批次已因对账不符停止，请人工核查后恢复 (the batch is stopped after a "
                                            "mismatch: a person must resume it)", batch.problems or [])
    await bulk.roomy(session)
    sent = await bulk.copy_out(session, _SENT, {**settle.FACTS, "state": pl.String}, (batch.batch_id,), wide=True)
    lines = sent.select("payment_id", "amount_fen", "state")
    outcome = _reconciled(fast, lines, content) if fast else _reconciled_slowly(returned, lines)
    if outcome["problems"]:
        return await _stop(session, who, batch.batch_id, outcome["problems"])
    await settle.apply_results(session, outcome["apply"], sent.drop("state"), batch.batch_id)
    open_lines = int((lines["state"] == "sent").sum()) - outcome["apply"].height
    status = "reconciled" if open_lines == 0 else "partially_returned"
    await session.execute(update(tables.batches).where(B.batch_id == batch.batch_id).values(status=status))
    paid = int(outcome["apply"]["success"].sum()) if outcome["apply"].height else 0
    report = {"batch_id": batch.batch_id, "status": status, "lines": outcome["results"], "paid": paid,
              "failed": outcome["apply"].height - paid, "already_applied": outcome["unchanged"],
              "duplicate_lines": outcome["duplicates"], "still_open": open_lines}
    await session.execute(insert(tables.return_imports).values(sha256=digest, batch_id=batch.batch_id, outcome=report,
                                                               imported_by=who.subject))
    if paid:
        await session.execute(insert(tables.notice_jobs).values(import_sha256=digest, batch_id=batch.batch_id))
    await log(session, "batch", batch.batch_id, "return_imported", who, {k: v for k, v in report.items() if k != "lines"})
    return report


_SENT = (f"SELECT {settle.FACTS_SQL}, coalesce(r.state, 'sent') FROM payment_batch_lines l "
         "JOIN payments p ON p.payment_id = l.payment_id LEFT JOIN payment_results r "
         "ON r.batch_id = l.batch_id AND r.payment_id = l.payment_id WHERE l.batch_id = %s")  # the batch's lines, facts, results


def _reconciled(fast: tuple, lines: pl.DataFrame, content: bytes) -> dict:
    batch_id, count, total, trailer, sent = fast
    try:
        return returns_frame.reconcile((batch_id, count, total), trailer, sent, lines)
    except returns_frame.NotFast:
        return _reconciled_slowly(bankfile.parse_return(content), lines)


def _reconciled_slowly(returned: bankfile.ReturnFile, lines: pl.DataFrame) -> dict:
    """The line-by-line reconciliation, its results as the same frame the fast path gives."""
    states = dict(zip(lines["payment_id"], zip(lines["amount_fen"], lines["state"], strict=True), strict=True))
    outcome = reconcile(returned, states)
    apply = pl.DataFrame({"payment_id": [r.payment_id for r in outcome.apply],
                          "success": [r.success for r in outcome.apply],
                          "bank_code": [r.bank_code for r in outcome.apply],
                          "reference": [r.reference for r in outcome.apply], "on": [r.on for r in outcome.apply]},
                         schema=settle.APPLY_SCHEMA)
    return {"apply": apply, "unchanged": outcome.unchanged, "duplicates": returned.duplicates,
            "results": len(returned.results), "problems": outcome.problems}


async def _stop(session: AsyncSession, who: Principal, batch_id: str, problems: list[dict]) -> dict:
    """Stop the batch for a person to look at; no payment changes. The caller commits and refuses."""
    await session.execute(update(tables.batches).where(B.batch_id == batch_id).values(status="stopped",
                                                                                      problems=problems))
    await log(session, "batch", batch_id, "stopped", who, {"problems": problems[:50]})
    return {"batch_id": batch_id, "status": "stopped", "stopped": True, "problems": problems,
            "message": f"对账不符，批次已停止，共 {len(problems)} 处问题，付款未作任何变更 "
                       f"(reconciliation failed: {len(problems)} problems; the batch is stopped, no payment changed)"}


async def resume(session: AsyncSession, who: Principal, batch_id: str, note: str) -> dict:
    batch = await batch_of(session, who, batch_id, lock=True)
    if batch.status != "stopped":
        raise BatchRefused("not_stopped", f"批次状态为 {batch.status}，无需恢复 (the batch is {batch.status})")
    await session.execute(update(tables.batches).where(B.batch_id == batch_id).values(status="exported"))
    await log(session, "batch", batch_id, "resumed", who, {"note": note, "problems": (batch.problems or [])[:50]})
    return {"batch_id": batch_id, "status": "exported"}
