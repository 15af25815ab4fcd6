"""A report in the format asked for: JSON, CSV, XLSX, or an HTML page with its charts drawn on
the server as SVG (pygal, no script and nothing fetched from elsewhere)."""

from __future__ import annotations

import asyncio
import re
import sys
from datetime import date
from pathlib import Path

import pygal
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pygal.style import DefaultStyle

from aid_chassis import exports

# pygal adds a sys.meta_path finder for its map plug-ins that lacks find_spec (the import system
# and pytest's importer expect it); no map is used here, so it is taken out again.
sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, pygal.PluginImportFixer)]

_templates = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                         autoescape=select_autoescape(["html"]))
_SCRIPT = re.compile(r"<script.*?</script>", re.S)
_STYLE = DefaultStyle(font_family="'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif")


def _chart_config(title: str) -> dict:
    return {"title": title, "js": [], "disable_xml_declaration": True, "style": _STYLE, "width": 800,
            "height": 360, "x_label_rotation": 30, "show_legend": True, "explicit_size": True}


def _svg(chart) -> str:
    """The chart's SVG without pygal's inline configuration script (static charts need none)."""
    return _SCRIPT.sub("", chart.render(is_unicode=True))


def bar_chart(title: str, labels: list[str], series: dict[str, list[float]]) -> str:
    """A bar chart as inline SVG."""
    chart = pygal.Bar(**_chart_config(title))
    chart.x_labels = labels
    for name, values in series.items():
        chart.add(name, values)
    return _svg(chart)


def line_chart(title: str, labels: list[str], series: dict[str, list[float]]) -> str:
    """A trend (line) chart as inline SVG."""
    chart = pygal.Line(**_chart_config(title), show_dots=len(labels) < 60)
    chart.x_labels = labels
    for name, values in series.items():
        chart.add(name, values)
    return _svg(chart)


async def respond(fmt: str, *, name: str, title: str, words: dict[str, str], rows: list[dict], extra: dict,
                  charts: list[str]) -> Response:
    """The report as ``fmt``: json, csv, xlsx or html (CSV and XLSX carry the Chinese column words)."""
    filename = f"{name}-{date.today().isoformat()}"
    columns = list(words)
    if fmt == "json":
        return JSONResponse({"report": name, "title": title, **extra, "columns": words, "rows": rows})
    lines = [[row.get(c) for c in columns] for row in rows]
    if fmt == "csv":
        body = exports.csv_header(list(words.values())) + exports.csv_rows(lines)
        return Response(body.encode(), media_type=exports.CSV_TYPE,
                        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'})
    if fmt == "xlsx":
        body = await asyncio.to_thread(exports.xlsx_bytes, list(words.values()), lines, sheet=name)
        return Response(body, media_type=exports.XLSX_TYPE,
                        headers={"Content-Disposition": f'attachment; filename="{filename}.xlsx"'})
    page = _templates.get_template("report.html").render(title=title, words=words, rows=rows, extra=extra,
                                                         charts=charts)
    return HTMLResponse(page)
