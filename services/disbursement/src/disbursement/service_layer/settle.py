"""Applying a reconciled return file set-wise, so a million results take seconds: the results are
appended to ``payment_results`` with one COPY; the narrow payment states are updated from them in
one statement; the ``paid`` / ``payment-failed`` events are encoded as columns from the facts read
with the batch (nothing read back) and queued as packed outbox rows.
The payment notices are written afterwards by the notifier, in chunks (``notify.write_notices``)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import polars as pl
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis import bulk, db
from aid_contracts import Paid, PaymentFailed
from disbursement.adapters import tables

SOURCE = "disbursement"
FACTS = {"payment_id": pl.String, "list_id": pl.String, "student_key": pl.String, "programme_code": pl.String,
         "programme_name": pl.String, "period": pl.String, "amount_fen": pl.Int64, "student": pl.String}
FACTS_SQL = ", ".join(f"p.{name}::text" if name == "student" else f"p.{name}" for name in FACTS)  # FACTS from ``payments p``
APPLY_SCHEMA = {"payment_id": pl.String, "success": pl.Boolean, "bank_code": pl.String, "reference": pl.String,
                "on": pl.Date}


async def apply_results(session: AsyncSession, results: pl.DataFrame, facts: pl.DataFrame, batch_id: str) -> None:
    """Record the bank's results (``APPLY_SCHEMA``) and move the payments on; queue ``paid`` /
    ``payment-failed`` built from the payments' ``facts`` (``FACTS``, read with the batch)."""
    if results.is_empty():
        return
    state = pl.when("success").then(pl.lit("paid")).otherwise(pl.lit("failed")).alias("state")
    now = datetime.now(UTC).isoformat()
    rows = results.select("payment_id", state, "bank_code", "reference", pl.col("on").cast(pl.String))
    packing = asyncio.create_task(asyncio.to_thread(_packed_events, rows, facts, batch_id, now))  # beside the SQL
    try:
        await bulk.copy_in(session, "payment_results", results.select(
            pl.lit(batch_id).alias("batch_id"), "payment_id", state, "bank_code", "reference",
            pl.col("on").alias("returned_on")))
        await bulk.refresh_statistics(session, "payment_results", results.height)
        await bulk.roomy(session)
        await (await db.driver(session)).execute(
            "UPDATE payment_states s SET status = r.state, "
            "bank_reference = CASE WHEN r.state = 'paid' THEN r.reference END, "
            "paid_on = CASE WHEN r.state = 'paid' THEN r.returned_on END, "
            "failure_code = CASE WHEN r.state = 'failed' THEN r.bank_code END "
            "FROM payment_results r WHERE r.batch_id = %(batch)s AND s.payment_id = r.payment_id "
            "AND s.batch_id = %(batch)s AND s.status = 'in_batch'", {"batch": batch_id})
    finally:
        packed = await packing
    await bulk.insert_packed(session, tables.chassis.outbox, packed, source=SOURCE, time=now)


def _packed_events(rows: pl.DataFrame, facts: pl.DataFrame, batch_id: str, now: str) -> list:
    joined = rows.lazy().join(facts.lazy(), on="payment_id", how="inner", validate="1:1").sort("payment_id")
    return bulk.pack_events(_events(joined, batch_id, now))


def _events(rows: pl.LazyFrame, batch_id: str, now: str) -> pl.LazyFrame:
    """``paid`` or ``payment-failed`` per row, the data JSON built from columns (student spliced in)."""
    paid = pl.col("state") == "paid"
    common = ["payment_id", "list_id", "programme_code", "programme_name", "period", "amount_fen"]
    paid_data = pl.struct(*common, pl.col("reference").alias("bank_reference"), pl.col("on").alias("paid_on"),
                          pl.lit(now).alias("paid_at")).struct.json_encode()
    failed_data = pl.struct(*common, "bank_code", pl.col("on").alias("failed_on"),
                            pl.lit(now).alias("failed_at")).struct.json_encode()
    data = pl.when(paid).then(paid_data).otherwise(failed_data)
    return rows.select(
        (pl.col("payment_id") + "-" + pl.col("state") + "-" + pl.lit(batch_id)).alias("event_id"),
        pl.lit(Paid.TOPIC.value).alias("topic"), pl.col("student_key").alias("key"),
        pl.when(paid).then(pl.lit(Paid.EVENT_TYPE)).otherwise(pl.lit(PaymentFailed.EVENT_TYPE)).alias("type"),
        pl.when(paid).then(pl.lit(Paid.schema_uri())).otherwise(pl.lit(PaymentFailed.schema_uri())).alias("dataschema"),
        pl.lit(str(Paid.VERSION)).alias("dataversion"),
        (data.str.head(-1) + ',"student":' + pl.col("student") + "}").alias("data"))
