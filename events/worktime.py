"""Working time for millions of moments at once: :mod:`events.workdays` as numpy arrays.

Pure numpy, no Django. :class:`WorkTable` lays a :class:`~events.workdays.WorkCalendar`
out as the list of its working periods between two dates, each with the working
seconds before it. Working time is then a function ``W(t)`` (working microseconds
since the table's start) that only grows, and

* ``add(t, s)``, the moment ``s`` working seconds after ``t``, is ``W⁻¹(W(t) + s)``;
* ``elapsed(t0, t1)`` is ``W(t1) − W(t0)``;

each a ``searchsorted`` over the periods, vectorized over any number of moments —
what the bulk writer needs for the deadlines of a million events, where
:meth:`WorkCalendar.add` walks day by day in Python.

The answers are the calendar's own, to the microsecond: a moment outside working
hours counts from the next period, a deadline that falls exactly on the end of a
period stays there (17:30, not the next morning), and adding nothing to a moment
outside working hours gives the start of the next period, as
:meth:`WorkCalendar.add` does. Moments are int64 microseconds since the Unix
epoch (UTC).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from .workdays import WARN_SHARE, TimeLimit, WorkCalendar

__all__ = ["US", "WorkTable", "limit_us", "to_us"]

US = 1_000_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def to_us(moment: dt.datetime) -> int:
    """An aware datetime as microseconds since the Unix epoch."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("working-time arithmetic needs timezone-aware datetimes")
    return (moment - _EPOCH) // dt.timedelta(microseconds=1)


def limit_us(limit: TimeLimit, calendar: WorkCalendar, share: float = 1.0) -> int:
    """``share`` of a limit in microseconds on its own clock, rounded as ``timedelta`` rounds."""
    return round(dt.timedelta(seconds=limit.seconds(calendar) * share) / dt.timedelta(microseconds=1))


class WorkTable:
    """The working periods of ``calendar`` from ``first`` to ``last`` (dates, inclusive).

    Moments given to it must lie within the table, and deadlines must fall
    within it; either outside raises ``ValueError`` (build a longer table).
    """

    def __init__(self, calendar: WorkCalendar, first: dt.date, last: dt.date) -> None:
        if last < first:
            raise ValueError("the table's last date is before its first")
        begins, ends = [], []
        day = first
        while day <= last:
            if calendar.is_workday(day):
                for start, end in calendar.periods:
                    begins.append(to_us(dt.datetime.combine(day, start, tzinfo=calendar.tz)))
                    ends.append(to_us(dt.datetime.combine(day, end, tzinfo=calendar.tz)))
            day += dt.timedelta(days=1)
        if not begins:
            raise ValueError(f"no working day between {first} and {last}")
        self.calendar = calendar
        self.first, self.last = first, last
        self.start = to_us(dt.datetime.combine(first, dt.time(0), tzinfo=calendar.tz))
        self.stop = to_us(dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=calendar.tz))
        self.begin = np.array(begins, dtype=np.int64)
        self.end = np.array(ends, dtype=np.int64)
        length = self.end - self.begin
        self.cum_end = np.cumsum(length)
        self.cum_begin = self.cum_end - length

    @classmethod
    def covering(cls, calendar: WorkCalendar, earliest_us: int, latest_us: int, longest_us: int) -> WorkTable:
        """A table for moments from ``earliest_us`` to ``latest_us`` and working spans up to
        ``longest_us`` after them (with room for weekends and holidays)."""
        tz = calendar.tz
        first = dt.datetime.fromtimestamp(earliest_us / US, tz).date() - dt.timedelta(days=1)
        last = dt.datetime.fromtimestamp(latest_us / US, tz).date()
        working_days = int(np.ceil(longest_us / US / calendar.day_seconds)) + 1
        return cls(calendar, first, last + dt.timedelta(days=working_days * 2 + 31))

    def _check(self, t: np.ndarray) -> None:
        if len(t) and (t.min() < self.start or t.max() >= self.stop):
            raise ValueError("moment outside the working-time table")

    def worked(self, t: np.ndarray) -> np.ndarray:
        """``W(t)``: working microseconds from the table's start to each moment."""
        t = np.asarray(t, dtype=np.int64)
        self._check(t)
        i = np.searchsorted(self.begin, t, side="right") - 1
        before = i < 0  # before the first period of the table
        i = np.maximum(i, 0)
        w = self.cum_begin[i] + np.clip(t - self.begin[i], 0, self.end[i] - self.begin[i])
        return np.where(before, 0, w)

    def moment(self, w: np.ndarray, *, exact_start: np.ndarray | None = None) -> np.ndarray:
        """``W⁻¹``: the moment at which ``w`` working microseconds have passed — the end of a
        period when ``w`` falls on one, or (where ``exact_start``) the start of the next."""
        w = np.asarray(w, dtype=np.int64)
        j = np.searchsorted(self.cum_end, w, side="left")
        if exact_start is not None:
            j = np.where(exact_start, np.searchsorted(self.cum_end, w, side="right"), j)
        if len(j) and j.max() >= len(self.begin):
            raise ValueError("deadline beyond the working-time table")
        return self.begin[j] + (w - self.cum_begin[j])

    def add(self, t: np.ndarray, amount_us: np.ndarray) -> np.ndarray:
        """The moments ``amount_us`` working microseconds after ``t`` (``WorkCalendar.add``)."""
        amount = np.asarray(amount_us, dtype=np.int64)
        if np.any(amount < 0):
            raise ValueError("working time to add must not be negative")
        return self.moment(self.worked(t) + amount, exact_start=amount == 0)

    def elapsed(self, t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
        """Working microseconds between moments (``WorkCalendar.elapsed``; negative if t1 < t0)."""
        return self.worked(t1) - self.worked(t0)

    def advance(self, t: np.ndarray, amount_us: np.ndarray, working: np.ndarray) -> np.ndarray:
        """``TimeLimit.advance`` for mixed limits: working time where ``working``, clock time elsewhere."""
        t = np.asarray(t, dtype=np.int64)
        amount = np.maximum(np.asarray(amount_us, dtype=np.int64), 0)
        out = t + amount
        if np.any(working):
            out[working] = self.add(t[working], amount[working])
        return out

    def step_clocks(
        self, start: np.ndarray, total_us: np.ndarray, working: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(warn_at, due_at, escalate_at) of steps started at ``start`` with limits of
        ``total_us`` (``workdays.step_clock`` with nothing spent)."""
        warn = np.round(total_us * (1 - WARN_SHARE)).astype(np.int64)
        return (
            self.advance(start, warn, working),
            self.advance(start, total_us, working),
            self.advance(start, 2 * np.asarray(total_us, dtype=np.int64), working),
        )
