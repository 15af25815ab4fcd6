"""Shredding a student's personal data (个人信息销毁) on the running platform: refused while the
student still matches; once their department's list no longer names them, the province shreds
them, and query's screens show their name and ID number as shredded while a reveal answers 410 —
the tokens in query's read models and on the topics are the same, only the key is gone."""

from __future__ import annotations

from dataclasses import replace

from aid_contracts.keys import student_key
from aid_local import demo_data, flow

SHREDDED = "（已销毁）"


def _on_one_list(province, result) -> tuple[demo_data.Student, str]:
    """A matched student on exactly one department's list, outside the school the flow pays."""
    lists = {d: {row[0] for row in rows} for d, rows in province.lists.items()}
    matched = flow.matched_ids(province)
    for s in province.students:
        on = [d for d, ids in lists.items() if s.id_number in ids]
        if s.id_number in matched and len(on) == 1 and s.school_code != result.school_code:
            return s, on[0]
    raise AssertionError("the demo province has no student on exactly one list")


def test_a_shredded_students_fields_open_nowhere(running, result, province):
    c = flow.Clients(running.platform)
    prov = c.token("province_bureau", region="520000")
    student, department = _on_one_list(province, result)
    key = student_key(student.id_number, running.platform.pseudonym_key().encode())
    seen = flow.wait_for("query to show the student", lambda: c.call(
        "GET", "query", f"/students/{key}/timeline", headers=prov).json(), timeout=60)
    assert seen["name"] == student.name
    shred = {"id_number": student.id_number, "reason": "e2e: 保存期满"}
    refused = c.call("POST", "identity-matching", "/students/shred", headers=prov, json=shred, expect=409)
    assert refused.json()["detail"]["code"] == "still_matched"

    without = replace(province, lists={**province.lists, department: [
        row for row in province.lists[department] if row[0] != student.id_number]})
    c.call("POST", "identity-matching", f"/imports/lists/{department}",
           headers=c.token("department", department=department),
           files={"file": (f"{department}.csv", without.list_csv(department), "text/csv")})
    done = c.call("POST", "identity-matching", "/students/shred", headers=prov, json=shred).json()
    assert done == {"student_key": key, "shredded": True}

    # two paths reach query apart: the key's destruction (its key ring) and the withdrawal (its projection)
    shown = flow.wait_for("query to show the student withdrawn and shredded", lambda: (
        lambda t: t if t["name"] == SHREDDED and t["status"] == "withdrawn" else None)(
        c.call("GET", "query", f"/students/{key}/timeline", headers=prov).json()), timeout=60)
    assert shown["id_number"] == SHREDDED and shown["status"] == "withdrawn"
    county = province.schools[student.school_code][0]
    gone = c.call("POST", "query", f"/students/{key}/reveal", headers=c.token("county_bureau", region=county),
                  json={"reason": "核对"}, expect=410)
    assert gone.json()["detail"]["code"] == "shredded" and student.id_number not in gone.text
