"""Publicity and disbursement end to end, as separate processes: a list is submitted, approved and
published; an objection is upheld for one student; the list becomes final; the county sends a bank
file, the bank fails one payment, the card is corrected and the student re-paid; every payment is
notified (发放告知)."""

from __future__ import annotations

import json

from aid_local import flow

PERIOD = "2027-autumn"


def _notice_final(c, list_id: str):
    body = c.call("GET", "publicity", f"/notices/{list_id}").json()
    return body if body["status"] == "final" else None


def test_list_objection_final_bank_failure_repay_and_notices(running, result, province):
    c = flow.Clients(running.platform)
    school = result.school_code
    county, stage = province.schools[school]
    mine, bureau = c.token("school", school_code=school), c.token("county_bureau", region=county)
    body = {"programme_code": flow.PROGRAMME_BY_STAGE[stage], "period": PERIOD}
    list_id = c.call("POST", "publicity", "/lists", headers=mine, json=body, expect=201).json()["list_id"]
    c.call("POST", "publicity", f"/lists/{list_id}/submit", headers=mine)
    c.call("POST", "publicity", f"/lists/{list_id}/approve", headers=bureau)

    objection = {"entry_no": 1, "contact_name": "王五", "contact_phone": "13900139000", "text": "该生家庭已购置商品房"}
    filed = c.call("POST", "publicity", f"/notices/{list_id}/objections", json=objection, expect=201).json()
    c.call("POST", "publicity", f"/objections/{filed['objection_id']}/decide", headers=bureau,
           json={"decision": "uphold", "reason": "经调查情况属实"})
    notice = flow.wait_for("the list to become final", lambda: _notice_final(c, list_id), timeout=60)
    assert 1 not in [s["entry_no"] for s in notice["students"]]
    late = c.call("POST", "publicity", f"/notices/{list_id}/objections", json=objection, expect=409).json()
    assert late["detail"]["code"] == "notice_closed"
    messages = c.call("GET", "publicity", "/messages", headers=mine).json()["items"]
    assert any(m["kind"] == "objection_upheld" and m["list_id"] == list_id for m in messages)

    expected = len(notice["students"])
    first = flow.pay_list(c, county, list_id, expected, fail=1)
    assert (first["report"]["paid"], first["report"]["failed"]) == (expected - 1, 1)
    failed_line = next(row for row in first["return_file"].decode().splitlines() if ",F," in row)
    payment_id = failed_line.split(",")[2]
    id_number = next(row.split(",")[4] for row in first["payment_file"].decode().splitlines()
                     if row.startswith("D,") and row.split(",")[2] == payment_id)
    card = {"id_number": id_number, "bank": "CCB", "card_number": "6217000011112222333", "phone": "13700137000"}
    assert c.call("POST", "disbursement", "/accounts", headers=mine, json=card).json()["payments_ready"] == 1
    second = flow.pay_list(c, county, list_id, 1)
    assert second["report"]["paid"] == 1

    payments = c.call("GET", "disbursement", f"/payments?list_id={list_id}&limit=1000", headers=bureau).json()["items"]
    assert len(payments) == expected and all(p["status"] == "paid" for p in payments)
    assert next(p for p in payments if p["payment_id"] == payment_id)["attempts"] == 2

    def all_sent():
        items = c.call("GET", "disbursement", "/notifications", headers=bureau).json()["items"]
        ours = [n for n in items if n["payment_id"] in {p["payment_id"] for p in payments}]
        return ours if len(ours) == expected and all(n["status"] == "sent" for n in ours) else None

    notices = flow.wait_for("every payment notice sent", all_sent, timeout=60)
    assert all("元已于" in n["message"] for n in notices)
    written = [json.loads(line) for line in running.platform.notifications_file.read_text().splitlines()]
    assert any(w["to"] == "137****7000" for w in written)
    assert id_number not in running.platform.notifications_file.read_text()
