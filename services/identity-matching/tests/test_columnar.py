"""The columnar validation agrees with the row-by-row rules of ``records``, whatever the rows."""

from __future__ import annotations

from datetime import date

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from aid_contracts.keys import check_digit, student_key
from identity_matching.domain import columnar, files, records

TODAY = date(2026, 11, 22)


def _id(region: str, born: str, seq: int) -> str:
    body = f"{region}{born}{seq:03d}"
    return body + check_digit(body)


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


GOOD = [_id("520102", "20140101", n) for n in range(6)] + ["11010519491231002X", _id("110104", "20050101", 1)]
ID_VALUES = st.one_of(
    st.sampled_from(GOOD), st.sampled_from(GOOD).map(str.lower), st.sampled_from(GOOD).map(_full_width),
    st.sampled_from(GOOD).map(lambda v: f" {v} "), st.just("110105491231002"),  # 15 digits
    st.sampled_from(GOOD).map(lambda v: v[:-1] + ("0" if v[-1] != "0" else "1")),  # check digit
    st.just(_id("520102", "20141301", 1)), st.just(_id("520102", "20990101", 1)),  # no such date, future
    st.just(_id("110104", "20150101", 1)), st.just(_id("999999", "20140101", 1)),  # retired in 2010, unknown
    st.just(""), st.just("5201022014010100"), st.just("52010220140101001Y"), st.text(max_size=20))
NAMES = st.one_of(st.sampled_from(["张三", "李四", " 王五 ", "", "赵" * 51, "钱\u3000", "A\x1f", "孙\u200b六",
                                      "周\x07", "阿依古丽·买买提", "吴\u202e八"]), st.text(max_size=4))
REGIONS = st.sampled_from(["520102", "520103", "110104", "999999", "52010", "５２０１０２", " 520102", ""])
SCHOOLS = st.sampled_from(["5201020001", "5201020002", "ab12", "x", "学校0001", "", "5201020001 "])
STAGES = st.sampled_from(["primary", "junior", "小学", "中职", "Primary", "college", "", " senior"])
CATEGORIES = st.sampled_from(["orphan", "registered_poor", "建档立卡", "低保", "Disabled", "other", ""])
STATUSES = st.sampled_from(["out", "not_out", "已脱贫", "返贫", "gone", "", None])
YEARS = st.sampled_from(["2024", "2013", "2012", "２０２０", "20x4", "", " 2022", None])

roster_rows = st.lists(st.fixed_dictionaries({
    "id_number": ID_VALUES, "name": NAMES, "school_code": SCHOOLS, "stage": STAGES,
    "enrolment_region": REGIONS, "household_region": REGIONS}), max_size=25)
list_rows = st.lists(st.fixed_dictionaries({
    "id_number": ID_VALUES, "name": NAMES, "category": CATEGORIES, "household_region": REGIONS,
    "poverty_status": STATUSES, "exit_year": YEARS}), max_size=25)


def _both(rows: list[dict], validate, parse, unique):
    frame = files.rows_frame(list(rows[0]) if rows else ["id_number"], rows, first_row=2)
    fast = validate(frame, TODAY)
    kept = [(n, r) for n, r in enumerate(rows, start=2) if any((v or "").strip() for v in r.values())]
    accepted, rejections, repeats = records.validate_rows(kept, parse, lambda p: tuple(getattr(p, k) for k in unique))
    expected = [{"row": n, **{k: getattr(v, "value", v) for k, v in vars(p).items()}} for n, p in accepted]
    return fast, expected, rejections, repeats


def _agree(rows: list[dict], validate, parse, unique) -> None:
    fast, expected, rejections, repeats = _both(rows, validate, parse, unique)
    assert fast.accepted.to_dicts() == expected
    assert fast.rejections == rejections
    assert fast.repeats == repeats


@given(roster_rows)
@settings(max_examples=300, deadline=None)
def test_roster_validation_agrees_with_the_rules(rows):
    _agree(rows, columnar.validate_roster, records.parse_roster_row, columnar.ROSTER_UNIQUE)


@given(list_rows)
@settings(max_examples=300, deadline=None)
def test_list_validation_agrees_with_the_rules(rows):
    _agree(rows, columnar.validate_list, records.parse_list_row, columnar.LIST_UNIQUE)


def test_rows_keep_their_spreadsheet_numbers_across_blank_rows():
    content = ("身份证号,姓名,类别,户籍所在地\n" f"{GOOD[0]},张三,孤儿,520102\n" ",,,\n" "\n" "123,李四,孤儿,520102\n"
               " ,,, \n" ",王五,,\n").encode()  # a row blank but for a later column is a row
    valid = columnar.validate_list(files.read_frame(content), TODAY)
    assert valid.accepted["row"].to_list() == [2]
    assert [(r.row, r.code) for r in valid.rejections] == [(5, "bad_length"), (7, "empty_id")]


@given(st.lists(st.one_of(st.sampled_from(GOOD), st.text("0123456789X", min_size=18, max_size=18)), max_size=20),
       st.one_of(st.text(min_size=1, max_size=100).map(str.encode), st.binary(min_size=1, max_size=100)))
@settings(max_examples=200, deadline=None)
def test_a_frames_keys_are_the_contracts_student_keys(numbers, secret):
    """Any secret: text (polars-hash's HMAC, a key longer than SHA-256's block hashed first) or not
    UTF-8 (Python's)."""
    frame = pl.DataFrame({"id_number": numbers}, schema={"id_number": pl.String})
    assert columnar.keyed(frame, secret)["student_key"].to_list() == [student_key(n, secret) for n in numbers]


def test_a_province_sized_frame_is_keyed_in_parts_in_its_order():
    numbers = GOOD * 30_000  # 240,000 rows: two parts or more on a machine of two cores
    keys = {n: student_key(n, b"a pseudonym secret") for n in GOOD}
    keyed = columnar.keyed(pl.DataFrame({"id_number": numbers}), b"a pseudonym secret")
    assert keyed["student_key"].to_list() == [keys[n] for n in numbers]


def test_checks_made_in_parts_are_the_checks_made_whole():
    frame = pl.DataFrame({"row": range(2, 12), "id_number": [*GOOD, "1", "X"]})
    check = [columnar._id_ok(TODAY).alias("ok"), pl.col("row").mul(2).alias("twice")]
    for parts in (2, 3, 10, 25):  # more parts than rows: empty slices
        assert columnar.in_parts(frame, *check, parts=parts).equals(frame.with_columns(*check))
    assert columnar.in_parts(frame.clear(), *check, parts=2).equals(frame.clear().with_columns(*check))
    assert columnar.in_parts(frame, *check, parts=3)["ok"].to_list() == [True] * 8 + [False, False]
