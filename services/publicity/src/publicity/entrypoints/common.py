"""What publicity's routers share: roles, the calendar, refusals as HTTP errors."""

from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from fastapi import HTTPException

from aid_chassis.auth import BUREAUS, Role, allow
from publicity.domain.calendar import CalendarMissing, WorkingCalendar
from publicity.domain.programmes import ListRefused
from publicity.service_layer.objections import TooMany

SCHOOLS = allow(Role.SCHOOL)
AUDITORS = allow(*BUREAUS)
PROVINCE = allow(Role.PROVINCE_BUREAU)
SCHOOLS_AND_AUDITORS = allow(Role.SCHOOL, *BUREAUS)
CONFLICTS = {"wrong_state", "list_exists", "already_decided", "notice_closed"}


@lru_cache(maxsize=4)
def calendar(directory: Path | None) -> WorkingCalendar:
    """The working-day calendar, loaded once per process."""
    return WorkingCalendar.load(directory)


@contextmanager
def refusals():
    """Refusals as precise HTTP errors ({code, message}); nothing was changed."""
    try:
        yield
    except TooMany as exc:
        raise HTTPException(429, {"code": exc.code, "message": str(exc)}, headers={"Retry-After": "3600"}) from None
    except CalendarMissing as exc:
        raise HTTPException(503, {"code": "calendar_missing", "message": str(exc)}) from None
    except LookupError as exc:
        raise HTTPException(404, {"code": "not_found", "message": str(exc)}) from None
    except ListRefused as exc:
        raise HTTPException(409 if exc.code in CONFLICTS else 422, {"code": exc.code, "message": str(exc)}) from None
