"""One glossary: every word a template asks for exists in both languages, and the domain words
agree with docs/glossary.md."""

from __future__ import annotations

import re
from pathlib import Path

from console.glossary import DOMAIN, TERMS, t

ROOT = Path(__file__).resolve().parents[3]
TEMPLATES = ROOT / "services/console/src/console/templates"


def test_every_key_the_templates_use_is_in_the_glossary():
    used = set()
    for path in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"\bt\('([a-z_]+)'[,)]", path.read_text()))
    assert used, "the templates use the glossary"
    assert sorted(used - TERMS.keys()) == []


def test_every_entry_has_both_languages():
    assert [k for k, (zh, en) in TERMS.items() if not zh.strip() or not en.strip()] == []


def test_domain_words_agree_with_the_project_glossary():
    """Where docs/glossary.md names a code (`registered_poor`), the Chinese word just before it is
    the console's word or a short form of it (不在本校 → 不在本校就读)."""
    glossary = (ROOT / "docs/glossary.md").read_text()
    checked, disagree = 0, {}
    for key, (zh, _) in DOMAIN.items():
        found = re.search(r"([\u4e00-\u9fff]+)[\s|()（）]*`" + key + "`", glossary)
        if found:
            checked += 1
            if found.group(1) not in zh and zh not in found.group(1):
                disagree[key] = (found.group(1), zh)
    assert disagree == {}
    assert checked >= 15, "the glossary names most of the console's domain words"


def test_a_missing_word_shows_its_key_and_placeholders_fill():
    assert t("no_such_word") == "no_such_word"
    assert t("page_n", "en", n=3) == "Page 3"
    assert t("verify", "zh") == "核对"
