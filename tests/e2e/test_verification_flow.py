"""Verification end to end, as separate processes: a supplementary record with a real JPEG, the
same student supplemented by a second school (a duplicate pair) resolved by the county, the kept
record submitted and approved, and its ``verified`` consumed by publicity and query."""

from __future__ import annotations

from aid_contracts import student_key
from aid_contracts.keys import check_digit
from aid_local import flow
from tests.images import jpeg


def _new_id_number(county: str) -> str:
    body = f"{county}20150607099"  # born 2015-06-07, sequence 099: no demo student has it
    return body + check_digit(body)


def _supplement(c, school_token, id_number: str, stage: str, county: str):
    data = {"id_number": id_number, "name": "补录生", "stage": stage, "category": "registered_poor",
            "poverty_status": "not_out", "reason": "扶贫系统漏录，家访核实", "enrolment_region": county}
    return c.call("POST", "verification", "/supplements", expect=201, headers=school_token, data=data,
                  files={"proof": ("证明.jpg", jpeg(), "image/jpeg")})


def test_supplement_duplicate_pair_audit_and_downstream(running, result, province):
    c = flow.Clients(running.platform)
    school = result.school_code
    county, stage = province.schools[school]
    other = next(code for code, (cty, _) in province.schools.items() if cty == county and code != school)
    id_number = _new_id_number(county)
    mine, theirs = c.token("school", school_code=school), c.token("school", school_code=other)
    bureau = c.token("county_bureau", region=county)
    programme = flow.PROGRAMME_BY_STAGE[stage]
    before = c.call("GET", "publicity", f"/lists/proposal?programme_code={programme}", headers=mine).json()["students"]

    kept = _supplement(c, mine, id_number, stage, county).json()
    duplicate = _supplement(c, theirs, id_number, stage, county).json()
    checks = c.call("GET", "verification", "/repeated-checks", headers=bureau).json()
    [check] = [ch for ch in checks["items"] if {t["task_id"] for t in ch["tasks"]} == {kept["task_id"], duplicate["task_id"]}]
    c.call("POST", "verification", f"/repeated-checks/{check['student_key']}/resolve", headers=bureau,
           json={"keep_task_id": kept["task_id"]})
    assert c.call("GET", "verification", f"/tasks/{duplicate['task_id']}", headers=theirs).json()["invalid_reason"] == "duplicate"

    submitted = c.call("POST", "verification", "/tasks/submit", headers=mine, json={"task_ids": [kept["task_id"]]}).json()
    assert submitted["accepted"] == 1
    audited = c.call("POST", "verification", "/tasks/audit", headers=bureau,
                     json={"decisions": [{"task_id": kept["task_id"], "decision": "approve"}]}).json()
    assert audited["accepted"] == 1

    flow.wait_for("the supplemented student in publicity's proposal", lambda: c.call(
        "GET", "publicity", f"/lists/proposal?programme_code={programme}", headers=mine).json()["students"] == before + 1)
    key = student_key(id_number, running.platform.pseudonym_key().encode())
    province_token = c.token("province_bureau", region="520000")
    timeline = flow.wait_for("verified in the student's timeline", lambda: [
        e for e in c.call("GET", "query", f"/students/{key}/timeline", headers=province_token).json().get("events", [])
        if e["type"] == "verified"] or None)
    assert len(timeline) == 1
    proof = c.call("GET", "verification", f"/tasks/{kept['task_id']}/proof", headers=bureau)
    assert proof.content == jpeg() and proof.headers["x-checksum-sha256"] == kept["proof_sha256"]
