"""The clock of an event's current step: set when a step starts, stopped while the
event is suspended, read for its colour.

The deadlines are stored on the event (``warn_at``, ``due_at``, ``escalate_at``)
so that the colour of any number of events, the overdue filter and the escalation
sweep are plain comparisons in SQL, with no calendar arithmetic per row.
"""

from __future__ import annotations

import datetime as dt

from .. import flow
from ..models import Event, EventCategory
from ..workdays import TimeLimit, WorkCalendar, colour, colour_of_share, parse_limit, step_clock

__all__ = ["clock_start", "clock_stop", "event_colour", "step_limit"]


def step_limit(category: EventCategory, state: str) -> TimeLimit | None:
    """The category's time limit of the step an event in ``state`` waits for (None: no limit)."""
    step = flow.STEP_OF_STATE.get(state)
    text = (category.time_limits or {}).get(step) if step else None
    return parse_limit(text) if text else None


def clock_start(
    event: Event,
    *,
    at: dt.datetime,
    calendar: WorkCalendar,
    spent: float = 0.0,
    started_at: dt.datetime | None = None,
) -> None:
    """Start the clock of the step ``event.state`` waits for (not saved); a resumed step
    keeps its ``started_at`` and the ``spent`` part of its limit."""
    limit = step_limit(event.category, event.state)
    event.step_started_at = started_at or at
    event.spent_s = None
    event.escalation_level = 0
    event.escalated_at = None
    if limit is None:
        event.warn_at = event.due_at = event.escalate_at = None
        return
    clock = step_clock(limit, calendar, at, spent=spent)
    event.warn_at, event.due_at, event.escalate_at = clock.warn_at, clock.due_at, clock.escalate_at


def clock_stop(event: Event, *, at: dt.datetime, calendar: WorkCalendar) -> None:
    """Stop the clock (suspension): remember how much of the limit was used (not saved)."""
    limit = step_limit(event.category, event.state)
    if limit is not None and event.due_at is not None:
        total = limit.seconds(calendar)
        left = limit.elapsed(calendar, at, event.due_at)
        event.spent_s = max(total - left, 0.0)
    else:
        event.spent_s = None
    event.warn_at = event.due_at = event.escalate_at = None


def event_colour(event: Event, *, now: dt.datetime, calendar: WorkCalendar) -> str | None:
    """green / yellow / red for an open event, None for a finished one.

    A suspended event keeps the colour its stopped clock had (the share of the limit used)."""
    if not event.is_open:
        return None
    if event.state == "suspended":
        limit = step_limit(event.category, event.resume_state)
        if limit is None or event.spent_s is None:
            return "green"
        return colour_of_share(event.spent_s, limit.seconds(calendar))
    return colour(now, event.warn_at, event.due_at)
