"""Exports: formula injection neutralised in CSV and XLSX; Chinese text and long ID numbers intact."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from aid_chassis import exports

HOSTILE = ['=HYPERLINK("http://x")', "+1+1", "-2", "@SUM(A1)", "\tx", "张三", "52010220140101001X", None]


def test_csv_neutralises_formulas_and_reads_back_in_order():
    text = "".join(exports.csv_lines(["字段", "值"], [[i, v] for i, v in enumerate(HOSTILE)]))
    assert text.startswith(exports.BOM)
    rows = list(csv.reader(io.StringIO(text.removeprefix(exports.BOM))))
    assert rows[0] == ["字段", "值"]
    values = [r[1] for r in rows[1:]]
    assert values[:5] == ["'" + v for v in HOSTILE[:5]]
    assert values[5:] == ["张三", "52010220140101001X", ""]


def test_xlsx_cells_are_text_never_formulas():
    book = load_workbook(io.BytesIO(exports.xlsx_bytes(["值"], [[v] for v in HOSTILE], sheet="名单")))
    sheet = book["名单"]
    cells = [row[0] for row in sheet.iter_rows(min_row=2)]
    assert [c.data_type for c in cells][:7] == ["s"] * 7
    assert [c.value for c in cells] == [*HOSTILE[:7], None]


def test_xlsx_refuses_more_rows_than_a_sheet_holds(monkeypatch):
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 3)
    with pytest.raises(ValueError, match="more rows than one sheet holds"):
        exports.xlsx_bytes(["a"], [[i] for i in range(4)])


def test_control_characters_do_not_break_a_workbook():
    import io

    from openpyxl import load_workbook

    from aid_chassis.exports import xlsx_bytes

    book = load_workbook(io.BytesIO(xlsx_bytes(["说明"], [["退回\x1f原因\x00"]])))
    assert [c.value for c in next(book.active.iter_rows(min_row=2))] == ["退回\ufffd原因\ufffd"]
