"""Calendar, programme rules, periods, amounts and notice rules — no database."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, strategies as st

from aid_contracts.events import Stage
from publicity.domain.calendar import CHINA, CalendarMissing, WorkingCalendar, parse_year
from publicity.domain.notice import can_finalise, check_objection, ineligibility
from publicity.domain.programmes import ListRefused, Period, Rules, check_new_version, version_for

SHIPPED = WorkingCalendar.load()
PRIMARY = Rules("compulsory_living_subsidy_primary", "义务教育家庭经济困难学生生活补助（小学）", Stage.PRIMARY, False, 50_000)
VOCATIONAL = Rules("vocational_national_grant", "中等职业教育国家助学金", Stage.VOCATIONAL, True, 20_000)


def test_calendar_ships_the_current_and_next_year():
    assert {2026, 2027} <= set(SHIPPED.years) and not SHIPPED.years[2026].provisional


def test_the_shipped_2026_file_is_what_chinesecalendar_says():
    import chinese_calendar

    day = date(2026, 1, 1)
    while day.year == 2026:
        assert SHIPPED.is_working_day(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


def test_a_holiday_spanning_weekends_and_the_adjusted_working_saturdays():
    # 2026 Spring Festival: 15-23 Feb off (two weekends inside); Sat 14 and Sat 28 Feb are working days (调休)
    assert SHIPPED.is_working_day(date(2026, 2, 14)) and SHIPPED.is_working_day(date(2026, 2, 28))
    assert not any(SHIPPED.is_working_day(date(2026, 2, d)) for d in range(15, 24))
    assert SHIPPED.add_working_days(date(2026, 2, 12), 5) == date(2026, 2, 26)  # 13, 14, 24, 25, 26
    # National Day: 1-7 Oct off, Sat 10 Oct worked
    assert SHIPPED.add_working_days(date(2026, 9, 30), 5) == date(2026, 10, 13)  # 8, 9, 10, 12, 13


def test_the_notice_ends_at_midnight_china_time_after_the_fifth_working_day():
    published = datetime(2026, 11, 20, 2, 30, tzinfo=UTC)  # Friday 10:30 in China
    ends = SHIPPED.notice_end(published, 5)  # Mon 23 .. Fri 27
    assert ends == datetime(2026, 11, 28, 0, 0, tzinfo=CHINA)
    late_evening = datetime(2026, 11, 19, 17, 0, tzinfo=UTC)  # Friday 01:00 in China: that day is publication day
    assert SHIPPED.notice_end(late_evening, 5) == ends


def test_a_year_without_a_calendar_is_refused_not_guessed():
    with pytest.raises(CalendarMissing, match="2031"):
        SHIPPED.add_working_days(date(2031, 3, 1), 5)


def test_a_calendar_directory_replaces_a_shipped_year(tmp_path):
    (tmp_path / "2027.json").write_text(json.dumps({"year": 2027, "holidays": ["2027-03-01"], "workdays": [],
                                                    "source": "test", "provisional": False}))
    loaded = WorkingCalendar.load(tmp_path)
    assert not loaded.is_working_day(date(2027, 3, 1)) and SHIPPED.is_working_day(date(2027, 3, 1))
    assert not loaded.years[2027].provisional


@pytest.mark.parametrize("raw", [
    {"year": 2026, "holidays": ["2027-01-01"], "workdays": []},
    {"year": 2026, "holidays": ["2026-01-04"], "workdays": ["2026-01-04"]},
])
def test_a_malformed_calendar_file_is_refused(raw):
    with pytest.raises(ValueError):
        parse_year(json.dumps(raw))


@given(st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 11, 30)), st.integers(min_value=1, max_value=15))
def test_adding_working_days_lands_on_a_working_day_with_exactly_n_in_between(start, n):
    end = SHIPPED.add_working_days(start, n)
    assert SHIPPED.is_working_day(end)
    between = sum(SHIPPED.is_working_day(start + timedelta(days=k)) for k in range(1, (end - start).days + 1))
    assert between == n


@pytest.mark.parametrize(("text", "key", "monthly"), [("2026-autumn", 202609, False), ("2026-spring", 202603, False),
                                                      ("2026-11", 202611, True)])
def test_periods_parse_and_order(text, key, monthly):
    period = Period.parse(text)
    assert (period.key, period.monthly) == (key, monthly)
    assert Period.parse("2026-spring") < Period.parse("2026-04") < Period.parse("2026-autumn") < Period.parse("2027-01")


@pytest.mark.parametrize("text", ["2026-13", "2026-fall", "26-autumn", "", "2026-1"])
def test_bad_periods_are_refused(text):
    with pytest.raises(ListRefused) as caught:
        Period.parse(text)
    assert caught.value.code == "bad_period"


def test_payment_calendar_monthly_and_per_term():
    VOCATIONAL.check_period(Period.parse("2026-11"))
    PRIMARY.check_period(Period.parse("2026-autumn"))
    for rules, period in ((VOCATIONAL, "2026-autumn"), (PRIMARY, "2026-11"), (VOCATIONAL, "2026-07")):
        with pytest.raises(ListRefused):
            rules.check_period(Period.parse(period))


def test_amount_by_category_takes_the_highest_qualifying_tier_in_integer_fen():
    rules = Rules("x", "x", Stage.SENIOR, False, 100_000, frozenset({"registered_poor", "orphan", "disabled"}),
                  {"registered_poor": 150_000, "orphan": 125_000})
    assert rules.amount_for({"registered_poor", "orphan"}) == 150_000
    assert rules.amount_for({"disabled"}) == 100_000
    assert rules.amount_for({"needy_worker_family"}) is None
    assert isinstance(rules.amount_for({"orphan"}), int)


def _version(effective_from: str, amount: int, version: int = 1) -> Rules:
    return Rules(PRIMARY.code, PRIMARY.name, Stage.PRIMARY, False, amount, effective_from=effective_from, version=version)


def test_a_new_version_applies_to_later_periods_only():
    v1, v2 = _version("2020-spring", 50_000), _version("2027-spring", 60_000, 2)
    assert version_for([v1, v2], Period.parse("2026-autumn")).amount_fen == 50_000
    assert version_for([v1, v2], Period.parse("2027-spring")).amount_fen == 60_000
    today = date(2026, 11, 24)
    check_new_version(_version("2027-spring", 60_000), [v1], today)
    for starts in ("2026-11", "2026-autumn"):
        with pytest.raises(ListRefused) as caught:
            check_new_version(_version(starts, 60_000), [v1], today)
        assert caught.value.code == "not_later"
    with pytest.raises(ListRefused):
        check_new_version(_version("2027-spring", 70_000), [v1, v2], today)  # a version from then exists


@pytest.mark.parametrize(("rules", "code"), [
    (Rules("x", "x", Stage.SENIOR, False, 0), "bad_amount"),
    (Rules("x", "x", Stage.SENIOR, False, 1, frozenset({"rich"})), "bad_category"),
    (Rules("x", "x", Stage.SENIOR, True, 1, pay_months=(13,)), "bad_calendar"),
])
def test_rules_a_province_could_not_mean_are_refused(rules, code):
    with pytest.raises(ListRefused) as caught:
        rules.check()
    assert caught.value.code == code


NOW = datetime(2026, 11, 24, 8, tzinfo=UTC)


@pytest.mark.parametrize(("over", "code"), [
    ({"notice_ends_at": NOW - timedelta(seconds=1)}, "notice_closed"),
    ({"status": "final"}, "notice_closed"),
    ({"name": " "}, "missing_contact"),
    ({"phone": "12345"}, "bad_phone"),
    ({"text": "no"}, "bad_text"),
])
def test_objections_need_an_open_notice_and_contact_details(over, code):
    given_ = {"status": "published", "notice_ends_at": NOW + timedelta(days=1), "now": NOW, "name": "李四",
              "phone": "13800138000", "text": "该生家庭条件较好"} | over
    with pytest.raises(ListRefused) as caught:
        check_objection(**given_)
    assert caught.value.code == code


def test_a_list_is_final_only_after_the_window_with_every_objection_decided():
    ends = NOW
    assert can_finalise(status="published", notice_ends_at=ends, now=NOW, open_objections=0)
    assert not can_finalise(status="published", notice_ends_at=ends, now=NOW, open_objections=1)
    assert not can_finalise(status="published", notice_ends_at=ends, now=NOW - timedelta(seconds=1), open_objections=0)


@pytest.mark.parametrize(("over", "why"), [
    ({"status": "withdrawn"}, "撤销"), ({"status": None}, "撤销"), ({"status": "invalid"}, "invalid"),
    ({"school_code": "5201039999"}, "本校"), ({"stage": "junior"}, "学段"), ({"categories": set()}, "类别"),
])
def test_why_a_student_no_longer_qualifies(over, why):
    facts = {"status": "verified_unchanged", "school_code": "5201020001", "stage": "primary",
             "categories": {"orphan"}} | over
    assert why in ineligibility(**facts, list_school="5201020001", rules=PRIMARY)
    assert ineligibility(status="verified_updated", school_code="5201020001", stage="primary", categories={"orphan"},
                         list_school="5201020001", rules=PRIMARY) is None
