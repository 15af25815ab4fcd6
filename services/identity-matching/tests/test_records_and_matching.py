import pytest

from aid_contracts.events import Category, CategoryEntry, PovertyStatus, Stage, StudentFacts
from identity_matching.domain import files, records
from identity_matching.domain.matching import EligibilityPolicy, Finding, PriorMatch, compare
from identity_matching.domain.matching import match as match_with_policy

POLICY = EligibilityPolicy(year=2026)


def match(student, findings, policy=POLICY):
    return match_with_policy([student] if student else [], findings, policy)

STUDENT_ROW = {"id_number": "11010519491231002X", "name": "张三", "school_code": "1101050001", "stage": "小学",
               "enrolment_region": "110105", "household_region": "110105"}


def test_roster_row_accepts_chinese_values():
    row = records.parse_roster_row(STUDENT_ROW)
    assert row.stage is Stage.PRIMARY


@pytest.mark.parametrize(("field", "value", "code"), [
    ("name", "", "missing_field"), ("stage", "college", "unknown_stage"), ("enrolment_region", "1101", "bad_region"),
    ("household_region", "999999", "unknown_region"), ("school_code", "学校!", "bad_school_code"),
    ("name", "名" * 51, "too_long"), ("id_number", "", "empty_id"), ("name", "张\x07三", "bad_name"),
    ("name", "李\u200b四", "bad_name"),
])
def test_roster_row_errors_name_the_field_and_reason(field, value, code):
    with pytest.raises(records.RowError) as info:
        records.parse_roster_row({**STUDENT_ROW, field: value})
    assert (info.value.field, info.value.code) == (field, code)
    assert "(" in info.value.message  # Chinese and English


def test_unknown_category_lists_the_allowed_values():
    row = {"id_number": "11010519491231002X", "name": "张三", "category": "富裕", "household_region": "110105"}
    with pytest.raises(records.RowError) as info:
        records.parse_list_row(row)
    assert info.value.code == "unknown_category" and "orphan" in info.value.message


def test_registered_poor_needs_status_and_exit_year_when_out():
    row = {"id_number": "11010519491231002X", "name": "张三", "category": "建档立卡", "household_region": "110105",
           "poverty_status": "已脱贫", "exit_year": "2024"}
    parsed = records.parse_list_row(row)
    assert (parsed.category, parsed.poverty_status, parsed.exit_year) == (Category.REGISTERED_POOR, PovertyStatus.OUT, 2024)
    with pytest.raises(records.RowError) as empty:
        records.parse_list_row({**row, "exit_year": ""})
    assert (empty.value.field, empty.value.code) == ("exit_year", "missing_field")
    with pytest.raises(records.RowError) as early:
        records.parse_list_row({**row, "exit_year": "1999"})
    assert early.value.code == "bad_exit_year"


def test_files_in_gbk_with_chinese_headers_are_read():
    content = "身份证号,姓名\n11010519491231002X,张三\n".encode("gbk")
    frame = files.read_frame(content)
    assert frame.columns == ["row", "id_number", "name"]
    assert frame.to_dicts() == [{"row": 2, "id_number": "11010519491231002X", "name": "张三"}]


@pytest.mark.parametrize("checked", [1, 2, 5, 1 << 20])
def test_utf8_is_told_from_gbk_a_piece_at_a_time(monkeypatch, checked):
    """UTF-8 is checked a piece at a time: a character cut by a piece's end is still UTF-8, and a
    GBK file (not UTF-8 in some piece) is still read as GBK."""
    monkeypatch.setattr(files, "CHECKED", checked)
    text = "身份证号,姓名\n11010519491231002X,张三丰\n"
    for content in (text.encode(), text.encode("utf-8-sig"), text.encode("gbk")):
        assert files.read_frame(content)["name"].to_list() == ["张三丰"]
    assert files._is_utf8(text.encode()) and not files._is_utf8(text.encode()[:-2])  # the last character cut short


def test_binary_garbage_is_refused():
    with pytest.raises(files.UnreadableFile):
        files.read_frame(b"\xff\xfe\x00\x81\x00")


FACTS = StudentFacts(id_number="11010519491231002X", name="张三", school_code="1101050001", stage=Stage.PRIMARY,
                     enrolment_region="110105", household_region="110105")
ENTRY = CategoryEntry(category=Category.ORPHAN, department="civil_affairs")


def test_enrolment_name_wins_and_mismatch_is_flagged():
    result = match(FACTS, [Finding("张叁", ENTRY)])
    assert result.student.name == "张三"
    assert result.name_mismatch is True


def test_no_match_without_roster_or_list():
    assert match(None, [Finding("张三", ENTRY)]) is None
    assert match(FACTS, []) is None


def test_recomparison_reports_new_changed_withdrawn_and_nothing():
    current = match(FACTS, [Finding("张三", ENTRY)])
    new = compare(None, current)
    assert (new.kind, new.revision) == ("new", 1)
    same = PriorMatch(1, current.fingerprint(), True, "1101050001")
    assert compare(same, current) is None
    changed = compare(PriorMatch(1, "old", True, "1101050001"), current)
    assert (changed.kind, changed.revision) == ("changed", 2)
    gone = compare(same, None)
    assert (gone.kind, gone.revision, gone.facts) == ("withdrawn", 2, None)
    assert compare(PriorMatch(2, "", False, "x"), None) is None


def test_rejections_csv_is_excel_friendly_and_formula_safe():
    content = files.rejections_to_csv([{"row": 2, "field": "name", "code": "too_long", "message": "内容过长",
                                        "raw": "=HYPERLINK(\"x\")"}])
    assert content.startswith(b"\xef\xbb\xbf")
    text = content.decode("utf-8-sig").splitlines()
    assert text[1].startswith("2,name,too_long,内容过长,")
    assert "'=HYPERLINK" in text[1]


def _xlsx(rows: list[list]) -> bytes:
    import io

    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def test_xlsx_is_read_with_chinese_headers_and_numeric_ids():
    content = _xlsx([["身份证号", "姓名", "脱贫年份"], ["11010519491231002X", "张三", 2024], [110105194912310021, "李四", None]])
    frame = files.read_frame(content)
    assert frame.columns == ["row", "id_number", "name", "exit_year"]
    rows = frame.to_dicts()
    assert rows[0] == {"row": 2, "id_number": "11010519491231002X", "name": "张三", "exit_year": "2024"}
    assert rows[1]["exit_year"] == ""
    with pytest.raises(records.RowError) as lost:  # Excel lost the last digits: refused, never a wrong match
        records.parse_list_row({**rows[1], "category": "孤儿", "household_region": "110105"})
    assert lost.value.code in {"bad_length", "bad_characters"}


def test_zip_bomb_and_damaged_xlsx_are_refused():
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/workbook.xml", b"0" * 50_000_000)
    with pytest.raises(files.UnreadableFile, match="unpacks"):
        files.read_frame(buf.getvalue())
    with pytest.raises(files.UnreadableFile, match="damaged"):
        files.read_frame(_xlsx([["身份证号"], ["1"]])[:300])


@pytest.mark.parametrize(("exit_year", "year", "counts"), [(2023, 2026, True), (2022, 2026, False), (2022, 2025, True)])
def test_out_of_poverty_counts_for_three_years_after_exit(exit_year, year, counts):
    entry = CategoryEntry(category=Category.REGISTERED_POOR, department="poverty_office",
                          poverty_status=PovertyStatus.OUT, exit_year=exit_year)
    result = match(FACTS, [Finding("张三", entry)], EligibilityPolicy(year=year))
    assert (result is not None) is counts


def test_another_category_keeps_the_match_after_the_three_years():
    expired = CategoryEntry(category=Category.REGISTERED_POOR, department="poverty_office",
                            poverty_status=PovertyStatus.OUT, exit_year=2020)
    result = match(FACTS, [Finding("张三", expired), Finding("张三", ENTRY)], EligibilityPolicy(year=2026))
    assert [c.category for c in result.categories] == [Category.ORPHAN]


def test_the_grace_period_is_configuration():
    entry = CategoryEntry(category=Category.REGISTERED_POOR, department="poverty_office",
                          poverty_status=PovertyStatus.OUT, exit_year=2020)
    assert match(FACTS, [Finding("张三", entry)], EligibilityPolicy(year=2026, exit_grace_years=6)) is not None


def test_export_line_joins_sorted_categories_and_flags():
    from identity_matching.domain import export

    poor = CategoryEntry(category=Category.REGISTERED_POOR, department="poverty_office",
                         poverty_status=PovertyStatus.NOT_OUT)
    facts = match(FACTS, [Finding("张叁", ENTRY), Finding("张三", poor)]).canonical_text()
    assert export.header() == ",".join(export.COLUMNS) + "\n"
    assert export.line(facts) == ("11010519491231002X,张三,1101050001,primary,110105,110105,"
                                  "orphan;registered_poor,not_out,true,\n")


def test_a_student_at_two_schools_is_matched_once_and_flagged():
    other = FACTS.model_copy(update={"school_code": "1101050002"})
    result = match_with_policy([other, FACTS], [Finding("张三", ENTRY)], POLICY)
    assert result.student.school_code == "1101050001"
    assert (result.other_school_codes, result.review) == (("1101050002",), ["repeated_student"])


def test_match_names_its_source_batches():
    result = match(FACTS, [Finding("张三", ENTRY, "B2"), Finding("张三", ENTRY, "B1")])
    assert result.source_batches == ("B1", "B2") and "B1\x1eB2" in result.canonical_text()


def test_migration_0006_converts_stored_documents_to_canonical_text_and_back():
    import importlib.util
    from pathlib import Path

    import identity_matching

    path = Path(identity_matching.__file__).parent / "migrations" / "versions" / "0006_compact_matches.py"
    spec = importlib.util.spec_from_file_location("m0006", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    poor = CategoryEntry(category=Category.REGISTERED_POOR, department="poverty_office",
                         poverty_status=PovertyStatus.OUT, exit_year=2024)
    other = FACTS.model_copy(update={"school_code": "1101050002"})
    facts = match_with_policy([other, FACTS], [Finding("张叁", ENTRY, "B1"), Finding("张三", poor, "B2")], POLICY)
    document = migration._document(facts.canonical_text())
    assert document["review"] == ["repeated_student"] and document["categories"][1]["exit_year"] == 2024
    assert migration._canonical(document) == facts.canonical_text()
