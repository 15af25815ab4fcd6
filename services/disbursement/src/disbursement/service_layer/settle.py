"""Applying a reconciled return file set-wise, so a million results take seconds: the results are
copied into a temporary table; lines and payments are updated from it in two statements; the
``paid`` / ``payment-failed`` events are encoded as columns and queued as packed outbox rows.
The payment notices are written afterwards by the notifier, in chunks (``notify.write_notices``)."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis import bulk, db
from aid_contracts import Paid, PaymentFailed
from disbursement.adapters import tables

SOURCE = "disbursement"
_PAID_ROWS = {"payment_id": pl.String, "list_id": pl.String, "student_key": pl.String, "programme_code": pl.String,
              "programme_name": pl.String, "period": pl.String, "amount_fen": pl.Int64, "student": pl.String,
              "state": pl.String, "bank_code": pl.String, "reference": pl.String, "on": pl.String}


APPLY_SCHEMA = {"payment_id": pl.String, "success": pl.Boolean, "bank_code": pl.String, "reference": pl.String,
                "on": pl.Date}


async def apply_results(session: AsyncSession, results: pl.DataFrame, batch_id: str) -> None:
    """Lines and payments take their results (``APPLY_SCHEMA``); events and notices are queued."""
    if results.is_empty():
        return
    frame = results.select("payment_id", pl.when("success").then(pl.lit("paid")).otherwise(pl.lit("failed"))
                           .alias("state"), "bank_code", "reference", pl.col("on").cast(pl.String))
    conn = await db.driver(session)
    await conn.execute("CREATE TEMP TABLE _returned (payment_id text PRIMARY KEY, state text, bank_code text, "
                       "reference text, \"on\" date) ON COMMIT DROP")
    await bulk.copy_in(session, "_returned", frame)
    await conn.execute("ANALYZE _returned")
    await conn.execute(
        "UPDATE payment_batch_lines l SET state = r.state, bank_code = r.bank_code, reference = r.reference, "
        "returned_on = r.\"on\" FROM _returned r WHERE l.batch_id = %s AND l.payment_id = r.payment_id", (batch_id,))
    await conn.execute(
        "UPDATE payments p SET status = r.state, "
        "bank_reference = CASE WHEN r.state = 'paid' THEN r.reference END, "
        "paid_on = CASE WHEN r.state = 'paid' THEN r.\"on\" END, "
        "failure_code = CASE WHEN r.state = 'failed' THEN r.bank_code END "
        "FROM _returned r WHERE p.payment_id = r.payment_id")
    rows = await bulk.copy_out(session, (
        "SELECT p.payment_id, p.list_id, p.student_key, p.programme_code, p.programme_name, p.period, p.amount_fen, "
        "p.student::text, r.state, r.bank_code, r.reference, r.\"on\"::text "
        "FROM _returned r JOIN payments p ON p.payment_id = r.payment_id ORDER BY p.payment_id"), _PAID_ROWS)
    now = datetime.now(UTC).isoformat()
    await bulk.queue_events(session, tables.chassis.outbox, _events(rows, batch_id, now), source=SOURCE, time=now)
    await conn.execute("DROP TABLE _returned")


def _events(rows: pl.DataFrame, batch_id: str, now: str) -> pl.DataFrame:
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
