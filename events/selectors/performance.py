"""Handling time and on-time rate (处置时长与按期率) per department and per area.

Read from the transitions, where each step's start (``step_started_at``) and
deadline (``step_due_at``) are stored when the step ends, so a statistic is one
aggregate over indexed rows, with no calendar arithmetic per row:

- per department: its 处置 steps (``handle`` transitions whose department is the
  one dispatched to) ended in the window — how many, how many by their deadline,
  mean and median hours from dispatch (or reassignment) to handling; how many it
  handed back (退回); and now: events dispatched to it and not yet handled, and of
  those the overdue ones.
- per grid or region: every step ended in the window by an event of the area —
  how many, how many by their deadline; events of the area closed in the window
  and their mean and median hours from report to close; open and overdue now.

A step without a time limit counts as on time. Hours are wall-clock hours (the
working-day clock of each step decides on-time, not the hours).
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, FloatField, Q, QuerySet
from django.db.models.aggregates import Aggregate
from django.db.models.functions import Extract
from django.utils import timezone

from gis_core.errors import InvalidInput
from gis_core.selectors.stats import area_names, region_key

from .. import flow
from ..models import Department, Event, EventTransition

__all__ = ["GROUPS", "SORT_KEYS", "performance"]

#: the actions that end a step of the flow (suspend/resume pause it, merge and report do not end one)
STEP_ENDING = ("verify", "register", "invalidate", "dispatch", "handle", "check", "close")
#: per-area groupings → the width of the code prefix (grid: the whole 15-digit code)
GROUPS = {"department": 0, "district": 6, "subdistrict": 9, "community": 12, "grid": 15}
SORT_KEYS = ("on_time_rate", "completed", "mean_hours", "median_hours", "open", "overdue", "returned")


class Median(Aggregate):
    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def _hours(end: str, start: str):
    span = ExpressionWrapper(F(end) - F(start), output_field=DurationField())
    return Extract(span, "epoch") / 3600.0


def _rate(on_time: int, total: int) -> float | None:
    return round(on_time / total, 4) if total else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _department_rows(events: QuerySet[Event], since, until, now) -> list[dict]:
    handled = EventTransition.objects.filter(action="handle", event__in=events.values("pk"))
    if since:
        handled = handled.filter(at__gte=since)
    if until:
        handled = handled.filter(at__lt=until)
    done = {
        r["department_id"]: r
        for r in handled.values("department_id").annotate(
            completed=Count("pk"),
            on_time=Count("pk", filter=Q(step_due_at__isnull=True) | Q(at__lte=F("step_due_at"))),
            mean_hours=Avg(_hours("at", "step_started_at")),
            median_hours=Median(_hours("at", "step_started_at")),
        )
    }
    returned = EventTransition.objects.filter(
        action="return", from_state="dispatched", event__in=events.values("pk")
    )
    if since:
        returned = returned.filter(at__gte=since)
    if until:
        returned = returned.filter(at__lt=until)
    handed_back = dict(returned.values_list("department_id").annotate(n=Count("pk")))
    waiting = {
        r["department_id"]: r
        for r in events.filter(state="dispatched")
        .order_by()
        .values("department_id")
        .annotate(open=Count("pk"), overdue=Count("pk", filter=Q(due_at__lte=now)))
    }
    ids = {i for i in (*done, *handed_back, *waiting) if i is not None}
    found = Department.objects.filter(pk__in=ids).values_list("pk", "name", "region_code")
    names = {pk: name for pk, name, _ in found}
    codes = {pk: code for pk, _, code in found}
    rows = []
    for pk in ids:
        d, w = done.get(pk, {}), waiting.get(pk, {})
        completed, on_time = d.get("completed", 0), d.get("on_time", 0)
        rows.append({
            "key": pk, "name": names.get(pk, ""), "region_code": codes.get(pk, ""),
            "completed": completed, "on_time": on_time, "on_time_rate": _rate(on_time, completed),
            "mean_hours": _round(d.get("mean_hours")), "median_hours": _round(d.get("median_hours")),
            "returned": handed_back.get(pk, 0), "open": w.get("open", 0), "overdue": w.get("overdue", 0),
        })  # fmt: skip
    return rows


def _area_rows(events: QuerySet[Event], width: int, since, until, now) -> list[dict]:
    steps = EventTransition.objects.filter(action__in=STEP_ENDING, event__in=events.values("pk"))
    closed = events.filter(state="closed")
    if since:
        steps, closed = steps.filter(at__gte=since), closed.filter(closed_at__gte=since)
    if until:
        steps, closed = steps.filter(at__lt=until), closed.filter(closed_at__lt=until)
    done = {
        r["rq_key"]: r
        for r in steps.annotate(rq_key=region_key(Event, width, prefix="event__"))
        .values("rq_key")
        .annotate(
            completed=Count("pk"),
            on_time=Count("pk", filter=Q(step_due_at__isnull=True) | Q(at__lte=F("step_due_at"))),
        )
    }
    finished = {
        r["rq_key"]: r
        for r in closed.order_by()
        .annotate(rq_key=region_key(Event, width))
        .values("rq_key")
        .annotate(
            closed=Count("pk"),
            mean_hours=Avg(_hours("closed_at", "reported_at")),
            median_hours=Median(_hours("closed_at", "reported_at")),
        )
    }
    waiting = {
        r["rq_key"]: r
        for r in events.filter(state__in=flow.OPEN_STATES)
        .order_by()
        .annotate(rq_key=region_key(Event, width))
        .values("rq_key")
        .annotate(open=Count("pk"), overdue=Count("pk", filter=Q(due_at__lte=now)))
    }
    keys = set(done) | set(finished) | set(waiting)
    names = area_names(keys, width)
    rows = []
    for key in keys:
        d, f, w = done.get(key, {}), finished.get(key, {}), waiting.get(key, {})
        completed, on_time = d.get("completed", 0), d.get("on_time", 0)
        code = key.ljust(12, "0") if key and width < 15 else key
        rows.append({
            "key": code, "name": names.get(key, ""), "completed": completed, "on_time": on_time,
            "on_time_rate": _rate(on_time, completed), "closed": f.get("closed", 0),
            "mean_hours": _round(f.get("mean_hours")), "median_hours": _round(f.get("median_hours")),
            "open": w.get("open", 0), "overdue": w.get("overdue", 0),
        })  # fmt: skip
    return rows


def performance(
    events: QuerySet[Event],
    *,
    by: str,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    sort: str = "-on_time_rate",
    top: int | None = None,
    now: dt.datetime | None = None,
) -> list[dict]:
    """Rows of handling figures of the (scoped, filtered) ``events`` grouped ``by`` a key of
    :data:`GROUPS`, steps ended in ``[since, until)``, sorted by ``sort`` (a key of
    :data:`SORT_KEYS`, ``-`` for descending; empty values last), the first ``top``."""
    if by not in GROUPS:
        raise InvalidInput(f"by 应为 {'、'.join(GROUPS)} 之一，实际为“{by}”", details={"by": by})
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in SORT_KEYS or (key == "returned" and by != "department"):
        allowed = [k for k in SORT_KEYS if by == "department" or k != "returned"]
        raise InvalidInput(
            f"sort 应为 {'、'.join(allowed)}（前加 - 为降序），实际为“{sort}”", details={"sort": sort}
        )
    now = now or timezone.now()
    events = events.order_by()
    if by == "department":
        rows = _department_rows(events, since, until, now)
    else:
        rows = _area_rows(events, GROUPS[by], since, until, now)
    sign = -1 if descending else 1
    # ties: more completed first, then by key, so the ranking is the same on every call
    present = sorted(
        (r for r in rows if r[key] is not None), key=lambda r: (sign * r[key], -r["completed"], str(r["key"]))
    )
    missing = sorted((r for r in rows if r[key] is None), key=lambda r: str(r["key"]))
    rows = present + missing
    return rows[:top] if top else rows
