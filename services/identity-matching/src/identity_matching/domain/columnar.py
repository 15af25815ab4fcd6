"""Row validation over whole columns (polars): the province-scale path of ``records``.

A row that passes every vectorised check below is accepted as it stands. Every other row is
handed to ``records.parse_*_row``, the reference, which accepts it after normalising it (full-
width digits, a lower-case x, a 15-digit number, a Chinese category name…) or says why not.
The rules therefore live in one place: the fast checks only recognise rows the reference
would accept unchanged, and the tests hold them to that, rule by rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

import polars as pl
import polars_hash

from aid_contracts import regions
from aid_contracts.events import Category, PovertyStatus, Stage
from aid_contracts.keys import student_keys
from identity_matching.domain import records

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ROSTER_FIELDS = ("id_number", "name", "school_code", "stage", "enrolment_region", "household_region")
LIST_FIELDS = ("id_number", "name", "category", "household_region", "poverty_status", "exit_year")
ROSTER_UNIQUE = ("id_number", "school_code")
LIST_UNIQUE = ("id_number", "category")


@dataclass
class Validated:
    """Accepted rows (one per unique key, first wins), refused rows, and exact repeats counted once."""

    accepted: pl.DataFrame
    rejections: list[records.Rejection]
    repeats: int


@cache
def _python_space() -> str:
    """Characters ``str.strip()`` removes, as a regex class body."""
    return "".join(f"\\x{{{ord(c):x}}}" for c in records.whitespace())


@cache
def _region_years(last_year: int) -> pl.Series:
    """``code × 10,000 + year`` for every year (1900..last_year) a region code was in use (built as
    columns: 350,000 strings in a Python set took a process's first import half a second)."""
    spans = pl.DataFrame([(code, max(start, 1900), min(end, last_year)) for code, spans in regions.spans().items()
                          for start, end in spans], schema={"code": pl.String, "start": pl.Int32, "end": pl.Int32},
                         orient="row")
    years = spans.filter(pl.col("start") <= pl.col("end")).with_columns(
        year=pl.int_ranges("start", pl.col("end") + 1)).explode("year")
    return years.select((pl.col("code").cast(pl.Int64) * 10_000 + pl.col("year")).alias("code_year")).unique().sort(
        "code_year")["code_year"]


@cache
def _region_codes() -> pl.Series:
    return pl.Series(regions.codes(), dtype=pl.String)


def _known_region(column: str) -> pl.Expr:
    return pl.col(column).str.contains(r"^[0-9]{6}$") & pl.col(column).is_in(_region_codes().implode())


def _plain_text(column: str) -> pl.Expr:
    """Non-empty, at most 50 characters, nothing ``strip()`` would remove, nothing invisible."""
    space = _python_space()
    value = pl.col(column)
    return (value.str.len_chars().is_between(1, 50) & ~value.str.contains(records.INVISIBLE)
            & ~value.str.contains(f"^[{space}]") & ~value.str.contains(f"[{space}]$"))


def _id_ok(today: date) -> pl.Expr:
    """An 18-character number already in normal form, with its check digit, birth date and region.

    Its first 17 digits are read as one integer and taken apart by arithmetic, not a text per digit
    (a roster's 1.5 million: 0.6–0.76 → 0.28–0.33 s): ISO 7064 MOD 11-2 holds when the weighted sum and the check
    digit's value (X: 10) leave 1 modulo 11 — the check digit is (12 − sum) mod 11, "10X98765432"."""
    value = pl.col("id_number")
    number = value.str.slice(0, 17).cast(pl.Int64, strict=False)
    total = pl.sum_horizontal([(number // 10 ** (16 - i)) % 10 * w for i, w in enumerate(_WEIGHTS)])
    check = pl.when(value.str.ends_with("X")).then(10).otherwise(value.str.slice(17, 1).cast(pl.Int64, strict=False))
    born = value.str.slice(6, 8).str.to_date("%Y%m%d", strict=False)
    region_year = number // 10 ** 11 * 10_000 + born.dt.year().cast(pl.Int64)
    return (value.str.contains(r"^[0-9]{17}[0-9X]$") & ((total + check) % 11 == 1)
            & born.is_between(date(1900, 1, 1), today)
            & region_year.is_in(_region_years(today.year).implode()))


def _choice(column: str, enum, names: dict) -> tuple[pl.Expr, pl.Expr]:
    """Whether the raw value is a canonical or Chinese name as it stands, and its canonical value."""
    mapping = {e.value: e.value for e in enum} | {k: v.value for k, v in names.items()}
    value = pl.col(column)
    return value.is_in(list(mapping)), value.replace_strict(mapping, default=None, return_dtype=pl.String)


def _fill(frame: pl.DataFrame, fields: tuple[str, ...]) -> pl.DataFrame:
    missing = [pl.lit("").alias(f) for f in fields if f not in frame.columns]
    return frame.with_columns(missing).with_columns(pl.col(f).fill_null("") for f in fields)


def in_parts(frame: pl.DataFrame, *columns: pl.Expr, parts: int | None = None) -> pl.DataFrame:
    """``frame.with_columns(*columns)`` computed on a slice of the frame per core at once: polars
    runs one expression over one column on one thread (the roster's checks 1.9 → 1.0 s on two
    cores). Row by row expressions only: nothing that looks at other rows (``over``, ``unique``…).
    ``parts`` by default: one per thread of polars' pool, each of at least 100,000 rows."""
    parts = parts or min(pl.thread_pool_size(), frame.height // 100_000)
    if parts < 2:
        return frame.with_columns(*columns)
    step = -(-frame.height // parts)
    slices = [frame.slice(i * step, step).lazy().with_columns(*columns) for i in range(parts)]
    return pl.concat(pl.collect_all(slices), rechunk=False)


def keyed(frame: pl.DataFrame, secret: bytes) -> pl.DataFrame:
    """``frame`` with each ``id_number``'s ``student_key``, the numbers already normalised (as
    ``aid_contracts.keys.student_keys`` takes them): HMAC-SHA256 in hex, computed by polars-hash
    (Rust) on every core — 1.5 million keys ~0.3 s against ~2 s one at a time in Python. A secret
    that is no UTF-8 text (the plugin takes text) is keyed in Python. The secret is an argument of
    the expression: never log or ``explain`` it."""
    if not secret:
        raise ValueError("the pseudonym secret must not be empty")
    try:
        text = secret.decode()
    except UnicodeDecodeError:
        return frame.with_columns(student_key=pl.Series(student_keys(frame["id_number"], secret), dtype=pl.String))
    return in_parts(frame, polars_hash.col("id_number").chash.hmac_sha256(key=text).alias("student_key"))


def validate_roster(frame: pl.DataFrame, today: date) -> Validated:
    """Validate roster rows (columns ``row`` and the canonical fields, all text)."""
    frame = _fill(frame, ROSTER_FIELDS)
    stage_ok, stage = _choice("stage", Stage, records.STAGE_NAMES)
    ok = (_id_ok(today) & _plain_text("name") & pl.col("school_code").str.contains(r"^[0-9A-Za-z]{4,20}$")
          & stage_ok & _known_region("enrolment_region") & _known_region("household_region"))
    checked = in_parts(frame, ok.fill_null(False).alias("_ok"), stage.alias("_stage"))
    fast = checked.filter("_ok").select("row", *ROSTER_FIELDS[:3], pl.col("_stage").alias("stage"),
                                        "enrolment_region", "household_region")
    return _finish(checked, fast, records.parse_roster_row, ROSTER_UNIQUE, _roster_schema())


def validate_list(frame: pl.DataFrame, today: date) -> Validated:
    """Validate department-list rows (columns ``row`` and the canonical fields, all text)."""
    frame = _fill(frame, LIST_FIELDS)
    category_ok, category = _choice("category", Category, records.CATEGORY_NAMES)
    status_ok, status = _choice("poverty_status", PovertyStatus, records.STATUS_NAMES)
    poor = category == Category.REGISTERED_POOR.value
    out = poor & (status == PovertyStatus.OUT.value)
    year_ok = pl.col("exit_year").str.contains(r"^[0-9]{4}$") & pl.col("exit_year").cast(
        pl.Int32, strict=False).is_between(2013, 2100)
    ok = (_id_ok(today) & category_ok & (~poor | status_ok) & (~out | year_ok)
          & _plain_text("name") & _known_region("household_region"))
    checked = in_parts(frame, ok.fill_null(False).alias("_ok"), category.alias("_category"),
                       pl.when(poor).then(status).alias("_status"),
                       pl.when(out).then(pl.col("exit_year").cast(pl.Int16, strict=False)).alias("_exit"))
    fast = checked.filter("_ok").select(
        "row", "id_number", "name", pl.col("_category").alias("category"), "household_region",
        pl.col("_status").alias("poverty_status"), pl.col("_exit").alias("exit_year"))
    return _finish(checked, fast, records.parse_list_row, LIST_UNIQUE, _list_schema())


def _roster_schema() -> dict:
    return {"row": pl.Int64} | {f: pl.String for f in ROSTER_FIELDS}


def _list_schema() -> dict:
    return {"row": pl.Int64, "id_number": pl.String, "name": pl.String, "category": pl.String,
            "household_region": pl.String, "poverty_status": pl.String, "exit_year": pl.Int16}


def _finish(checked: pl.DataFrame, fast: pl.DataFrame, parse, unique: tuple[str, ...], schema: dict) -> Validated:
    """The reference parses every row the fast checks did not accept; then repeats are resolved."""
    slow, rejections = [], []
    for raw in checked.filter(~pl.col("_ok")).drop("_ok").iter_rows(named=True):
        try:
            parsed = parse(raw)
        except records.RowError as exc:
            rejections.append(records.Rejection(raw["row"], exc.field, exc.code, exc.message, raw.get(exc.field) or ""))
            continue
        slow.append({"row": raw["row"], **{k: getattr(v, "value", v) for k, v in vars(parsed).items()}})
    if fast.height + len(slow) + len(rejections) != checked.height:
        raise RuntimeError("row validation lost rows")  # every row is accepted or refused, never dropped
    rows = pl.concat([fast.cast(schema), pl.DataFrame(slow, schema=schema)]).sort("row")
    accepted, conflicting, repeats = _resolve_repeats(rows, unique)
    raw_ids = checked.select("row", "id_number").join(conflicting.select("row"), on="row")
    message = records.ROW_MESSAGES["conflicting_duplicate"]
    rejections += [records.Rejection(row, "id_number", "conflicting_duplicate", message, raw)
                   for row, raw in raw_ids.iter_rows()]
    rejections.sort(key=lambda r: r.row)
    return Validated(accepted, rejections, repeats)


def _resolve_repeats(rows: pl.DataFrame, unique: tuple[str, ...]) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """The first row of each key wins; a later identical row is a repeat, a later different one conflicts."""
    repeated = pl.struct(unique).is_duplicated()
    alone, shared = rows.filter(~repeated), rows.filter(repeated)
    content = [c for c in rows.columns if c != "row"]
    first = pl.col("row") == pl.col("row").min().over(unique)
    same = pl.all_horizontal([pl.col(c).eq_missing(pl.col(c).first().over(unique, order_by="row"))
                              for c in content])
    marked = shared.with_columns(first.alias("_first"), same.alias("_same"))
    accepted = pl.concat([alone, marked.filter("_first").drop("_first", "_same")]).sort("row")
    conflicting = marked.filter(~pl.col("_first") & ~pl.col("_same"))
    repeats = marked.filter(~pl.col("_first") & pl.col("_same")).height
    return accepted, conflicting, repeats


def statistics(rows: pl.DataFrame, *, by: str, county: str) -> dict:
    """Rows counted by category (or stage) and by county."""
    def count(column: str) -> dict:
        return dict(sorted(rows.group_by(column).len().iter_rows()))
    return {f"by_{by}": count(by), "by_county": count(county)}
