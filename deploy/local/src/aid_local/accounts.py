"""Demo accounts for the console's dev sign-in: one per role, in the demo province's jurisdictions."""

from __future__ import annotations

import json

from aid_local.platform import Platform

DEMO_PASSWORD = "demo"  # the console's dev sign-in only (CONSOLE_DEMO_PASSWORD); production signs in at the provider


def demo_accounts(school_code: str, county: str, department: str = "poverty_office") -> list[dict]:
    """User name, label and token claims per role, around one school and its county."""
    province, city = county[:2] + "0000", county[:4] + "00"
    return [
        {"username": "school", "label": f"学校 {school_code}", "role": "school",
         "claims": {"school_code": school_code, "region": county}},
        {"username": "county", "label": f"县级 {county}", "role": "county_bureau", "claims": {"region": county}},
        {"username": "city", "label": f"市级 {city}", "role": "city_bureau", "claims": {"region": city}},
        {"username": "province", "label": f"省级 {province}", "role": "province_bureau", "claims": {"region": province}},
        {"username": "department", "label": department, "role": "department", "claims": {"department": department}},
        {"username": "operator", "label": "运维", "role": "operator", "claims": {}},
    ]


def write(platform: Platform, accounts: list[dict]) -> None:
    platform.state_dir.mkdir(parents=True, exist_ok=True)
    platform.demo_accounts_file.write_text(json.dumps(accounts, ensure_ascii=False, indent=1))
