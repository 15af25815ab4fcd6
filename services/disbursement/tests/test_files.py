"""Money, cards, bank file formats, return files and reconciliation — no database."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date

import pytest
from hypothesis import given, strategies as st

from aid_local import bank
from disbursement.domain import bankfile
from disbursement.domain.cards import CardRefused, check_card, mask_card
from disbursement.domain.money import fen, fen_of_yuan, yuan
from disbursement.domain.reconcile import reconcile

LINES = [bankfile.Line(f"P{n:03d}", name, f"52010220140101{n:03d}X"[:18], "ICBC", f"6222020200{n:09d}", 50_000 + n)
         for n, name in enumerate(["张三", "欧阳小明", "李四"], start=1)]


@given(st.integers(min_value=0, max_value=10**13))
def test_yuan_text_round_trips_integer_fen(value):
    assert fen_of_yuan(yuan(value)) == value


@pytest.mark.parametrize("text", ["1.234", "-1", "1e3", "", "NaN", "0.1.2"])
def test_amount_text_that_is_not_money_is_refused(text):
    with pytest.raises(ValueError):
        fen_of_yuan(text)
    with pytest.raises(ValueError):
        fen(text)


def test_cards_are_checked_encrypted_per_student_and_masked():
    assert check_card("ICBC", "6222 0202 0011 2233 445") == "6222020200112233445"
    for bank_code, number, code in (("XYZ", "6222020200112233445", "unknown_bank"), ("ICBC", "62220", "bad_card"),
                                    ("ICBC", "6222-0202", "bad_card")):
        with pytest.raises(CardRefused) as caught:
            check_card(bank_code, number)
        assert caught.value.code == code
    assert mask_card("6222020200112233445") == "6222 **** **** 3445"


def test_the_csv_payment_file_has_header_lines_and_a_checksummed_trailer():
    content = b"".join(bankfile.payment_csv("B1", date(2026, 11, 24), LINES)).decode()
    rows = list(csv.reader(io.StringIO(content)))
    assert rows[0] == ["H", "B1", "3", str(sum(x.amount_fen for x in LINES)), "20261124"]
    details = [r for r in rows if r[0] == "D"]
    assert [d[2] for d in details] == ["P001", "P002", "P003"] and details[1][3] == "欧阳小明"
    digest = hashlib.sha256("".join(line + "\n" for line in content.splitlines() if line.startswith("D,")).encode())
    assert rows[-1] == ["T", "3", rows[0][3], digest.hexdigest()]


def test_the_frame_writer_writes_the_same_bytes_as_the_line_writer():
    import polars as pl

    lines = [*LINES, bankfile.Line("P009", 'O"Neil, Jr', "520102201401010099", "BOC", "6222000000000000009", 1)]
    frame = pl.DataFrame([x.__dict__ for x in lines])
    created = date(2026, 11, 24)
    assert b"".join(bankfile.payment_csv_frame("B1", created, frame)) == b"".join(
        bankfile.payment_csv("B1", created, lines))


def test_the_fixed_width_payment_file_has_fixed_byte_widths_in_gb18030():
    content = b"".join(bankfile.payment_fixed("B1", date(2026, 11, 24), LINES))
    lines = content.split(b"\r\n")[:-1]
    assert [len(x) for x in lines] == [65, 142, 142, 142, 89]
    assert lines[2][42:82].decode("gb18030").rstrip() == "欧阳小明"
    assert int(lines[1][-15:]) == LINES[0].amount_fen
    digest = hashlib.sha256(b"".join(x + b"\n" for x in lines[1:4])).hexdigest()
    assert lines[-1].decode().endswith(digest)


def _return(fail=(), on=date(2026, 11, 25)) -> bytes:
    payment_file = b"".join(bankfile.payment_csv("B1", date(2026, 11, 24), LINES))
    return bank.answer(payment_file, fail=set(fail), on=on)


STATES = {x.payment_id: (x.amount_fen, "sent") for x in LINES}


def test_a_return_file_reconciles_with_one_failure():
    returned = bankfile.parse_return(_return(fail={"P002"}))
    outcome = reconcile(returned, STATES)
    assert outcome.ok and [(r.payment_id, r.success) for r in outcome.apply] == [
        ("P001", True), ("P002", False), ("P003", True)]


def test_partial_and_duplicate_lines_and_a_repeat_are_idempotent():
    first = _return().decode().splitlines()[1]
    amount = int(first.split(",")[3])
    partial = "\n".join([f"H,B1,2,{2 * amount}", first, first, f"T,2,2,{2 * amount}"]).encode()
    returned = bankfile.parse_return(partial)
    assert (len(returned.results), returned.duplicates) == (1, 1)
    outcome = reconcile(returned, STATES)
    assert outcome.ok and len(outcome.apply) == 1
    again = reconcile(returned, {**STATES, "P001": (amount, "paid")})
    assert (again.ok, again.apply, again.unchanged) == (True, [], 1)


@pytest.mark.parametrize(("mutate", "code"), [
    (lambda rows: [["H", "B1", "3", "1"], *rows[1:]], "header_totals"),
    (lambda rows: [*rows[:-1], ["T", "3", "3", "1"]], "trailer_totals"),
    (lambda rows: [rows[0], [*rows[1][:3], str(int(rows[1][3]) + 1), *rows[1][4:]], *rows[2:]], "amount_mismatch"),
])
def test_a_return_that_disagrees_is_a_problem_and_applies_nothing(mutate, code):
    rows = list(csv.reader(io.StringIO(_return().decode())))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(mutate(rows))
    outcome = reconcile(bankfile.parse_return(out.getvalue().encode()), STATES)
    assert not outcome.ok and outcome.apply == [] and code in {p["code"] for p in outcome.problems}


def test_a_result_contradicting_an_earlier_return_is_a_problem():
    returned = bankfile.parse_return(_return(fail={"P001"}))
    outcome = reconcile(returned, {**STATES, "P001": (LINES[0].amount_fen, "paid")})
    assert [p["code"] for p in outcome.problems] == ["contradicts_earlier_return"]


@pytest.mark.parametrize(("text", "code", "line"), [
    ("H,B1,1,1\nR,1,P001,12.5,S,0,R,20261125\nT,1,1,1\n", "bad_amount", 2),
    ("H,B1,1,1\nR,1,P001,1,X,0,R,20261125\nT,1,1,1\n", "bad_status", 2),
    ("H,B1,1,1\nR,1,P001,1,S,0,R,20261341\nT,1,1,1\n", "bad_date", 2),
    ("H,B1,1,1\nR,1,P001,1,S,0\nT,1,1,1\n", "bad_line", 2),
])
def test_a_malformed_line_is_reported_with_its_line_and_field(text, code, line):
    with pytest.raises(bankfile.FileRefused) as caught:
        bankfile.parse_return(text.encode())
    assert [(p["line"], p["code"]) for p in caught.value.problems] == [(line, code)]


def test_a_file_without_header_or_trailer_is_refused():
    with pytest.raises(bankfile.FileRefused) as caught:
        bankfile.parse_return(b"R,1,P001,1,S,0,R,20261125\n")
    assert caught.value.code == "bad_structure"


@st.composite
def _return_case(draw):
    """A batch's lines (with earlier results) and a return file for it, sometimes with faults."""
    import polars as pl

    n = draw(st.integers(min_value=1, max_value=12))
    ids = [f"P{k:03d}" for k in range(n)]
    amounts = draw(st.lists(st.integers(min_value=1, max_value=99_999), min_size=n, max_size=n))
    states = draw(st.lists(st.sampled_from(["sent", "sent", "paid", "failed"]), min_size=n, max_size=n))
    picked = draw(st.lists(st.integers(min_value=0, max_value=n - 1), min_size=1, max_size=n + 3))
    rows = []
    for k in picked:
        success = draw(st.booleans())
        amount = amounts[k] + (1 if draw(st.integers(0, 9)) == 0 else 0)
        pid = ids[k] if draw(st.integers(0, 14)) else "P999"
        rows.append(["R", str(len(rows) + 1), pid, str(amount), "S" if success else "F", "0000" if success else "E1",
                     f"REF{k}" if success else "", "20261125"])
    total = sum(int(r[3]) for r in rows)
    ok = [r for r in rows if r[4] == "S"]
    head = ["H", "B1", str(len(rows) + draw(st.sampled_from([0, 0, 0, 1]))), str(total)]
    tail = ["T", str(len(rows)), str(len(ok)), str(sum(int(r[3]) for r in ok) + draw(st.sampled_from([0, 0, 0, 5])))]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([head, *rows, tail])
    lines = pl.DataFrame({"payment_id": ids, "amount_fen": amounts, "state": states},
                         schema={"payment_id": pl.String, "amount_fen": pl.Int64, "state": pl.String})
    return out.getvalue().encode(), lines


@given(_return_case())
def test_the_columnar_return_path_agrees_with_the_line_by_line_one(case):
    from disbursement.domain import returns_frame

    content, lines = case
    states = dict(zip(lines["payment_id"], zip(lines["amount_fen"], lines["state"], strict=True), strict=True))
    try:
        slow_file = bankfile.parse_return(content)
    except bankfile.FileRefused:
        with pytest.raises(returns_frame.NotFast):
            batch_id, count, total, trailer, sent = returns_frame.read(content)
            returns_frame.reconcile((batch_id, count, total), trailer, sent, lines)
        return
    slow = reconcile(slow_file, states)
    batch_id, count, total, trailer, sent = returns_frame.read(content)
    fast = returns_frame.reconcile((batch_id, count, total), trailer, sent, lines)
    assert [(p["line"], p["code"]) for p in fast["problems"]] == [(p["line"], p["code"]) for p in slow.problems]
    assert fast["apply"].select("payment_id", "success").rows() == [(r.payment_id, r.success) for r in slow.apply]
    assert (fast["unchanged"], fast["duplicates"], fast["results"]) == (
        slow.unchanged, slow_file.duplicates, len(slow_file.results))


def test_the_sms_gateway_adapter_posts_and_raises_on_refusal():
    import asyncio

    import httpx

    from disbursement.service_layer.notify import SmsGatewayChannel

    seen = []

    def gateway(request: httpx.Request) -> httpx.Response:
        seen.append((request.headers.get("authorization"), request.read()))
        return httpx.Response(200 if len(seen) == 1 else 503)

    channel = SmsGatewayChannel("http://127.0.0.1:9/sms", "t0ken", httpx.AsyncClient(transport=httpx.MockTransport(gateway)))
    asyncio.run(channel.send("13800138000", "告知"))
    with pytest.raises(httpx.HTTPStatusError):  # a refusal is raised, so the notifier retries it
        asyncio.run(channel.send("13800138000", "告知"))
    assert seen[0][0] == "Bearer t0ken" and "13800138000" in seen[0][1].decode()
