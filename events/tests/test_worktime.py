"""events/worktime.py: the vectorized working time gives WorkCalendar's answers to the
microsecond — over holidays, swapped working days, weekends, nights and period edges."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from events.workdays import WorkCalendar, parse_limit, step_clock
from events.worktime import US, WorkTable, limit_us, to_us

TZ = dt.timezone(dt.timedelta(hours=8))
# National Day 2026: 10-01 … 10-07 off; Sunday 09-20 and Saturday 10-10 worked
CALENDAR = WorkCalendar(
    exceptions={**{dt.date(2026, 10, d): False for d in range(1, 8)}, dt.date(2026, 9, 20): True,
                dt.date(2026, 10, 10): True},
)  # fmt: skip
T0 = dt.datetime(2026, 9, 1, tzinfo=TZ)


def _moments(rng, n: int) -> np.ndarray:
    """Random moments over two months, and every period edge of them exactly."""
    random = to_us(T0) + rng.integers(0, 60 * 86_400 * US, n)
    edges = [
        to_us(dt.datetime.combine(T0.date() + dt.timedelta(days=d), t, tzinfo=TZ))
        for d in range(60)
        for t in (dt.time(8, 30), dt.time(12, 0), dt.time(14, 0), dt.time(17, 30), dt.time(0, 0))
    ]
    return np.concatenate([random, np.array(edges, dtype=np.int64)])


def _dt(us: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(us))


def test_add_and_elapsed_equal_the_calendar():
    rng = np.random.default_rng(5)
    table = WorkTable(CALENDAR, dt.date(2026, 8, 20), dt.date(2027, 1, 31))  # ends go 5 days back
    start = _moments(rng, 600)
    amounts = rng.choice(
        [0, 1, 3600 * US, 12_600 * US, 25_200 * US, 3 * 25_200 * US + 7, 10 * 25_200 * US], len(start)
    )
    got = table.add(start, amounts)
    for s, a, g in zip(start.tolist(), amounts.tolist(), got.tolist(), strict=True):
        assert _dt(g) == CALENDAR.add(_dt(s), a / US), (_dt(s), a)
    end = start + rng.integers(-5 * 86_400 * US, 20 * 86_400 * US, len(start))
    elapsed = table.elapsed(start, end)
    for s, e, w in zip(start.tolist(), end.tolist(), elapsed.tolist(), strict=True):
        assert w == round(CALENDAR.elapsed(_dt(s), _dt(e)) * US)


@pytest.mark.parametrize("text", ["1h", "2h", "4h", "1d", "2d", "5d", "2ch"])
def test_step_clocks_equal_step_clock(text):
    limit = parse_limit(text)
    table = WorkTable(CALENDAR, dt.date(2026, 8, 30), dt.date(2027, 1, 31))
    start = _moments(np.random.default_rng(9), 300)
    total = np.full(len(start), limit_us(limit, CALENDAR))
    warn, due, escalate = table.step_clocks(start, total, np.full(len(start), limit.working))
    for i, s in enumerate(start.tolist()):
        clock = step_clock(limit, CALENDAR, _dt(s))
        assert (_dt(warn[i]), _dt(due[i]), _dt(escalate[i])) == (
            clock.warn_at,
            clock.due_at,
            clock.escalate_at,
        )


def test_outside_the_table_is_an_error_not_a_wrong_answer():
    table = WorkTable(CALENDAR, dt.date(2026, 9, 1), dt.date(2026, 9, 30))
    with pytest.raises(ValueError, match="outside"):
        table.worked(np.array([to_us(dt.datetime(2026, 8, 31, 12, tzinfo=TZ))]))
    with pytest.raises(ValueError, match="beyond"):
        table.add(np.array([to_us(dt.datetime(2026, 9, 29, 9, tzinfo=TZ))]), np.array([10 * 25_200 * US]))
    with pytest.raises(ValueError, match="negative"):
        table.add(np.array([to_us(T0)]), np.array([-1]))
