import pytest

from aid_contracts.events import Category, CategoryEntry, PovertyStatus, Stage, StudentFacts
from identity_matching.domain import files, records
from identity_matching.domain.matching import Finding, PriorMatch, compare, match

STUDENT_ROW = {"id_number": "11010519491231002X", "name": "张三", "school_code": "1101050001", "stage": "小学",
               "enrolment_region": "110105", "household_region": "110105"}


def test_roster_row_accepts_chinese_values():
    row = records.parse_roster_row(STUDENT_ROW)
    assert row.stage is Stage.PRIMARY


@pytest.mark.parametrize(("field", "value", "why"), [
    ("name", "", "必填"), ("stage", "college", "取值无效"), ("enrolment_region", "1101", "6位"),
    ("school_code", "学校!", "学校代码"),
])
def test_roster_row_errors_name_the_field(field, value, why):
    with pytest.raises(records.RowError, match=why) as info:
        records.parse_roster_row({**STUDENT_ROW, field: value})
    assert info.value.field == field


def test_registered_poor_needs_status_and_exit_year_when_out():
    row = {"id_number": "11010519491231002X", "name": "张三", "category": "建档立卡", "household_region": "110105",
           "poverty_status": "已脱贫", "exit_year": "2024"}
    parsed = records.parse_list_row(row)
    assert (parsed.category, parsed.poverty_status, parsed.exit_year) == (Category.REGISTERED_POOR, PovertyStatus.OUT, 2024)
    with pytest.raises(records.RowError, match="必填") as empty:
        records.parse_list_row({**row, "exit_year": ""})
    assert empty.value.field == "exit_year"
    with pytest.raises(records.RowError, match="脱贫年份"):
        records.parse_list_row({**row, "exit_year": "1999"})


def test_files_in_gbk_with_chinese_headers_are_read():
    content = "身份证号,姓名\n11010519491231002X,张三\n".encode("gbk")
    header, rows = files.read_rows(content)
    assert header == ["id_number", "name"]
    assert rows == [{"id_number": "11010519491231002X", "name": "张三"}]


def test_binary_garbage_is_refused():
    with pytest.raises(files.UnreadableFile):
        files.read_rows(b"\xff\xfe\x00\x81\x00")


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
