"""The columnar fast path for return files: a well-formed file is read and reconciled as columns
(a million lines in about a second). Anything unusual — a malformed line, blank lines, a
conflicting repeat — goes to the line-by-line reader (``bankfile.parse_return``), the single
source of the error messages; the tests hold the two paths to the same outcome."""

from __future__ import annotations

import polars as pl

from aid_chassis import uploads
from disbursement.domain import bankfile
from disbursement.domain.reconcile import FAILED, PAID, totals

COLUMNS = [f"c{i}" for i in range(9)]  # an R line has 8 fields; c8 marks a line with more


class NotFast(Exception):
    """The file needs the line-by-line reader."""


def read(content: bytes) -> tuple[str, int, int, tuple[int, int, int], pl.DataFrame]:
    """(batch id, declared count, declared total, trailer, results as sent) of a well-formed file;
    NotFast otherwise. Results: line, payment_id, amount_fen, success, bank_code, reference, on."""
    text = uploads.decode(content)
    if "\n\n" in text or "\r\n\r\n" in text or text.count('"'):
        raise NotFast
    raw = pl.Series("raw", text.splitlines(), pl.String)
    fields = raw.str.split(",")
    frame = pl.DataFrame({c: fields.list.get(i, null_on_oob=True) for i, c in enumerate(COLUMNS)})
    if frame.height < 2 or frame["c0"][0] != "H" or frame["c0"][-1] != "T":
        raise NotFast
    head, tail, body = frame.row(0), frame.row(-1), frame.slice(1, frame.height - 2)
    try:
        header = (head[1], int(head[2]), int(head[3]))
        trailer = (int(tail[1]), int(tail[2]), int(tail[3]))
    except (TypeError, ValueError):
        raise NotFast from None
    results = body.with_row_index("line", offset=2).select(
        pl.col("line").cast(pl.Int64), pl.col("c0").alias("type"), pl.col("c2").alias("payment_id"),
        pl.col("c3").alias("amount"), pl.col("c4").alias("status"), pl.col("c5").alias("bank_code"),
        pl.col("c6").fill_null("").alias("reference"), pl.col("c7").alias("day"), pl.col("c8").alias("extra"))
    _check(results)
    return *header, trailer, results.select(
        "line", "payment_id", pl.col("amount").cast(pl.Int64).alias("amount_fen"),
        (pl.col("status") == "S").alias("success"), pl.col("bank_code").fill_null(""), "reference",
        pl.col("day").str.to_date("%Y%m%d").alias("on"))


def _check(results: pl.DataFrame) -> None:
    ok = (
        (pl.col("type") == "R") & pl.col("payment_id").is_not_null() & pl.col("extra").is_null()
        & pl.col("amount").str.contains(r"^\d{1,15}$").fill_null(False)
        & pl.col("status").is_in(["S", "F"]).fill_null(False)
        & pl.col("day").str.contains(r"^\d{8}$").fill_null(False)
        & pl.col("day").str.to_date("%Y%m%d", strict=False).is_not_null()
    )
    if not results.select(ok.all()).item():
        raise NotFast


def reconcile(header: tuple, trailer: tuple, sent: pl.DataFrame, lines: pl.DataFrame) -> dict:
    """The columnar ``reconcile``: results to apply (a frame), already applied, repeats, problems.
    ``lines``: the batch's payment_id, amount_fen, state."""
    distinct = sent.unique("payment_id", keep="first", maintain_order=True)
    if distinct.height != sent.unique(["payment_id", "amount_fen", "success", "reference"]).height:
        raise NotFast  # the same payment with two results: the slow reader names the lines
    problems = _totals(header, trailer, sent)
    joined = distinct.join(lines.rename({"amount_fen": "batch_amount"}), on="payment_id", how="left")
    outcome = pl.when(pl.col("success")).then(pl.lit(PAID)).otherwise(pl.lit(FAILED))
    unknown = joined.filter(pl.col("state").is_null())
    wrong = joined.filter(pl.col("state").is_not_null() & (pl.col("amount_fen") != pl.col("batch_amount")))
    known = joined.filter(pl.col("state").is_not_null() & (pl.col("amount_fen") == pl.col("batch_amount")))
    contradicting = known.filter(pl.col("state").is_in([PAID, FAILED]) & (pl.col("state") != outcome))
    problems += [{"line": n, "code": "unknown_payment", "message": "该付款不在本批次 (not in this batch)"}
                 for n in unknown["line"]]
    problems += [{"line": n, "code": "amount_mismatch", "message": f"金额 {a} 与批次 {b} 不符 (amount differs from the batch)"}
                 for n, a, b in wrong.select("line", "amount_fen", "batch_amount").iter_rows()]
    problems += [{"line": n, "code": "contradicts_earlier_return",
                  "message": f"此前回盘为 {s}，本次为 {'paid' if ok else 'failed'} (an earlier return said {s})"}
                 for n, s, ok in contradicting.select("line", "state", "success").iter_rows()]
    apply = known.filter(~pl.col("state").is_in([PAID, FAILED]))
    unchanged = known.height - apply.height - contradicting.height
    problems[len(_totals(header, trailer, sent)):] = sorted(problems[len(_totals(header, trailer, sent)):],
                                                            key=lambda p: p["line"])
    return {"apply": apply if not problems else apply.clear(), "unchanged": unchanged,
            "duplicates": sent.height - distinct.height, "results": distinct.height, "problems": problems}


def _totals(header: tuple, trailer: tuple, sent: pl.DataFrame) -> list[dict]:
    ok = sent.filter("success")
    count, total = sent.height, int(sent["amount_fen"].sum() or 0)
    ok_count, ok_total = ok.height, int(ok["amount_fen"].sum() or 0)
    return totals(bankfile.ReturnFile(header[0], header[1], header[2], [], 0, trailer,
                                      (count, total, ok_count, ok_total)))
