"""Headless Chromium (Debian's package) driven by Playwright, as a person uses the console.

``make test`` installs ``chromium`` and a CJK font with apt-get (root); elsewhere the tests
skip with the reason, except in CI, where a missing browser is a failure."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("AID_CHROMIUM", "/usr/bin/chromium")
# the screenshots in docs/ are refreshed when asked (AID_SCREENSHOTS=docs); otherwise a test run
# writes them beside its other files and leaves the checkout clean
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SCREENSHOTS = DOCS_SCREENSHOTS if os.environ.get("AID_SCREENSHOTS") == "docs" else Path(tempfile.gettempdir()) / "aid-screenshots"
# flags a sandboxed, closed-network machine needs (no GPU, no background calls home, root allowed)
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def chromium_path() -> str:
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).exists()):
        reason = f"no Chromium at {CHROMIUM} (make test installs Debian's chromium as root; or set AID_CHROMIUM)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return CHROMIUM


class Person:
    """One browser page signed in (or not) as one demo account, with the checks every page gets."""

    def __init__(self, page, base_url: str) -> None:
        self.page, self.base = page, base_url

    def open(self, path: str):
        self.page.goto(self.base + path)
        return self.page

    def reload_until(self, check) -> bool:
        self.page.reload()
        return bool(check())

    def sign_in(self, username: str, password: str = "demo") -> None:
        self.open("/login")
        self.page.get_by_label("用户名").fill(username)
        self.page.get_by_label("密码").fill(password)
        self.page.get_by_role("button", name="登录").click()
        self.page.wait_for_load_state()

    def sign_out(self) -> None:
        self.page.get_by_role("button", name="退出").click()
        self.page.wait_for_url("**/login")

    def accessible(self) -> None:
        """axe-core in the page: no violation of the WCAG rules it checks (labels, names, contrast…)."""
        from axe_playwright_python.sync_playwright import Axe

        results = Axe().run(self.page)
        assert results.violations_count == 0, f"{self.page.url}:\n{results.generate_report()}"

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)

    def flash(self) -> str:
        return self.page.locator(".flash").first.inner_text()
