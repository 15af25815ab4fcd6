"""Exports a clerk opens in Excel or WPS: CSV (UTF-8 with BOM, so Chinese reads right) and XLSX.

A cell that starts like a formula (``=``, ``+``, ``-``, ``@``, tab, carriage return) is never run
as one: in CSV it gets a leading apostrophe, in XLSX it is written as a text cell. ID numbers
and codes are always text, never numbers a spreadsheet would round.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
XLSX_MAX_ROWS = 1_048_575  # a sheet's rows, less the header
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"


def spreadsheet_safe(value: object) -> str:
    """A cell value a spreadsheet will not run as a formula (None is empty)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_header(header: list[str], *, bom: bool = True) -> str:
    """The first line of a CSV export (with the BOM Excel needs to read UTF-8)."""
    return (BOM if bom else "") + csv_rows([header], safe=False)


def csv_rows(rows: Iterable[Iterable[object]], *, safe: bool = True) -> str:
    """Lines of a CSV export, cells neutralised."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerows([spreadsheet_safe(v) for v in row] if safe else list(row) for row in rows)
    return buf.getvalue()


def csv_lines(header: list[str], rows: Iterable[Iterable[object]], *, bom: bool = True) -> Iterator[str]:
    """The CSV text, a line at a time (for streaming responses)."""
    yield csv_header(header, bom=bom)
    for row in rows:
        yield csv_rows([row])


def xlsx_bytes(header: list[str], rows: Sequence[Iterable[object]], *, sheet: str = "Sheet1") -> bytes:
    """A workbook of one sheet; every cell is text, so nothing in it is a formula.

    Raises ValueError when there are more rows than a sheet holds."""
    if len(rows) > XLSX_MAX_ROWS:
        raise ValueError(f"超过表格最大行数 {XLSX_MAX_ROWS} (more rows than one sheet holds; export CSV instead)")
    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet[:31])
    ws.append([_text(ws, h) for h in header])
    for row in rows:
        ws.append([_text(ws, v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _text(ws, value: object) -> WriteOnlyCell:
    """A text cell; control characters a workbook cannot hold (XML forbids them) become U+FFFD."""
    text = "" if value is None else ILLEGAL_CHARACTERS_RE.sub("\ufffd", str(value))
    cell = WriteOnlyCell(ws, value=text)
    cell.data_type = "s"
    return cell
