"""After the e2e run (this file runs late by its name): no ID number or bank card number is in any
service's log or exported span — neither the demo province's own (known values) nor anything
shaped like one (18 characters with a real birth date and a valid GB 11643 check digit; a
UnionPay-style 16-19 digit card number)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from aid_contracts.keys import check_digit
from aid_local import bank

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


def test_no_id_or_card_number_in_logs_or_spans(running, result, province):
    files = _files(running)
    assert any(p.suffix == ".jsonl" for p in files) and any(".log" in p.name for p in files)
    known = {s.id_number for s in province.students} | {row[0] for rows in province.lists.values() for row in rows}
    cards = {bank.card_for(number) for number in known}
    found = []
    for path in files:
        text = SPAN_IDS.sub("", path.read_text(encoding="utf-8", errors="replace"))
        shaped = {m for m in ID_SHAPE.findall(text) if _looks_like_id(m)} | set(CARD_SHAPE.findall(text))
        leaked = shaped | {value for value in known | cards if value in text}
        found += [f"{path.name}: {value[:4]}…{value[-2:]}" for value in sorted(leaked)]  # never print the value
    assert found == []
