"""Payments on a real PostgreSQL: one per student, programme and period; cards; batches, the bank
file, the return file with a failure, re-payment, events, notices; bad returns change nothing."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from aid_chassis import bulk, outbox
from aid_chassis.auth import Principal, Role
from aid_chassis.fields import FieldCipher, new_key_text
from aid_chassis.rekey import rekey
from aid_contracts import Paid, PaymentFailed
from aid_local import bank
from disbursement.adapters import tables
from disbursement.domain.bankfile import FileRefused
from disbursement.domain.cards import CardRefused
from disbursement.service_layer import accounts, batches, notify
from tests import factories as f
from tests.factories import FIELDS

SECRET = b"test-secret-of-sixteen+"
OLD_KEY = new_key_text()
CIPHER = FieldCipher.from_text(f"1={OLD_KEY}")
SCHOOL = Principal("clerk", Role.SCHOOL, school_code="5201020001")
COUNTY = Principal("county", Role.COUNTY_BUREAU, region="520102")


@pytest.fixture
async def sessions(migrate, engine_for):
    return async_sessionmaker(engine_for(migrate("disbursement")), expire_on_commit=False)


async def _run(sessions, fn, *args, **kwargs):
    async with sessions() as s, s.begin():
        return await fn(s, *args, **kwargs)


async def _count(sessions, table, *where) -> int:
    async with sessions() as s:
        return await s.scalar(select(func.count()).select_from(table).where(*where))


async def _queued(sessions) -> list:
    """The queued payment events (not the audit trail's), packed rows unpacked as the relay sends them."""
    async with sessions() as s:
        return [env for _, env in await outbox.pending(s, tables.chassis.outbox) if env.type != "audit-recorded"]


async def _events(sessions) -> list[str]:
    return [env.type for env in await _queued(sessions)]


async def _approved(sessions, *seqs: int, school: str = "5201020001", region: str = "520102", at=f.NOW,
                    id_region: str | None = None) -> None:
    """The bureau approved these students at ``school`` (at ``at``): it may register their cards."""
    from aid_contracts import Envelope, Verified
    from aid_contracts.keys import student_key

    async with sessions() as s, s.begin():
        for seq in seqs:
            event = f.verified(seq, school=school, region=region, at=at).parse(Verified)
            key = student_key(f.id_number(seq, id_region or region), SECRET)
            await accounts.on_verified(s, Envelope.wrap(event, source="test", key=key))


async def _card(sessions, seq: int, number: str = "6222020200112233445", phone: str | None = "13800138000"):
    await _approved(sessions, seq)
    return await _run(sessions, accounts.register, SCHOOL, accounts.Card(f.id_number(seq), "ICBC", number, phone),
                      secret=SECRET, cipher=CIPHER)


def _published(seq: int, ring: FieldCipher = FIELDS, **kwargs):
    """A final entry keyed like the cards registered by ID number, the student's ID number and name
    sealed for that key (as events carry them; under the student's data key where ``ring`` knows it)."""
    from aid_contracts import Envelope, Published
    from aid_contracts.events import StudentFacts
    from aid_contracts.keys import student_key

    event, key = f.published(seq, final=True, **kwargs).parse(Published), student_key(f.id_number(seq), SECRET)
    sealed = StudentFacts(**ring.seal_student(event.student.model_dump(), key))
    return Envelope.wrap(event.model_copy(update={"student": sealed}), source="test", key=key)


async def test_a_bank_file_with_shredded_students_is_refused_naming_their_lines(sessions):
    from aid_chassis import datakeys
    from aid_contracts.keys import student_key

    ring = FieldCipher.from_text(f"1={new_key_text()}")
    known, owners = datakeys.attach(ring), {seq: student_key(f.id_number(seq), SECRET) for seq in (1, 2, 3)}
    buckets = {datakeys.bucket_of(owner) for owner in owners.values()}

    def publish_keys(*seqs: int) -> None:  # as the data-key topic holds each bucket now
        for bucket in buckets:
            entries = {datakeys.student_id(owners[q]): bytes([q]) * 32 for q in seqs if datakeys.bucket_of(owners[q]) == bucket}
            known.put(bucket, datakeys.seal_bucket(ring, bucket, entries))

    publish_keys(1, 2, 3)
    for seq in (1, 2, 3):
        await _card(sessions, seq, f"62220202001122334{seq}5")
        await _run(sessions, accounts.on_published, _published(seq, ring))
    batch = await _run(sessions, batches.create_batch, COUNTY, list_id="L1", limit=100)
    publish_keys(1)  # students 2 and 3 shredded (销毁) after the batch was made
    with pytest.raises(batches.BatchRefused) as refused:
        await _run(sessions, batches.export_lines, COUNTY, batch["batch_id"], CIPHER, ring)
    lines = tables.batch_lines.c
    async with sessions() as s:
        rows = (await s.execute(select(lines.student_key, lines.seq, lines.payment_id))).all()
    expected = sorted(({"line": seq, "payment_id": pid} for key, seq, pid in rows if key != owners[1]),
                      key=lambda line: line["line"])
    assert refused.value.code == "shredded" and refused.value.problems == expected and len(expected) == 2
    message = str(refused.value)
    assert "2 笔" in message and all(f"第 {line['line']} 行（{line['payment_id']}）" in message for line in expected)
    assert not any(f.id_number(seq) in message or f.student(seq).name in message for seq in (2, 3))
    assert await _count(sessions, tables.batches, tables.batches.c.status == "created") == 1  # nothing exported


async def test_one_payment_per_student_programme_and_period_whatever_the_replays(sessions):
    async with sessions() as s, s.begin():
        for env in (f.published(1, final=False), _published(1), _published(1), _published(1, list_id="L2"), _published(2)):
            await accounts.on_published(s, env)
    assert await _count(sessions, tables.payments) == 2  # L2 is the same programme and period: not paid twice
    assert await _count(sessions, tables.payment_states, tables.payment_states.c.status == "awaiting_card") == 2


async def _ready_batch(sessions) -> tuple[str, bytes]:
    await _card(sessions, 1)
    async with sessions() as s, s.begin():
        for seq in (1, 2):
            await accounts.on_published(s, _published(seq))
    await _card(sessions, 2, "6222020200998877665", phone=None)
    batch = await _run(sessions, batches.create_batch, COUNTY, list_id="L1", limit=100)
    assert (batch["count"], batch["total_fen"]) == (2, 100_000)
    found, lines = await _run(sessions, batches.export_lines, COUNTY, batch["batch_id"], CIPHER, FIELDS)
    return batch["batch_id"], b"".join(batches.bank_file(found, lines, "csv"))


async def test_bank_file_return_with_a_failure_then_a_new_card_and_a_second_batch(sessions):
    batch_id, payment_file = await _ready_batch(sessions)
    assert b"6222020200112233445" in payment_file  # the card in clear only here, and the student's ID and name
    assert f.id_number(1).encode() in payment_file and "张小三".encode() in payment_file and b"pd1:" not in payment_file
    async with sessions() as s:
        stored = (await s.execute(select(tables.accounts.c.card_cipher))).scalars().all()
    assert all(b"622202" not in blob for blob in stored)
    failing = payment_file.decode().splitlines()[2].split(",")[2]
    report = await _run(sessions, batches.import_return, COUNTY, bank.answer(payment_file, fail={failing}))
    assert (report["status"], report["paid"], report["failed"]) == ("reconciled", 1, 1)
    assert await _events(sessions) == ["paid", "payment-failed"]
    paid, failed = await _queued(sessions)
    student = FIELDS.open_student(paid.parse(Paid).student.model_dump(), paid.partitionkey)  # sealed as it came
    assert paid.parse(Paid).amount_fen == 50_000 and student["id_number"] in (f.id_number(1), f.id_number(2))
    assert failed.parse(PaymentFailed).bank_code == "E1021" and failed.partitionkey != paid.partitionkey
    await _card(sessions, 2, "6217000011112222333")  # corrected card: the failed payment is ready again
    second = await _run(sessions, batches.create_batch, COUNTY, list_id=None, limit=100)
    assert second["count"] == 1
    found, lines = await _run(sessions, batches.export_lines, COUNTY, second["batch_id"], CIPHER, FIELDS)
    again = b"".join(batches.bank_file(found, lines, "fixed"))
    assert b"6217000011112222333" in again
    csv_again = b"".join(batches.bank_file(found, lines, "csv"))
    await _run(sessions, batches.import_return, COUNTY, bank.answer(csv_again))
    assert await _count(sessions, tables.payment_states, tables.payment_states.c.status == "paid") == 2
    assert await _events(sessions) == ["paid", "payment-failed", "paid"]


async def test_the_same_return_file_twice_changes_nothing(sessions):
    batch_id, payment_file = await _ready_batch(sessions)
    returned = bank.answer(payment_file)
    first = await _run(sessions, batches.import_return, COUNTY, returned)
    second = await _run(sessions, batches.import_return, COUNTY, returned)
    assert second == {**first, "repeated_import": True}
    assert await _events(sessions) == ["paid", "paid"]
    assert await _run(sessions, notify.write_notices) == 2  # one import, one job: the repeat added none
    assert await _run(sessions, notify.write_notices) == 0
    assert await _count(sessions, tables.notifications) == 2 and await _count(sessions, tables.notice_jobs) == 0


async def test_a_wrong_total_stops_the_batch_and_changes_no_payment(sessions):
    batch_id, payment_file = await _ready_batch(sessions)
    text = bank.answer(payment_file).decode().splitlines()
    text[-1] = "T,2,2,1"
    report = await _run(sessions, batches.import_return, COUNTY, "\n".join(text).encode())
    assert report["stopped"] and [p["code"] for p in report["problems"]] == ["trailer_totals"]
    assert await _count(sessions, tables.payment_states, tables.payment_states.c.status == "in_batch") == 2
    assert await _events(sessions) == []
    with pytest.raises(batches.BatchRefused) as caught:
        await _run(sessions, batches.import_return, COUNTY, bank.answer(payment_file))
    assert caught.value.code == "batch_stopped"
    await _run(sessions, batches.resume, COUNTY, batch_id, "与银行核实，T 行错误")
    assert (await _run(sessions, batches.import_return, COUNTY, bank.answer(payment_file)))["paid"] == 2


async def test_unknown_batch_and_malformed_line_change_nothing(sessions):
    _, payment_file = await _ready_batch(sessions)
    with pytest.raises(LookupError):
        await _run(sessions, batches.import_return, COUNTY, b"H,B-unknown,0,0\nT,0,0,0\n")
    bad = bank.answer(payment_file).decode().replace(",S,", ",Q,", 1).encode()
    with pytest.raises(FileRefused) as caught:
        await _run(sessions, batches.import_return, COUNTY, bad)
    assert caught.value.problems[0]["line"] == 2
    with pytest.raises(LookupError):
        await _run(sessions, batches.import_return, Principal("x", Role.COUNTY_BUREAU, region="530102"),
                   bank.answer(payment_file))
    assert await _events(sessions) == [] and await _count(sessions, tables.return_imports) == 0


async def test_card_import_reports_each_row(sessions):
    await _approved(sessions, 1, 2, 3)
    await _approved(sessions, 6, school="5201030001", region="520103")
    content = ("身份证号,开户银行,银行卡号,手机号\n"
               f"{f.id_number(1)},ICBC,6222020200112233445,13800138000\n"
               f"{f.id_number(2)},XYZ,6222020200112233445,\n"
               f"{f.id_number(3)},ICBC,123,\n"
               f"{f.id_number(6, '520103')},ICBC,6222020200112233445,\n"  # another county's school's student
               f"{f.id_number(7)},ICBC,6222020200112233445,\n").encode()  # approved nowhere yet
    result = await _run(sessions, accounts.import_cards, SCHOOL, content, secret=SECRET, cipher=CIPHER)
    assert (result["read"], result["accepted"]) == (5, 1)
    assert [(r["row"], r["code"]) for r in result["rejections"]] == [
        (3, "unknown_bank"), (4, "bad_card"), (5, "not_your_student"), (6, "not_your_student")]
    assert await _count(sessions, tables.accounts) == 1
    with pytest.raises(CardRefused):
        await _card(sessions, 5, phone="12345")


class _Flaky:
    name = "flaky"

    def __init__(self) -> None:
        self.calls = 0

    async def send(self, recipient: str, message: str) -> None:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("gateway down")


async def test_notices_are_delivered_retried_and_recorded(sessions, tmp_path: Path):
    _, payment_file = await _ready_batch(sessions)
    await _run(sessions, batches.import_return, COUNTY, bank.answer(payment_file))
    flaky = _Flaky()
    assert await _run(sessions, notify.deliver_due, flaky, CIPHER, max_attempts=3, fields=FIELDS) == 0
    async with sessions() as s, s.begin():
        await s.execute(tables.notifications.update().values(next_attempt_at=func.now()))
    assert await _run(sessions, notify.deliver_due, flaky, CIPHER, max_attempts=3, fields=FIELDS) == 1
    async with sessions() as s:
        rows = {r.status: r for r in (await s.execute(select(tables.notifications))).all()}
    assert set(rows) == {"sent", "no_recipient"} and rows["sent"].attempts == 2
    assert "张*三同学" in rows["sent"].message and "500.00 元已于 2026年" in rows["sent"].message
    assert f.id_number(1) not in rows["sent"].message
    channel = notify.FileChannel(tmp_path / "n.jsonl")
    await channel.send("13800138000", "测试")
    line = orjson.loads((tmp_path / "n.jsonl").read_text())
    assert line["to"] == "138****8000"


async def test_a_crash_mid_reconciliation_then_every_replay_pays_each_student_once(sessions, monkeypatch):
    """The import dies after the payments were updated, before the events were queued: the
    transaction rolls back whole; the same file imported again applies once, a third time not at all."""
    _, payment_file = await _ready_batch(sessions)
    async with sessions() as s, s.begin():  # every final entry delivered again, under new event ids too
        for seq in (1, 2):
            await accounts.on_published(s, _published(seq))
    returned = bank.answer(payment_file)

    async def crash(*args, **kwargs):
        raise ConnectionError("the service died mid-batch")

    monkeypatch.setattr(bulk, "insert_packed", crash)
    with pytest.raises(ConnectionError):
        await _run(sessions, batches.import_return, COUNTY, returned)
    monkeypatch.undo()
    assert await _count(sessions, tables.payment_states, tables.payment_states.c.status == "in_batch") == 2
    assert await _events(sessions) == [] and await _count(sessions, tables.return_imports) == 0
    first = await _run(sessions, batches.import_return, COUNTY, returned)
    again = await _run(sessions, batches.import_return, COUNTY, returned)
    assert (first["paid"], again["repeated_import"]) == (2, True)
    assert await _events(sessions) == ["paid", "paid"]
    assert await _count(sessions, tables.payments) == 2
    assert await _count(sessions, tables.payment_states, tables.payment_states.c.status == "paid") == 2


async def test_an_older_approval_arriving_late_does_not_hand_the_card_back(sessions):
    from datetime import timedelta

    await _approved(sessions, 1, school="5201030001", region="520103", at=f.NOW + timedelta(days=30),
                    id_region="520102")  # the student moved to school B
    await _approved(sessions, 1, at=f.NOW)  # school A's older approval, delivered late
    with pytest.raises(CardRefused):
        await _run(sessions, accounts.register, SCHOOL, accounts.Card(f.id_number(1), "ICBC", "6222020200112233445"),
                   secret=SECRET, cipher=CIPHER)


async def test_a_rotated_key_ring_reseals_every_stored_card_and_phone_and_keeps_what_does_not_open(sessions):
    """Rotation: a new key first, ``rekey``, then the old key leaves the ring and every value still opens."""
    _, payment_file = await _ready_batch(sessions)  # cards, phones, a bank file's lines under CIPHER's key
    await _run(sessions, batches.import_return, COUNTY, bank.answer(payment_file))
    await _run(sessions, notify.write_notices)
    rotated = FieldCipher.from_text(f"2={(new := new_key_text())},1={OLD_KEY}")  # new first, old kept
    async with sessions() as s, s.begin():  # one value no key opens: counted, left as it is
        await s.execute(tables.accounts.update().where(tables.accounts.c.phone_cipher.is_not(None))
                        .values(phone_cipher=CIPHER.seal("13800138000", "someone-else", "phone")))
    report = await rekey(sessions, tables.SEALED, rotated, lambda line: None)
    assert report == {"bank_accounts.card_cipher": {"resealed": 2, "unopened": 0},
                      "bank_accounts.phone_cipher": {"resealed": 0, "unopened": 1},
                      "payment_batch_lines.card_cipher": {"resealed": 2, "unopened": 0},
                      "notifications.recipient_cipher": {"resealed": 1, "unopened": 0}}
    assert (await rekey(sessions, tables.SEALED, rotated, lambda line: None))["bank_accounts.card_cipher"] == {
        "resealed": 0, "unopened": 0}  # nothing left
    after = FieldCipher.from_text(f"2={new}")
    async with sessions() as s:
        cards = (await s.execute(select(tables.accounts.c.card_cipher, tables.accounts.c.student_key))).all()
        recipients = (await s.execute(select(tables.notifications.c.recipient_cipher, tables.notifications.c.student_key)
                                      .where(tables.notifications.c.recipient_cipher.is_not(None)))).all()
    assert sorted(after.open_all([bytes(c) for c, _ in cards], [k for _, k in cards], "card")) == [
        "6222020200112233445", "6222020200998877665"]
    assert [after.open(bytes(r), k, "phone") for r, k in recipients] == ["13800138000"]
