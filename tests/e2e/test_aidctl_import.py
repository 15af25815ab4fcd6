"""`aidctl import` and `aidctl matches export` against the running platform."""

from __future__ import annotations

import csv
import io
import json

from typer.testing import CliRunner

from aid_local import flow
from aid_local.cli import app


def _aidctl(running, *args: str):
    env = {"AID_HTTP_BASE": str(running.platform.http_base)}
    return CliRunner().invoke(app, [*args, "--state-dir", str(running.platform.state_dir)], env=env)


def test_reimporting_the_same_files_emits_nothing_new(running, province, result, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_bytes(province.roster_csv())
    out = _aidctl(running, "import", "roster", str(roster))
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert (report["rows_read"], report["rejected"], report["new"], report["changed"], report["withdrawn"]) == (
        len(province.students), 0, 0, 0, 0)
    for department in province.lists:
        path = tmp_path / f"{department}.csv"
        path.write_bytes(province.list_csv(department))
        report = json.loads(_aidctl(running, "import", "list", "--department", department, str(path)).output)
        assert report["rows_read"] == report["accepted"] + report["rejected"]
        assert (report["new"], report["changed"], report["withdrawn"]) == (0, 0, 0)
        assert report["matched"] + report["not_enrolled"] == report["accepted"] - report["repeated_rows"] - \
            _people_on_two_categories(province, department)


def _people_on_two_categories(province, department: str) -> int:
    ids = [row[0] for row in province.lists[department]]
    return len(ids) - len(set(ids))


def test_matches_export_lists_exactly_the_matched_students(running, province, result, tmp_path):
    target = tmp_path / "matches.csv"
    out = _aidctl(running, "matches", "export", "--format", "csv", "--output", str(target))
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert {r["id_number"] for r in rows} == flow.matched_ids(province)
    by_id = {s.id_number: s for s in province.students}
    assert all(r["name"] == by_id[r["id_number"]].name and r["school_code"] == by_id[r["id_number"]].school_code
               for r in rows)


def test_a_round_of_lists_reports_each_list_and_emits_nothing_when_unchanged(running, province, result, tmp_path):
    pairs = []
    for department in province.lists:
        path = tmp_path / f"round-{department}.csv"
        path.write_bytes(province.list_csv(department))
        pairs.append(f"{department}={path}")
    out = _aidctl(running, "import", "lists", *pairs)
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert (report["new"], report["changed"], report["withdrawn"]) == (0, 0, 0)
    assert [r["department"] for r in report["lists"]] == list(province.lists)
    assert all(r["rows_read"] == r["accepted"] + r["rejected"] == len(province.lists[r["department"]])
               for r in report["lists"])
    twice = _aidctl(running, "import", "lists", pairs[0], pairs[0])
    assert twice.exit_code != 0 and "named twice" in twice.output


def test_a_refused_file_says_why(running, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("身份证号,姓名\n1,2\n", encoding="utf-8")
    out = _aidctl(running, "import", "list", "--department", "civil_affairs", str(bad))
    assert out.exit_code == 1
    assert "missing columns" in out.output and "category" in out.output


def test_statistics_by_department_category_and_county(running, province, result):
    c = flow.Clients(running.platform)
    body = c.call("GET", "identity-matching", "/imports", headers=c.token("province_bureau", region="520000")).json()
    for department, rows in province.lists.items():
        stats = body["departments"][department]
        assert sum(stats["by_category"].values()) == sum(stats["by_county"].values()) == len(rows) - 2
    own = c.call("GET", "identity-matching", "/imports", headers=c.token("department", department="trade_union")).json()
    assert list(own["departments"]) == ["trade_union"]
