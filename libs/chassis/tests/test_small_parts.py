import os
import platform
from concurrent.futures import ThreadPoolExecutor

import pytest
from pydantic import BaseModel, ValidationError

from aid_chassis.audit import new_id, new_ids
from aid_chassis.consumer import describe_error
from aid_chassis.fields import new_key_text
from aid_chassis.freetext import FreeText, holds_personal_number
from aid_contracts.keys import check_digit
from aid_chassis.masking import mask_id_number, mask_name
from aid_chassis.settings import ServiceSettings


def _settings(**env):
    return ServiceSettings(service_name="t", database_url=env.pop("url", "postgresql://u@h/db"),
                           jwt_public_key_file="/dev/null", field_keys=env.pop("field_keys", f"1={new_key_text()}"),
                           **env)


@pytest.mark.parametrize("ring", ["", "1=short", "no-equals-sign"])
def test_a_field_key_ring_that_cannot_be_used_is_refused_without_showing_it(monkeypatch, ring):
    monkeypatch.setenv("AID_PSEUDONYM_KEY", "a-real-secret-of-enough-length")
    with pytest.raises(ValidationError, match="AID_FIELD_KEYS") as refused:
        _settings(field_keys=ring)
    assert "short" not in str(refused.value).split("input_value")[0]
    assert _settings().field_cipher().current == "1"


def test_a_service_without_a_field_key_ring_opens_nothing(monkeypatch):
    monkeypatch.setenv("AID_PSEUDONYM_KEY", "a-real-secret-of-enough-length")
    monkeypatch.delenv("AID_FIELD_KEYS", raising=False)
    with pytest.raises(ValueError, match="AID_FIELD_KEYS is not set"):
        _settings(field_keys=None).field_cipher()


def test_database_url_is_normalised_to_psycopg3(monkeypatch):
    monkeypatch.setenv("AID_PSEUDONYM_KEY", "a-real-secret-of-enough-length")
    assert _settings().database_url == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize("secret", ["changeme", "short", ""])
def test_placeholder_secrets_are_refused(monkeypatch, secret):
    monkeypatch.setenv("AID_PSEUDONYM_KEY", secret)
    with pytest.raises(ValidationError, match="AID_PSEUDONYM_KEY"):
        _settings()


def test_missing_secret_is_refused(monkeypatch):
    monkeypatch.delenv("AID_PSEUDONYM_KEY", raising=False)
    with pytest.raises(ValidationError):
        _settings()


def test_masks():
    assert mask_id_number("110101201001011234") == "1101**********1234"
    assert mask_name("张三") == "张*"
    assert mask_name("张小三") == "张*三"
    assert mask_name("欧阳小明") == "欧**明"


def test_error_description_never_carries_input_values():
    class M(BaseModel):
        id_number: int

    with pytest.raises(ValidationError) as info:
        M(id_number="11010120100101123X")
    text = describe_error(info.value)
    assert "id_number" in text
    assert "11010120100101123X" not in text


def test_a_batch_links_one_record_of_each_trace():
    from aiokafka.structs import ConsumerRecord

    from aid_chassis.consumer import MAX_LINKS, _one_per_trace

    def record(offset, trace):
        parent = f"00-{trace:032x}-{offset + 1:016x}-01".encode() if trace is not None else None
        headers = (("event_type", b"x"),) + ((("traceparent", parent),) if parent else ())
        return ConsumerRecord("t", 0, offset, 0, 0, None, b"{}", None, 0, 0, headers)

    import_burst = [record(i, 7) for i in range(1, 5001)]
    mixed = [record(0, 1), *import_burst, record(5001, None), record(5002, 2), record(5003, 7)]
    assert [r.offset for r in _one_per_trace(mixed)] == [0, 1, 5001, 5002]
    many = [record(i, i + 1) for i in range(MAX_LINKS * 2)]
    assert len(_one_per_trace(many)) == MAX_LINKS + 1


async def test_a_deadlock_victim_is_told_to_retry_not_a_server_error():
    import psycopg
    from sqlalchemy.exc import DBAPIError

    from aid_chassis.app import _concurrent_change

    victim = DBAPIError("UPDATE …", {}, psycopg.errors.DeadlockDetected("deadlock detected"))
    response = await _concurrent_change(None, victim)
    assert (response.status_code, response.headers["retry-after"]) == (409, "1")
    other = DBAPIError("SELECT …", {}, psycopg.errors.UndefinedTable("no table"))
    with pytest.raises(DBAPIError):
        await _concurrent_change(None, other)


def _luhn_completed(first: str) -> str:
    """``first`` with the digit that makes it pass the Luhn check."""
    return next(first + d for d in "0123456789" if holds_personal_number(first + d))


ID_18 = "52010220120315001" + check_digit("52010220120315001")
CARD = _luhn_completed("622202001234567890")  # 19 digits


@pytest.mark.parametrize(("text", "holds"), [
    ("学生已转学，家长同意", False), ("联系电话 13800138000", False), ("金额 1250.50 元，2026-12-01 至 2027-01-01", False),
    ("批次 20261201-0001 第 12 行", False), ("联系电话 13800138000 2026年3月已确认", False),
    ("学校 5201020001 20261201 核查", False), ("1250\n1250\n1250\n1250", False),
    ("身份证号码有误 52010220120315001" + ("0" if ID_18[-1] != "0" else "1"), False),  # a wrong check digit
    (f"身份证 {ID_18} 有误", True), (f"身份证{ID_18.lower()}", True), ("旧证 520102120315001", True),
    (f"卡号 {CARD[:4]} {CARD[4:8]} {CARD[8:12]} {CARD[12:16]} {CARD[16:]}", True), (f"卡号{CARD}", True),
    (f"{ID_18[:6]} {ID_18[6:14]} {ID_18[14:]}", True),
    ("".join(chr(ord(c) + 0xFEE0) for c in ID_18), True),  # full-width
])
def test_free_text_with_an_id_or_card_number_is_refused(text, holds):
    class Body(BaseModel):
        reason: FreeText

    assert holds_personal_number(text) is holds
    if holds:
        with pytest.raises(ValidationError, match="身份证号或银行卡号"):
            Body(reason=text)
    else:
        assert Body(reason=text).reason == text


def _record_batch(compression: int) -> bytes:
    from aiokafka.record.default_records import DefaultRecordBatchBuilder
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=compression, is_transactional=False,
                                        producer_id=-1, producer_epoch=-1, base_sequence=-1, batch_size=10**6)
    for offset in range(200):
        builder.append(offset, timestamp=1, key=b"%064d" % offset, value=b'{"school_code": "%d"}' % offset,
                       headers=[("ce_type", b"student-matched")])
    return bytes(builder.build())


def test_kafka_lz4_level():
    """The producer's record batches are compressed at lz4's fast level (aid_chassis.kafka), not
    aiokafka's level 9: the compressed body is exactly what level 1 makes of the plain one."""
    from aiokafka import codec

    from aid_chassis import kafka

    header = 61  # a v2 record batch's header, kept uncompressed
    plain, compressed = _record_batch(0), _record_batch(3)
    assert compressed[header:] == codec.lz4_encode(plain[header:], level=kafka.LZ4_LEVEL)
    assert compressed[header:] != codec.lz4_encode(plain[header:], level=9)


def test_the_collector_is_paused_inside_and_restored_after_even_on_error():
    import gc

    from aid_chassis.process import collector_paused

    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner use leaves it to the outermost
        raise RuntimeError("a failed batch")
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # off before: left off
    finally:
        gc.enable()


def test_overlapping_pauses_resume_the_collector_when_the_last_one_ends():
    import gc

    from aid_chassis import process

    assert gc.isenabled()
    process.pause()  # two tasks' pauses, not nested: the first to start ends first
    try:
        with pytest.raises(RuntimeError), process.collector_paused():
            process.resume()
            assert not gc.isenabled()  # the other still runs paused
            raise RuntimeError("a failed batch")
        assert gc.isenabled()
    finally:
        if not gc.isenabled():
            process._PAUSED.clear()
            gc.enable()


def test_pauses_overlapping_for_long_let_the_young_generations_be_collected(monkeypatch):
    import gc

    from aid_chassis import process

    collected = []
    monkeypatch.setattr(process.gc, "collect", lambda generation=2: collected.append(generation))
    monkeypatch.setattr(process, "LONGEST_PAUSE", -1.0)
    process.pause()
    try:
        with process.collector_paused():  # begins after the first has lasted "too long"
            assert not gc.isenabled()
        assert collected == [1]
    finally:
        process.resume()
    assert gc.isenabled()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's: elsewhere it does nothing")
def test_memory_freed_on_a_thread_is_given_back_to_the_system():
    from aid_chassis.process import give_back_memory

    def resident() -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def churn() -> list[bytes]:  # 16 kB blocks (glibc's heap, not Python's small-object arenas), every other freed
        blocks = [b"x" * (16_384 - i % 7) for i in range(8_000)]  # written: resident (calloc's zeros are not)
        return blocks[::2]

    give_back_memory()
    with ThreadPoolExecutor(1) as pool:
        kept = pool.submit(churn).result()
    before = resident()
    assert give_back_memory()
    assert before - resident() > 32 * 2**20  # of the ~64 MB freed in the thread's heap
    assert len(kept) == 4_000


def test_a_batchs_ids_have_new_ids_form_are_distinct_and_in_order():
    ids = new_ids("T", 1000)
    one = new_id("T")
    assert len(set(ids)) == 1000 and ids == sorted(ids)  # in the batch's order
    assert {len(i) for i in ids} == {len(one)} and all(i.startswith("T") and int(i[1:], 16) >= 0 for i in ids)
    assert len({i[-8:] for i in ids}) > 990  # the random digits differ (a repeat of 32 bits: ~1 in 8,600)
    assert new_ids("T", 0) == []


def test_a_worker_engine_keeps_the_server_options_its_url_gives():
    from aid_chassis.db import CUSTOM_PLANS_ONLY, _with_url_options

    plain = "postgresql+psycopg://aid@127.0.0.1/query"
    assert _with_url_options(plain, CUSTOM_PLANS_ONLY) == CUSTOM_PLANS_ONLY
    given = _with_url_options(plain + "?options=-c%20statement_timeout%3D5s", CUSTOM_PLANS_ONLY)
    assert given == f"-c statement_timeout=5s {CUSTOM_PLANS_ONLY}"
