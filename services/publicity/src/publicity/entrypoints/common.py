"""What publicity's routers share: roles, the calendar, refusals as HTTP errors."""

from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from fastapi import HTTPException

from aid_chassis.auth import BUREAUS, Role, allow
from aid_chassis.errors import refusals as http_refusals
from publicity.domain.calendar import CalendarMissing, WorkingCalendar
from publicity.domain.programmes import ListRefused

SCHOOLS = allow(Role.SCHOOL)
AUDITORS = allow(*BUREAUS)
PROVINCE = allow(Role.PROVINCE_BUREAU)
SCHOOLS_AND_AUDITORS = allow(Role.SCHOOL, *BUREAUS)
CONFLICTS = frozenset({"wrong_state", "list_exists", "already_decided", "notice_closed"})


@lru_cache(maxsize=4)
def calendar(directory: Path | None) -> WorkingCalendar:
    """The working-day calendar, loaded once per process."""
    return WorkingCalendar.load(directory)


@contextmanager
def refusals():
    """Refusals as precise HTTP errors ({code, message}); nothing was changed."""
    try:
        with http_refusals((ListRefused, CalendarMissing), conflicts=CONFLICTS,
                           statuses={"calendar_missing": 503, "rate_limited": 429}):
            yield
    except HTTPException as exc:
        if exc.status_code == 429:
            exc.headers = {"Retry-After": "3600"}
        raise
