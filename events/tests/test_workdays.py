"""Working-time arithmetic (no database): Monday–Friday, holidays, swapped working days."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.workdays import WorkCalendar, colour, colour_of_share, parse_limit, step_clock

TZ = dt.timezone(dt.timedelta(hours=8))
HOUR = 3600.0
DAY = 7 * HOUR  # 08:30–12:00 and 14:00–17:30


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TZ)


# 2026 National Day: 10-01 … 10-07 off, Sunday 09-20 and Saturday 10-10 worked (调休)
NATIONAL_DAY = {
    **{dt.date(2026, 10, d): False for d in range(1, 8)},
    dt.date(2026, 9, 20): True,
    dt.date(2026, 10, 10): True,
}
CAL = WorkCalendar(exceptions=NATIONAL_DAY)
PLAIN = WorkCalendar()


def test_a_working_day_is_the_length_of_its_periods():
    assert PLAIN.day_seconds == DAY


def test_one_working_day_from_friday_afternoon_ends_monday_afternoon():
    assert PLAIN.add(at(2026, 11, 20, 15, 0), DAY) == at(2026, 11, 23, 15, 0)


def test_a_report_on_saturday_starts_counting_on_monday_morning():
    assert PLAIN.add(at(2026, 11, 21, 10, 0), HOUR) == at(2026, 11, 23, 9, 30)
    assert PLAIN.add(at(2026, 11, 21, 10, 0), 0) == at(2026, 11, 23, 8, 30)


def test_lunch_break_and_evening_do_not_count():
    assert PLAIN.add(at(2026, 11, 23, 11, 30), HOUR) == at(2026, 11, 23, 14, 30)
    assert PLAIN.add(at(2026, 11, 23, 17, 0), HOUR) == at(2026, 11, 24, 9, 0)


def test_a_deadline_on_the_end_of_a_period_stays_there():
    assert PLAIN.add(at(2026, 11, 23, 8, 30), 3.5 * HOUR) == at(2026, 11, 23, 12, 0)


def test_holidays_are_skipped():
    # Wednesday 09-30 16:00: 1.5 h that day, then nothing until Thursday 10-08
    assert CAL.add(at(2026, 9, 30, 16, 0), DAY) == at(2026, 10, 8, 16, 0)
    assert PLAIN.add(at(2026, 9, 30, 16, 0), DAY) == at(2026, 10, 1, 16, 0)


def test_a_swapped_working_day_counts():
    # Friday 10-09 16:00: 1.5 h, then Saturday 10-10 is a working day
    assert CAL.add(at(2026, 10, 9, 16, 0), DAY) == at(2026, 10, 10, 16, 0)
    assert PLAIN.add(at(2026, 10, 9, 16, 0), DAY) == at(2026, 10, 12, 16, 0)
    # and Sunday 09-20
    assert CAL.add(at(2026, 9, 19, 10, 0), HOUR) == at(2026, 9, 20, 9, 30)


def test_elapsed_working_time_over_a_holiday():
    assert CAL.elapsed(at(2026, 9, 30, 16, 0), at(2026, 10, 8, 16, 0)) == DAY
    assert CAL.elapsed(at(2026, 10, 1, 0, 0), at(2026, 10, 7, 23, 59)) == 0
    assert CAL.elapsed(at(2026, 10, 8, 16, 0), at(2026, 9, 30, 16, 0)) == -DAY
    assert CAL.elapsed(at(2026, 11, 23, 12, 0), at(2026, 11, 23, 14, 0)) == 0


def test_time_zones_are_respected():
    utc = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)  # 09:00 in Beijing
    assert PLAIN.add(utc, HOUR) == at(2026, 11, 23, 10, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        PLAIN.add(dt.datetime(2026, 11, 23, 9, 0), HOUR)


def test_a_calendar_without_working_days_fails_loudly():
    never = WorkCalendar(exceptions={dt.date(2026, 1, 1) + dt.timedelta(days=i): False for i in range(4000)})
    with pytest.raises(ValueError, match="no deadline"):
        never.add(at(2026, 1, 1, 9, 0), HOUR)


@settings(max_examples=300, deadline=None)
@given(
    start=st.datetimes(min_value=dt.datetime(2026, 9, 1), max_value=dt.datetime(2026, 11, 1)),
    seconds=st.floats(min_value=0, max_value=30 * DAY),
)
def test_elapsed_undoes_add(start, seconds):
    start = start.replace(tzinfo=TZ)
    end = CAL.add(start, seconds)
    assert end >= start
    assert CAL.elapsed(start, end) == pytest.approx(seconds, abs=1e-3)


@pytest.mark.parametrize(
    ("text", "amount", "unit", "label"),
    [
        ("3d", 3, "d", "3 个工作日"),
        ("4h", 4, "h", "4 个工作小时"),
        ("0.5ch", 0.5, "ch", "0.5 小时（自然时间）"),
    ],
)
def test_limits_parse(text, amount, unit, label):
    limit = parse_limit(text)
    assert (limit.amount, limit.unit, limit.label, str(limit)) == (amount, unit, label, text)


@pytest.mark.parametrize("text", ["", "3", "d", "-1d", "0h", "3 days", "2w", None])
def test_bad_limits_are_refused(text):
    with pytest.raises(ValueError, match="时限"):
        parse_limit(text)


def test_clock_hours_run_through_holidays_and_nights():
    limit = parse_limit("2ch")
    clock = step_clock(limit, CAL, at(2026, 10, 1, 23, 0))
    assert clock.due_at == at(2026, 10, 2, 1, 0)
    assert clock.warn_at == at(2026, 10, 2, 0, 36)  # 80 % of two hours
    assert clock.escalate_at == at(2026, 10, 2, 3, 0)


def test_step_clock_of_working_days_and_after_a_suspension():
    limit = parse_limit("1d")
    start = at(2026, 9, 30, 16, 0)
    clock = step_clock(limit, CAL, start)
    assert clock.due_at == at(2026, 10, 8, 16, 0)
    assert clock.warn_at == CAL.add(start, 0.8 * DAY) == at(2026, 10, 8, 14, 36)
    assert clock.escalate_at == at(2026, 10, 9, 16, 0)
    # resumed with 5 of the 7 hours already used: 2 hours left
    resumed = step_clock(limit, CAL, at(2026, 10, 8, 9, 0), spent=5 * HOUR)
    assert resumed.due_at == at(2026, 10, 8, 11, 0)
    assert resumed.warn_at == at(2026, 10, 8, 9, 36)


def test_colours():
    warn, due = at(2026, 10, 8, 14, 36), at(2026, 10, 8, 16, 0)
    assert colour(at(2026, 10, 8, 14, 0), warn, due) == "green"
    assert colour(warn, warn, due) == "yellow"
    assert colour(due, warn, due) == "red"
    assert colour(due, None, None) == "green"
    assert [colour_of_share(s, 10) for s in (0, 7.9, 8, 9.9, 10, 11)] == [
        "green", "green", "yellow", "yellow", "red", "red",
    ]  # fmt: skip
