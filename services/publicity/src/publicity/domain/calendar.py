"""The working-day calendar (工作日历) behind the 5-working-day public notice.

A working day is a weekday that is not a public holiday, or a weekend day that the State
Council's yearly arrangement makes a working day (调休上班). Each year is one JSON file
(``{"year", "holidays", "workdays", "source", "provisional"}``); the files shipped in
``publicity/calendars`` cover the current and the next year, and a directory named by
``PUBLICITY_CALENDAR_DIR`` adds or replaces years without a release. A date in a year with no
file is refused: guessing would publish a wrong notice end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")
SHIPPED = Path(__file__).resolve().parent.parent / "calendars"


class CalendarMissing(LookupError):
    """No working-day calendar is loaded for a year."""

    code = "calendar_missing"


@dataclass(frozen=True)
class Year:
    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]
    source: str
    provisional: bool


def parse_year(text: str) -> Year:
    """One year's file; refuses dates outside the year and a date that is both holiday and workday."""
    raw = json.loads(text)
    year = int(raw["year"])
    holidays = frozenset(date.fromisoformat(d) for d in raw["holidays"])
    workdays = frozenset(date.fromisoformat(d) for d in raw["workdays"])
    if any(d.year != year for d in holidays | workdays):
        raise ValueError(f"calendar {year}: a date outside the year")
    if holidays & workdays:
        raise ValueError(f"calendar {year}: {sorted(holidays & workdays)[0]} is both a holiday and a workday")
    return Year(year, holidays, workdays, str(raw.get("source", "")), bool(raw.get("provisional", False)))


class WorkingCalendar:
    def __init__(self, years: dict[int, Year]) -> None:
        self.years = years

    @classmethod
    def load(cls, *directories: Path | None) -> WorkingCalendar:
        """Years from the shipped files, then from each directory given (later ones win)."""
        years: dict[int, Year] = {}
        for directory in (SHIPPED, *directories):
            if directory is None:
                continue
            for path in sorted(Path(directory).glob("*.json")):
                year = parse_year(path.read_text(encoding="utf-8"))
                years[year.year] = year
        return cls(years)

    def is_working_day(self, day: date) -> bool:
        year = self.years.get(day.year)
        if year is None:
            raise CalendarMissing(f"没有 {day.year} 年的工作日历，请加载 (no working-day calendar for {day.year}: "
                                  "add its file to PUBLICITY_CALENDAR_DIR)")
        if day in year.workdays:
            return True
        return day.weekday() < 5 and day not in year.holidays

    def add_working_days(self, start: date, days: int) -> date:
        """The ``days``-th working day after ``start`` (``start`` itself not counted)."""
        current, left = start, days
        while left > 0:
            current += timedelta(days=1)
            if self.is_working_day(current):
                left -= 1
        return current

    def notice_end(self, published_at: datetime, working_days: int) -> datetime:
        """A notice published at any time of a day runs through the ``working_days`` working days
        after that day and ends at midnight (China time) after the last one."""
        local_day = published_at.astimezone(CHINA).date()
        last = self.add_working_days(local_day, working_days)
        return datetime.combine(last + timedelta(days=1), time(0), tzinfo=CHINA)
