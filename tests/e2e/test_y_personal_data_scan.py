"""After the e2e run (this file runs late by its name): no ID number or bank card number is in any
service's log or exported span — neither the demo province's own (known values) nor anything
shaped like one (18 characters with a real birth date and a valid GB 11643 check digit; a
UnionPay-style 16-19 digit card number).

Every topic too — keys, headers and values, dead letters included: a student's ID number and
name travel sealed (``aid_chassis.fields``), so a value in clear anywhere is a leak — but in the
rows a department pushes (``department-record``), which come in clear from the department.
"""

from __future__ import annotations

import asyncio
import re
from datetime import date
from pathlib import Path

import orjson

from aid_contracts.keys import check_digit
from aid_contracts.topics import Topic
from aid_local import bank

from tests.e2e.records import every_record

ID_SHAPE = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx])(?![0-9A-Za-z])")
CARD_SHAPE = re.compile(r"(?<![0-9A-Za-z])(62\d{14,17})(?![0-9A-Za-z])")
# a span's own ids are random hex, now and then all decimal digits (a span id "6288972039195738"
# looked like a card): taken out before the scan, the rest of the span is scanned
SPAN_IDS = re.compile(r'"(?:trace_id|span_id|parent_id)":"[0-9a-f]+"|"[0-9a-f]{32}:[0-9a-f]{16}"')


def _looks_like_id(text: str) -> bool:
    try:
        born = date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        return False
    return 1900 <= born.year <= date.today().year and check_digit(text[:17]) == text[17].upper()


def _files(running) -> list[Path]:
    plat = running.platform
    return sorted([*plat.log_dir.glob("*.log*"), *plat.trace_dir.glob("*.jsonl")])


def _known(province) -> set[str]:
    numbers = {s.id_number for s in province.students} | {row[0] for rows in province.lists.values() for row in rows}
    return numbers | {bank.card_for(number) for number in numbers}


def _leaks(where: str, text: str, known: set[str]) -> list[str]:
    shaped = {m for m in ID_SHAPE.findall(text) if _looks_like_id(m)} | set(CARD_SHAPE.findall(text))
    leaked = shaped | {value for value in known if value in text}
    return [f"{where}: {value[:4]}…{value[-2:]}" for value in sorted(leaked)]  # never print the value


def test_no_id_or_card_number_in_logs_or_spans(running, result, province):
    files = _files(running)
    assert any(p.suffix == ".jsonl" for p in files) and any(".log" in p.name for p in files)
    known, found = _known(province), []
    for path in files:
        found += _leaks(path.name, SPAN_IDS.sub("", path.read_text(encoding="utf-8", errors="replace")), known)
    assert found == []


SPARED = {"department-record": "fields"}  # the event type whose field comes in clear from outside


def _scanned_value(record) -> str:
    """The record's value as scanned: a department's pushed row without its fields, anything else as it is."""
    spared = SPARED.get(dict(record.headers or ()).get("ce_type", b"").decode(errors="replace"))
    text = (record.value or b"").decode(errors="replace")
    if spared is None:
        return text
    try:
        return orjson.dumps({k: v for k, v in orjson.loads(record.value).items() if k != spared}).decode()
    except (orjson.JSONDecodeError, AttributeError):
        return text


def test_no_id_or_card_number_in_any_topic_but_in_a_departments_pushed_rows(running, result, province):
    records = asyncio.run(every_record(running.platform.bootstrap_servers, (t.value for t in Topic)))
    assert {Topic.STUDENT_MATCHED.value, Topic.VERIFIED.value, Topic.PAID.value, Topic.AUDIT.value} <= {
        r.topic for r in records}
    known, found = _known(province), []
    names = {s.name for s in province.students if len(s.name) >= 2}  # sealed too: none may show
    for r in records:
        where = f"{r.topic}[{r.partition}]@{r.offset}"
        headers = " ".join(f"{k}={(v or b'').decode(errors='replace')}" for k, v in r.headers or ())
        text = f"{(r.key or b'').decode(errors='replace')} {headers} {_scanned_value(r)}"
        found += _leaks(where, text, known) + [f"{where}: a student's name" for name in names if name in text][:1]
    assert found == []
