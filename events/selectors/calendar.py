"""The working calendar as configured: exception dates from the database, working periods
from settings."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from ..models import WorkCalendarDay
from ..workdays import WorkCalendar

__all__ = ["work_calendar"]


def _periods() -> tuple[tuple[dt.time, dt.time], ...]:
    return tuple(
        (dt.time.fromisoformat(start), dt.time.fromisoformat(end))
        for start, end in settings.CIVGRID["WORK_PERIODS"]
    )


def work_calendar() -> WorkCalendar:
    """The calendar with every exception on record (a few dozen rows a year: read whole)."""
    exceptions = dict(WorkCalendarDay.objects.values_list("date", "is_workday"))
    return WorkCalendar(exceptions=exceptions, periods=_periods(), tz=timezone.get_default_timezone())
