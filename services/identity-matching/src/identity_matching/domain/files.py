"""Reading uploaded CSV files: UTF-8 (with or without BOM) or GB18030, Chinese or English headers."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, datetime

from identity_matching.domain.records import canonical_header

MAX_BYTES = 50 * 1024 * 1024
MAX_UNPACKED = 400 * 1024 * 1024
MAX_RATIO = 100


class UnreadableFile(ValueError):
    """The whole file is refused (wrong encoding, no header, too big)."""


def decode(content: bytes) -> str:
    if len(content) > MAX_BYTES:
        raise UnreadableFile("文件超过50MB (file larger than 50 MB)")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableFile("无法识别文件编码，请使用UTF-8或GBK (not UTF-8 or GBK/GB18030)")


def read_rows(content: bytes) -> tuple[list[str], list[dict[str, str]]]:
    """The canonical headers and the data rows (row numbers start at 2, after the header).

    XLSX is recognised by its content (a zip archive), anything else is read as CSV.
    """
    if content.startswith(b"PK\x03\x04"):
        return _xlsx_rows(content)
    reader = csv.reader(io.StringIO(decode(content)))
    try:
        header = [canonical_header(h) for h in next(reader)]
    except StopIteration:
        raise UnreadableFile("文件为空 (the file is empty)") from None
    except csv.Error as exc:
        raise UnreadableFile(f"CSV格式错误 (malformed CSV: {exc})") from None
    rows = []
    try:
        for values in reader:
            if any(v.strip() for v in values):
                rows.append(dict(zip(header, values, strict=False)))
    except csv.Error as exc:
        raise UnreadableFile(f"第{reader.line_num}行CSV格式错误 (malformed CSV at line {reader.line_num})") from exc
    return header, rows


REJECTION_COLUMNS = ("row", "field", "code", "message", "raw")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> str:
    """A cell value a spreadsheet will not run as a formula."""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


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
        raise UnreadableFile("文件超过50MB (file larger than 50 MB)")
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
    from openpyxl import load_workbook

    _check_archive(content)
    try:
        sheet = load_workbook(io.BytesIO(content), read_only=True, data_only=True).worksheets[0]
        values = sheet.iter_rows(values_only=True)
        header = [canonical_header(_cell(h)) for h in next(values)]
        rows = [dict(zip(header, map(_cell, row), strict=False)) for row in values
                if any(_cell(v).strip() for v in row)]
    except StopIteration:
        raise UnreadableFile("文件为空 (the file is empty)") from None
    except (KeyError, ValueError, OSError) as exc:
        raise UnreadableFile(f"XLSX文件无法读取 (the XLSX file cannot be read: {type(exc).__name__})") from None
    return header, rows
