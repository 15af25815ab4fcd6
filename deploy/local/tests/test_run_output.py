"""What `make run` tells a person at the end: the console's address and a demo account per role."""

from __future__ import annotations

from aid_local import accounts, cli
from aid_local.flow import FlowResult
from aid_local.platform import Platform


def test_make_run_ends_with_the_console_and_a_demo_account_per_role(tmp_path, capsys):
    platform = Platform(state_dir=tmp_path, http_base=8100)
    accounts.write(platform, accounts.demo_accounts("5201110004", "520111"))
    report = {"read": 3, "accepted": 3, "rejected": 0, "matched_new": 2}
    result = FlowResult({"roster": report}, "5201110004", 2, "L1", {"name": "张三"}, {"aid": []}, "ab" * 16)
    cli.print_result(platform, result)
    out = capsys.readouterr().out
    tail = out[out.index("Web console"):]
    assert "http://127.0.0.1:8100" in tail and "/lookup" in tail and accounts.DEMO_PASSWORD in tail
    roles = {a["role"] for a in accounts.demo_accounts("5201110004", "520111")}
    assert roles == {"school", "county_bureau", "city_bureau", "province_bureau", "department", "operator"}
    for account in accounts.demo_accounts("5201110004", "520111"):
        assert account["username"] in tail and account["label"] in tail


def test_the_demo_accounts_carry_the_claims_their_pages_need():
    by_name = {a["username"]: a for a in accounts.demo_accounts("5201110004", "520111")}
    assert by_name["school"]["claims"] == {"school_code": "5201110004", "region": "520111"}
    assert by_name["city"]["claims"] == {"region": "520100"} and by_name["province"]["claims"] == {"region": "520000"}
