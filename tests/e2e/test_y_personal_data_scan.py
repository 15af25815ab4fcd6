"""After the e2e run (this file runs late by its name): no ID number or bank card number is in any
service's log or exported span — neither the demo province's own (known values) nor anything
shaped like one (18 characters with a real birth date and a valid GB 11643 check digit; a
UnionPay-style 16-19 digit card number).

Every topic too — keys, headers and values, dead letters included — but for the fields the
contract marks ``x-personal-data`` (a student's ID number and name, a department's pushed row, a
school's corrections): those still travel in clear, until they are sealed per field
(docs/security.md, the plan); anything else that carries one is a leak.
"""

from __future__ import annotations

import asyncio
import re
import typing
from datetime import date
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import BaseModel

from aid_contracts import EVENT_TYPES
from aid_contracts.keys import check_digit
from aid_contracts.topics import Topic
from aid_local import bank, dlq

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


def _model_in(annotation) -> type[BaseModel] | None:
    """The event model a field holds, alone or in a list, dict or optional."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next(filter(None, map(_model_in, typing.get_args(annotation))), None)


def _without_personal_fields(data, model: type[BaseModel] | None):
    """``data`` with every field its model marks ``x-personal-data`` emptied (nested models too)."""
    if isinstance(data, list):
        return [_without_personal_fields(item, model) for item in data]
    if not isinstance(data, dict) or model is None:
        return data
    kept = {}
    for name, value in data.items():
        field = model.model_fields.get(name)
        extra = field.json_schema_extra if field is not None and isinstance(field.json_schema_extra, dict) else {}
        kept[name] = "" if extra.get("x-personal-data") else _without_personal_fields(
            value, _model_in(field.annotation) if field is not None else None)
    return kept


async def _every_record(bootstrap: str) -> list:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [tp for t in Topic for tp in await dlq.topic_partitions(bootstrap, t.value)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                records += [r for r in batch if r.offset < ends[TopicPartition(r.topic, r.partition)]]
    finally:
        await consumer.stop()
    return records


def _scanned_value(record) -> str:
    """The record's value as scanned: an event's data without its personal fields, anything else as it is."""
    model = EVENT_TYPES.get(dict(record.headers or ()).get("ce_type", b"").decode(errors="replace"))
    try:
        data = orjson.loads(record.value or b"null")
    except orjson.JSONDecodeError:
        return (record.value or b"").decode(errors="replace")
    return orjson.dumps(_without_personal_fields(data, model)).decode()


def test_no_id_or_card_number_in_any_topic_but_in_the_fields_marked_personal(running, result, province):
    records = asyncio.run(_every_record(running.platform.bootstrap_servers))
    assert {Topic.STUDENT_MATCHED.value, Topic.VERIFIED.value, Topic.PAID.value, Topic.AUDIT.value} <= {
        r.topic for r in records}
    known, found = _known(province), []
    for r in records:
        where = f"{r.topic}[{r.partition}]@{r.offset}"
        headers = " ".join(f"{k}={(v or b'').decode(errors='replace')}" for k, v in r.headers or ())
        found += _leaks(where, f"{(r.key or b'').decode(errors='replace')} {headers} {_scanned_value(r)}", known)
    assert found == []


def test_the_personal_fields_are_found_where_the_contract_marks_them():
    """The scan's blanking: a student's facts and a department's row emptied, the rest left."""
    from aid_contracts import StudentMatched

    data = {"student": {"id_number": "X", "name": "Y", "school_code": "5201020001"}, "sources": [{"batch_id": "b"}]}
    assert _without_personal_fields(data, StudentMatched)["student"] == {"id_number": "", "name": "",
                                                                          "school_code": "5201020001"}
    assert _without_personal_fields({"fields": {"身份证号": "X"}, "row": 1}, EVENT_TYPES["department-record"]) == {
        "fields": "", "row": 1}
