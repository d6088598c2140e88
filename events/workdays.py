"""Working time: deadlines and elapsed time counted on a working calendar.

Pure Python (no Django), so the rules can be read and tested on their own.

A working day is a date that is a workday on the calendar: Monday to Friday,
except the dates the calendar lists as exceptions — public holidays (法定节假日,
not worked although on a weekday) and swapped working days (调休上班, worked
although on a weekend). Working time runs only inside the daily working periods
(by default 08:30–12:00 and 14:00–17:30, seven hours, local time).

Time limits (办理时限) come in three units:

* ``d`` — working days. One working day is the length of one day's working
  periods, so "3d" from Friday 15:00 ends on the following Wednesday 15:00 and
  a report on Saturday starts counting on Monday morning;
* ``h`` — working hours, on the same clock;
* ``ch`` — clock hours (自然小时), round the clock, for emergencies (突发事件)
  whose limits do not stop at night or on holidays.

Deadlines are exact to the second; nothing is approximated.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

__all__ = [
    "DEFAULT_PERIODS",
    "WARN_SHARE",
    "StepClock",
    "TimeLimit",
    "WorkCalendar",
    "colour",
    "colour_of_share",
    "parse_limit",
    "step_clock",
]

DEFAULT_PERIODS: tuple[tuple[dt.time, dt.time], ...] = (
    (dt.time(8, 30), dt.time(12, 0)),
    (dt.time(14, 0), dt.time(17, 30)),
)
SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_SPAN_DAYS = 3660  # a deadline further than ten years away is a configuration error

#: share of the limit left when an event turns yellow (预警)
WARN_SHARE = 0.2


@dataclass(frozen=True)
class WorkCalendar:
    """Which dates are worked, and the working periods of a worked date."""

    exceptions: Mapping[dt.date, bool] = field(default_factory=dict)  # date → is a workday
    periods: tuple[tuple[dt.time, dt.time], ...] = DEFAULT_PERIODS
    tz: dt.tzinfo = SHANGHAI

    def __post_init__(self) -> None:
        if not self.periods:
            raise ValueError("a working day needs at least one working period")
        previous = dt.time(0)
        for start, end in self.periods:
            if not previous <= start < end:
                raise ValueError("working periods must be ordered and must not overlap")
            previous = end

    def is_workday(self, day: dt.date) -> bool:
        if day in self.exceptions:
            return self.exceptions[day]
        return day.weekday() < 5

    @property
    def day_seconds(self) -> float:
        """Working seconds in one working day."""
        return float(sum(_seconds(start, end) for start, end in self.periods))

    def _windows(self, day: dt.date):
        if self.is_workday(day):
            for start, end in self.periods:
                yield (
                    dt.datetime.combine(day, start, tzinfo=self.tz),
                    dt.datetime.combine(day, end, tzinfo=self.tz),
                )

    def add(self, start: dt.datetime, seconds: float) -> dt.datetime:
        """The moment ``seconds`` of working time after ``start``.

        ``start`` outside working hours counts from the next working period; a
        deadline that falls exactly on the end of a period stays there (17:30,
        not the next morning).
        """
        _check_aware(start)
        if seconds < 0:
            raise ValueError("working time to add must not be negative")
        start = start.astimezone(self.tz)
        remaining = dt.timedelta(seconds=seconds)
        day = start.date()
        for _ in range(MAX_SPAN_DAYS):
            for begin, end in self._windows(day):
                if end <= start:
                    continue
                begin = max(begin, start)
                if remaining <= end - begin:
                    return begin + remaining
                remaining -= end - begin
            day += dt.timedelta(days=1)
        raise ValueError(f"no deadline within {MAX_SPAN_DAYS} days: does the calendar have working days?")

    def elapsed(self, start: dt.datetime, end: dt.datetime) -> float:
        """Working seconds between two moments (negative if ``end`` is before ``start``)."""
        _check_aware(start)
        _check_aware(end)
        if end < start:
            return -self.elapsed(end, start)
        start, end = start.astimezone(self.tz), end.astimezone(self.tz)
        if (end.date() - start.date()).days > MAX_SPAN_DAYS:
            raise ValueError(f"span longer than {MAX_SPAN_DAYS} days")
        total = 0.0
        day = start.date()
        while day <= end.date():
            for begin, stop in self._windows(day):
                overlap = (min(stop, end) - max(begin, start)).total_seconds()
                if overlap > 0:
                    total += overlap
            day += dt.timedelta(days=1)
        return total


def _seconds(start: dt.time, end: dt.time) -> int:
    return (end.hour - start.hour) * 3600 + (end.minute - start.minute) * 60 + end.second - start.second


def _check_aware(moment: dt.datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("working-time arithmetic needs timezone-aware datetimes")


_LIMIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(d|h|ch)\s*$")
UNIT_NAMES = {"d": "个工作日", "h": "个工作小时", "ch": "小时（自然时间）"}


@dataclass(frozen=True)
class TimeLimit:
    """A time limit: an amount of working days, working hours or clock hours."""

    amount: float
    unit: str  # d / h / ch

    @property
    def working(self) -> bool:
        return self.unit != "ch"

    def seconds(self, calendar: WorkCalendar) -> float:
        """Length of the limit on its own clock (working seconds, or plain seconds for ``ch``)."""
        if self.unit == "d":
            return self.amount * calendar.day_seconds
        return self.amount * 3600.0

    def advance(self, calendar: WorkCalendar, start: dt.datetime, seconds: float) -> dt.datetime:
        """``start`` plus ``seconds`` on this limit's clock."""
        if self.working:
            return calendar.add(start, max(seconds, 0.0))
        return start + dt.timedelta(seconds=max(seconds, 0.0))

    def elapsed(self, calendar: WorkCalendar, start: dt.datetime, end: dt.datetime) -> float:
        """Time between two moments on this limit's clock."""
        if self.working:
            return calendar.elapsed(start, end)
        return (end - start).total_seconds()

    def __str__(self) -> str:
        return f"{self.amount:g}{self.unit}"

    @property
    def label(self) -> str:
        return f"{self.amount:g} {UNIT_NAMES[self.unit]}"


def parse_limit(text: str) -> TimeLimit:
    """``"3d"`` (working days), ``"4h"`` (working hours), ``"2ch"`` (clock hours) → TimeLimit."""
    match = _LIMIT.match(str(text))
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"时限“{text}”无效：应为正数加单位 d（工作日）、h（工作小时）或 ch（自然小时）")
    return TimeLimit(float(match.group(1)), match.group(2))


@dataclass(frozen=True)
class StepClock:
    """The deadlines of one lifecycle step: yellow from ``warn_at``, red (overdue) from
    ``due_at``, escalated from ``escalate_at`` (overdue by a further whole limit)."""

    warn_at: dt.datetime
    due_at: dt.datetime
    escalate_at: dt.datetime


def step_clock(
    limit: TimeLimit, calendar: WorkCalendar, start: dt.datetime, *, spent: float = 0.0
) -> StepClock:
    """Deadlines of a step started at ``start`` of which ``spent`` seconds (on the
    limit's clock) were already used — after a suspension, the clock goes on where
    it stopped."""
    total = limit.seconds(calendar)
    return StepClock(
        warn_at=limit.advance(calendar, start, total * (1 - WARN_SHARE) - spent),
        due_at=limit.advance(calendar, start, total - spent),
        escalate_at=limit.advance(calendar, start, 2 * total - spent),
    )


def colour(now: dt.datetime, warn_at: dt.datetime | None, due_at: dt.datetime | None) -> str:
    """green / yellow (under 20 % of the limit left) / red (overdue)."""
    if due_at is not None and now >= due_at:
        return "red"
    if warn_at is not None and now >= warn_at:
        return "yellow"
    return "green"


def colour_of_share(spent: float, total: float) -> str:
    """The colour of a stopped clock (a suspended event): by the share of the limit used."""
    if spent >= total:
        return "red"
    if spent >= total * (1 - WARN_SHARE):
        return "yellow"
    return "green"
