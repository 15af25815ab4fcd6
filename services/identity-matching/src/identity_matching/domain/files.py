"""Reading uploaded CSV files: UTF-8 (with or without BOM) or GB18030, Chinese or English headers."""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from datetime import date, datetime

import polars as pl

from aid_chassis.exports import spreadsheet_safe
from identity_matching.domain.records import canonical_header, whitespace

MAX_BYTES = 400 * 1024 * 1024  # a province's roster (1.5M students) is about 100 MB of CSV
MAX_UNPACKED = 400 * 1024 * 1024
MAX_RATIO = 100


class UnreadableFile(ValueError):
    """The whole file is refused (wrong encoding, no header, too big)."""


def as_utf8(content: bytes) -> bytes:
    """The file's bytes as UTF-8 without BOM: UTF-8 as it is, GBK/GB18030 decoded and re-encoded."""
    if len(content) > MAX_BYTES:
        raise UnreadableFile("文件超过400MB (file larger than 400 MB)")
    if _is_utf8(content):
        return content.removeprefix(b"\xef\xbb\xbf")
    try:
        return content.decode("gb18030").encode()
    except UnicodeDecodeError:
        raise UnreadableFile("无法识别文件编码，请使用UTF-8或GBK (not UTF-8 or GBK/GB18030)") from None


CHECKED = 1 << 20  # bytes decoded at a time by ``_is_utf8``


def _is_utf8(content: bytes) -> bool:
    """Whether the bytes are UTF-8, checked a megabyte at a time (decoded whole, a province's
    roster took twice as long, and a string of its size)."""
    decoder, view = codecs.getincrementaldecoder("utf-8")(), memoryview(content)
    try:
        for at in range(0, len(content), CHECKED):
            decoder.decode(view[at:at + CHECKED])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def read_frame(content: bytes) -> pl.DataFrame:
    """The file as text columns named by canonical header, plus ``row``: its row in the
    spreadsheet (the header is row 1; blank rows are skipped but keep their numbers)."""
    if content.startswith(b"PK\x03\x04"):
        header, rows = _xlsx_rows(content)
        return rows_frame(header, rows, first_row=2)
    utf8 = as_utf8(content)
    if not utf8.strip():
        raise UnreadableFile("文件为空 (the file is empty)")
    try:
        raw = pl.read_csv(io.BytesIO(utf8), has_header=False, infer_schema=False, truncate_ragged_lines=True,
                          quote_char='"')
    except pl.exceptions.PolarsError as exc:
        raise UnreadableFile(f"CSV格式错误 (malformed CSV: {type(exc).__name__})") from None
    header = _unique([canonical_header(h or "") for h in raw.row(0)])
    named = {name: pl.col(column) for column, name in zip(raw.columns, header, strict=True)}  # last one wins
    frame = raw.slice(1).select(pl.int_range(2, raw.height + 1, dtype=pl.Int64).alias("row"),
                                *[expr.alias(name) for name, expr in named.items()])
    return _drop_blank(frame)


def _unique(header: list[str]) -> list[str]:
    """The header, refused when a column appears twice (which of the two would count?)."""
    twice = sorted({h for h in header if h and header.count(h) > 1})
    if twice:
        raise UnreadableFile(f"列名重复 (a column appears twice): {', '.join(twice)}")
    return header


def rows_frame(header: list[str], rows: list[dict[str, str]], first_row: int = 1,
               numbers: list[int] | None = None) -> pl.DataFrame:
    """Rows already read (XLSX, a Kafka batch) as the same text columns, numbered from ``first_row``
    (or by ``numbers``, one per row)."""
    columns = list(dict.fromkeys(header))
    data = {"row": numbers if numbers is not None else list(range(first_row, first_row + len(rows)))}
    data |= {c: [r.get(c) for r in rows] for c in columns}
    frame = pl.DataFrame(data, schema={"row": pl.Int64} | {c: pl.String for c in columns})
    return _drop_blank(frame)


def _drop_blank(frame: pl.DataFrame) -> pl.DataFrame:
    """The rows with something in a column. The first column is looked at in every row, the others
    only in the rows where it is blank (every column of a province's roster: 0.15 s, mostly spent
    on rows the first column already keeps)."""
    text = [c for c in frame.columns if c != "row"]
    if not text:
        return frame
    space = whitespace()

    def filled(column: str) -> pl.Expr:
        return pl.col(column).fill_null("").str.strip_chars(space) != ""

    kept = frame.select(filled(text[0])).to_series()
    if len(text) > 1 and not kept.all():
        at = (~kept).arg_true()
        kept = kept.scatter(at, frame[at].select(pl.any_horizontal([filled(c) for c in text[1:]])).to_series())
    return frame.filter(kept)


REJECTION_COLUMNS = ("row", "field", "code", "message", "raw")


def rejections_to_csv(rejections: list[dict]) -> bytes:
    """The rejected rows for the department to correct: UTF-8 with BOM, so Excel reads Chinese."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["行号 row", "字段 field", "原因代码 code", "说明 message", "原始值 raw"])
    for rejection in rejections:
        writer.writerow([spreadsheet_safe(rejection[c]) for c in REJECTION_COLUMNS])
    return buf.getvalue().encode("utf-8-sig")


def _check_archive(content: bytes) -> None:
    """Refuse archives that are not spreadsheets or that unpack to far more than they weigh (zip bombs)."""
    if len(content) > MAX_BYTES:
        raise UnreadableFile("文件超过400MB (file larger than 400 MB)")
    try:
        entries = zipfile.ZipFile(io.BytesIO(content)).infolist()
    except zipfile.BadZipFile:
        raise UnreadableFile("XLSX文件已损坏 (the XLSX file is damaged or truncated)") from None
    unpacked = sum(e.file_size for e in entries)
    packed = max(sum(e.compress_size for e in entries), 1)
    if unpacked > MAX_UNPACKED or unpacked / packed > MAX_RATIO:
        raise UnreadableFile("XLSX文件解压后过大，已拒绝 (the XLSX file unpacks to too much data)")
    if not any(e.filename == "xl/workbook.xml" for e in entries):
        raise UnreadableFile("不是XLSX文件 (a zip archive, but not an XLSX workbook)")


def _cell(value: object) -> str:
    """A cell as the text a clerk typed: whole numbers without '.0', dates as YYYY-MM-DD."""
    if value is None:
        return ""
    if isinstance(value, int | float) and abs(value) >= 1e15:
        # Excel keeps 15 significant digits: a long ID typed as a number has lost its last digits.
        # Written in E notation it can never pass as a (wrong) valid ID number.
        return f"{value:.15g}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.strftime("%Y-%m-%d")
    return str(value)


def _xlsx_rows(content: bytes) -> tuple[list[str], list[dict[str, str]]]:
    """The header and every data row (blank ones too: they keep the numbering; the frame drops them)."""
    from openpyxl import load_workbook

    _check_archive(content)
    try:
        sheet = load_workbook(io.BytesIO(content), read_only=True, data_only=True).worksheets[0]
        values = sheet.iter_rows(values_only=True)
        header = _unique([canonical_header(_cell(h)) for h in next(values)])
        rows = [dict(zip(header, map(_cell, row), strict=False)) for row in values]
    except StopIteration:
        raise UnreadableFile("文件为空 (the file is empty)") from None
    except (KeyError, ValueError, OSError) as exc:
        raise UnreadableFile(f"XLSX文件无法读取 (the XLSX file cannot be read: {type(exc).__name__})") from None
    return header, rows
