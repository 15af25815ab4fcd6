"""Write a year's working-day calendar file from the ``chinesecalendar`` package.

    .venv/bin/python services/publicity/scripts/make_calendar.py 2026 > services/publicity/src/publicity/calendars/2026.json

The file lists the public holidays (every day off of the arrangement, weekends included) and the
weekend days made working days (调休上班). Review it against the State Council's notice.
"""

from __future__ import annotations

import json
import sys
from datetime import date, timedelta
from importlib.metadata import version

import chinese_calendar


def calendar_of(year: int) -> dict:
    days = [date(year, 1, 1) + timedelta(days=n) for n in range((date(year + 1, 1, 1) - date(year, 1, 1)).days)]
    holidays = [d for d in days if chinese_calendar.is_holiday(d) and chinese_calendar.get_holiday_detail(d)[1]]
    workdays = [d for d in days if d.weekday() >= 5 and chinese_calendar.is_workday(d)]
    return {"year": year, "source": f"chinesecalendar {version('chinesecalendar')} (国务院办公厅节假日安排)",
            "provisional": False, "holidays": [d.isoformat() for d in holidays],
            "workdays": [d.isoformat() for d in workdays]}


if __name__ == "__main__":
    print(json.dumps(calendar_of(int(sys.argv[1])), ensure_ascii=False, indent=1))
