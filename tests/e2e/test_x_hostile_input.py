"""Hostile input on every import path and upload (issue 10): wrong encodings, truncated and
disguised files, a zip bomb, duplicated columns, huge fields, wrong types, SQL and HTML injection
strings. A file is refused whole with a reason, or each bad row is refused with its row, field and
reason (read = accepted + rejected); never a server error, and what people see is unchanged."""

from __future__ import annotations

import io
import zipfile

import pytest

from aid_local import flow
from tests.e2e.test_x_republish import _state as _everything


def _state(c: flow.Clients, province: dict) -> dict:
    """What people see, but the audit trail: a refused upload is an attempt worth its audit entry."""
    return {k: v for k, v in _everything(c, province).items() if k != "audit"}
from tests.images import png

INJECTIONS = ["'); DROP TABLE students;--", "<script>alert(1)</script>", "=HYPERLINK(\"http://x\")", "张三\u202e"]
ANY_STATUS = range(100, 600)  # the test judges the answer itself
LIST_HEADER = "身份证号,姓名,类别,户籍所在地,脱贫状态,脱贫年份\n"


def _zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/worksheets/sheet1.xml", b"0" * (300 * 2**20))  # 300 MB of zeros, a few hundred KB zipped
    return out.getvalue()


def _truncated_xlsx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/workbook.xml", "<workbook/>" * 1000)
    return out.getvalue()[: len(out.getvalue()) // 2]


WHOLE_FILE_REFUSALS = {  # name → (file name, bytes)
    "utf16": ("名单.csv", LIST_HEADER.encode("utf-16")),
    "png_as_csv": ("名单.csv", png()),
    "truncated_xlsx": ("名单.xlsx", _truncated_xlsx()),
    "zip_bomb": ("名单.xlsx", _zip_bomb()),
    "duplicated_columns": ("名单.csv", "身份证号,身份证号,姓名,类别,户籍所在地\n".encode()),
    "no_rows_no_header": ("名单.csv", b""),
    "header_only": ("名单.csv", LIST_HEADER.encode()),  # an empty list would withdraw every match
    "wrong_columns": ("名单.csv", "a,b,c\n1,2,3\n".encode()),
}


@pytest.fixture(scope="module")
def c(running) -> flow.Clients:
    return flow.Clients(running.platform)


@pytest.fixture(scope="module")
def province_token(c, result) -> dict:
    return c.token("province_bureau", region=result.school_code[:2] + "0000")


def _refused(resp) -> str:
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.text[:300])
    detail = resp.json()["detail"]
    return detail if isinstance(detail, str) else str(detail)


@pytest.mark.parametrize("case", list(WHOLE_FILE_REFUSALS))
def test_a_hostile_department_file_is_refused_whole(c, province_token, case):
    before = _state(c, province_token)
    name, content = WHOLE_FILE_REFUSALS[case]
    resp = c.call("POST", "identity-matching", "/imports/lists/trade_union", expect=ANY_STATUS,
                  headers=c.token("department", department="trade_union"), files={"file": (name, content, "text/csv")})
    assert _refused(resp)
    assert _state(c, province_token) == before


def test_hostile_rows_are_refused_one_by_one_and_the_rest_stands(c, province, province_token):
    """trade_union's list in force sent again with hostile rows after it: the list is unchanged."""
    before = _state(c, province_token)
    rows = [f"520102201001011234,{text},needy_worker_family,520102,," for text in INJECTIONS]
    rows += ["520102201001011231," + "张" * 100_000 + ",needy_worker_family,520102,,",  # a huge name
             "520102201001011231,张三,needy_worker_family,520102,not_out,abc",  # a year that is no number
             "'; SELECT 1;--,张三,needy_worker_family,520102,,",  # an injection as the ID number
             "520102201001011231,张三,<b>orphan</b>,520102,,"]  # an injection as the category
    content = province.list_csv("trade_union").rstrip(b"\n") + ("\n" + "\n".join(rows) + "\n").encode()
    resp = c.call("POST", "identity-matching", "/imports/lists/trade_union",
                  headers=c.token("department", department="trade_union"),
                  files={"file": ("总工会.csv", content, "text/csv")})
    report = resp.json()
    assert report["read"] == report["accepted"] + report["rejected"]
    assert report["read"] == len(province.lists["trade_union"]) + len(rows) and report["rejected"] >= len(rows)
    hostile = [r for r in report["rejections"] if r["row"] > len(province.lists["trade_union"]) + 1]
    assert len(hostile) == len(rows) and all(r["code"] and r["message"] and r["field"] for r in hostile)
    assert "DROP TABLE" not in str([r["message"] for r in report["rejections"]])  # the reason, not the value echoed
    assert _state(c, province_token) == before


CARD_FILES = {
    "utf16": "身份证号,开户银行,银行卡号\n".encode("utf-16"),
    "png": png(),
    "duplicated_columns": "身份证号,身份证号,开户银行,银行卡号\n".encode(),
    "injections": ("身份证号,开户银行,银行卡号\n" + "\n".join(f"{t},ICBC,{t}" for t in INJECTIONS) + "\n").encode(),
    "huge_field": ("身份证号,开户银行,银行卡号\n520102201001011231,ICBC," + "6" * 100_000 + "\n").encode(),
}


@pytest.mark.parametrize("case", list(CARD_FILES))
def test_hostile_card_files_change_nothing(c, province_token, result, case):
    before = _state(c, province_token)
    resp = c.call("POST", "disbursement", "/accounts/import", expect=ANY_STATUS,
                  headers=c.token("school", school_code=result.school_code),
                  files={"file": ("cards.csv", CARD_FILES[case], "text/csv")})
    assert resp.status_code < 500, resp.text[:300]
    if resp.status_code == 200:
        report = resp.json()
        assert report["accepted"] == 0 and report["read"] == report["rejected"] and report["rejections"]
    else:
        assert _refused(resp)
    assert _state(c, province_token) == before


OTHER_UPLOADS = [  # (service, path, role, claims, form fields, file field, content)
    ("disbursement", "/returns", "county_bureau", "county", {}, "file", png()),
    ("disbursement", "/returns", "county_bureau", "county", {}, "file", "R,<script>,1\n".encode()),
    ("verification", "/tasks/verify/csv", "school", "school", {}, "file", "任务编号,核对结果\n'; DROP,x\n".encode("gbk")),
    ("verification", "/abnormal-checks", "county_bureau", "county", {"title": "<b>x</b>"}, "file", _truncated_xlsx()),
    ("verification", "/supplements", "school", "school",
     {"id_number": "520102201001011231", "name": INJECTIONS[1], "stage": "primary", "category": "orphan",
      "reason": INJECTIONS[0]}, "proof", png()),  # a PNG named .jpg
]


@pytest.mark.parametrize("case", range(len(OTHER_UPLOADS)), ids=[f"{u[0]}{u[1]}" for u in OTHER_UPLOADS])
def test_hostile_uploads_elsewhere_are_refused_with_a_reason(c, province_token, result, province, case):
    service, path, role, who, form, field, content = OTHER_UPLOADS[case]
    county, _ = province.schools[result.school_code]
    claims = {"school_code": result.school_code} if who == "school" else {"region": county}
    before = _state(c, province_token)
    resp = c.call("POST", service, path, expect=ANY_STATUS, headers=c.token(role, **claims), data=form,
                  files={field: ("upload.jpg" if field == "proof" else "upload.csv", content, "application/octet-stream")})
    assert resp.status_code < 500, resp.text[:300]
    if resp.status_code == 200:  # a file read row by row: every row refused, with its reason
        report = resp.json()
        assert report.get("accepted", 0) == 0 and report.get("results") or report.get("rejections"), report
    else:
        assert _refused(resp)
    assert _state(c, province_token) == before
