"""Demo events for the demo city: departments, the classification, the working calendar
and ~200 events in every state of the lifecycle, written through the services.

Deterministic for a seed: which grids, points, categories, sources, target states and
step delays are drawn from ``random.Random(seed)``; the times are placed relative to
``now`` (the last 20 days), so the demo shows green, yellow and red events on any day.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import random
import uuid

import shapely
from django.db import transaction
from django.utils import timezone
from shapely.geometry import Point as ShapelyPoint

from accounts.permissions import SCOPES, Principal
from accounts.scoping import Jurisdiction
from gis_core.models import Region, RegionLevel
from grids.models import UnitGrid

from . import flow
from .models import Event, EventCategory, EventSource
from .selectors.calendar import work_calendar
from .services.calendar import calendar_load
from .services.categories import categories_load
from .services.clock import step_limit
from .services.departments import departments_ensure
from .services.escalation import events_escalate
from .services.lifecycle import event_merge, event_transition
from .services.reporting import ReportInput, event_report

__all__ = ["CITY_DEPARTMENTS", "DISTRICT_DEPARTMENTS", "demo_events_create"]

log = logging.getLogger(__name__)

DISTRICT_DEPARTMENTS = [
    "城市管理局", "住房和城乡建设局", "交通运输局", "生态环境局", "市场监督管理局",
    "公安分局", "水务局", "应急管理局", "民政局",
]  # fmt: skip
CITY_DEPARTMENTS = ["供电公司", "燃气公司", "通信管理办公室", "邮政管理局", "消防救援大队"]

WEIGHTS = {
    "reported": 8, "verified": 6, "registered": 6, "dispatched": 20, "handled": 8, "checked": 4,
    "closed": 36, "suspended": 3, "invalid": 5, "merged": 4,
}  # fmt: skip
SOURCES = {EventSource.FIELD: 55, EventSource.HOTLINE: 25, EventSource.WEB: 15, EventSource.SYSTEM: 5}
DESCRIPTIONS = ["现场发现", "市民反映", "巡查发现", "热线来电反映", "多次出现", "影响通行", "已拍照取证"]
SYSTEM = Principal("system:demo", frozenset(SCOPES), Jurisdiction(nationwide=True))


def _point_in(geom, rng: random.Random) -> tuple[float, float]:
    shape = shapely.from_wkb(bytes(geom.wkb))
    x0, y0, x1, y1 = shape.bounds
    for _ in range(100):
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        if shape.contains(ShapelyPoint(x, y)):
            return x, y
    p = shape.representative_point()
    return p.x, p.y


def _near(lon: float, lat: float, rng: random.Random, metres: float) -> tuple[float, float]:
    angle = rng.uniform(0, 2 * math.pi)
    dx = metres * math.cos(angle) / (111_320.0 * math.cos(math.radians(lat)))
    dy = metres * math.sin(angle) / 110_574.0
    return lon + dx, lat + dy


def _setup(city_code: str) -> None:
    if not EventCategory.objects.filter(parent__isnull=False).exists():
        categories_load()
    calendar_load()
    departments_ensure(region_code=city_code, names=CITY_DEPARTMENTS)
    for code in Region.objects.filter(code__startswith=city_code[:4], level=RegionLevel.DISTRICT).values_list(
        "code", flat=True
    ):
        departments_ensure(region_code=code, names=DISTRICT_DEPARTMENTS)


def _share(rng: random.Random, *, current: bool) -> float:
    """How much of a step's limit it took: mostly in time, sometimes late. The step an open
    event waits in now is green seven times in ten."""
    roll = rng.random()
    if current:
        return (
            rng.uniform(0, 0.8)
            if roll < 0.7
            else rng.uniform(0.8, 1.0)
            if roll < 0.85
            else rng.uniform(1, 2.5)
        )
    return rng.uniform(0.1, 0.9) if roll < 0.8 else rng.uniform(1.0, 2.0)


def _started(category: EventCategory, state: str, end: dt.datetime, share: float, calendar) -> dt.datetime:
    """When a step in ``state`` began, if it took ``share`` of its limit and ended at ``end``
    (the latest such moment: working time has no inverse outside working hours)."""
    limit = step_limit(category, state)
    if limit is None:
        return end - dt.timedelta(minutes=30 + 600 * share)
    seconds = share * limit.seconds(calendar)
    lo, hi = end - dt.timedelta(days=60), end
    while hi - lo > dt.timedelta(seconds=30):
        mid = lo + (hi - lo) / 2
        if limit.advance(calendar, mid, seconds) <= end:
            lo = mid
        else:
            hi = mid
    return lo


def _timeline(category, target, now, rng, calendar) -> list[dt.datetime]:
    """Times of the report and of each action on the way to ``target``, placed backwards from now."""
    states = flow.states_along(flow.PATH_TO[target])
    if step_limit(category, states[-1]) is not None:
        last = _started(category, states[-1], now, _share(rng, current=True), calendar)
    else:  # finished or suspended
        last = now - dt.timedelta(hours=rng.uniform(1, 10 * 24))
    times = [last]
    for state in reversed(states[:-1]):
        times.append(_started(category, state, times[-1], _share(rng, current=False), calendar))
    return times[::-1]


@transaction.atomic
def demo_events_create(
    seed: int = 1, *, city_code: str = "510500000000", count: int = 200, now: dt.datetime | None = None
) -> int:
    """Replace the events of the city ``city_code`` (12 digits) with ``count`` new ones;
    returns how many were written."""
    now = now or timezone.now()
    rng = random.Random(seed)
    Event.objects.filter(district_code__startswith=city_code[:4]).delete()
    _setup(city_code)
    calendar = work_calendar()
    minors = list(EventCategory.objects.filter(parent__isnull=False, active=True).order_by("code"))
    grids = list(
        UnitGrid.objects.filter(code__startswith=city_code[:4])
        .order_by("code")
        .values_list("geom", flat=True)
    )
    if not grids or not minors:
        return 0
    states, weights = list(WEIGHTS), list(WEIGHTS.values())
    opened: list[Event] = []
    written = 0
    for _ in range(count):
        target = rng.choices(states, weights)[0]
        source = rng.choices(list(SOURCES), list(SOURCES.values()))[0]
        client_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        original = rng.choice(opened) if target == "merged" and opened else None
        if target == "merged" and original is None:
            target = "reported"  # nothing open yet to be a duplicate of
        if original is not None:
            category = original.category
            lon, lat = _near(original.geom.x, original.geom.y, rng, rng.uniform(5, 30))
            reported_at = original.reported_at + (now - original.reported_at) * rng.uniform(0.1, 0.9)
            times = [reported_at, reported_at + (now - reported_at) * rng.uniform(0.1, 0.9)]
        else:
            category = rng.choice(minors)
            lon, lat = _point_in(rng.choice(grids), rng)
            times = _timeline(category, target, now, rng, calendar)
        if times[0] < now - dt.timedelta(days=25):
            continue
        data = ReportInput(
            category=category.code, description=f"{category.name}，{rng.choice(DESCRIPTIONS)}",
            point=(lon, lat), source=source, client_id=client_id, reported_at=times[0],
        )  # fmt: skip
        event = event_report(principal=SYSTEM, data=data, now=now).event
        written += 1
        if original is not None:
            event_merge(
                principal=SYSTEM,
                event_id=event.pk,
                original_id=original.pk,
                note="同一问题重复上报",
                at=times[1],
            )
            continue
        for action, at in zip(flow.PATH_TO[target], times[1:], strict=True):
            event = event_transition(
                principal=SYSTEM, event_id=event.pk, action=action, note="演示数据", at=at
            )
        if event.is_open:
            opened.append(event)
    escalation = events_escalate(now=now)
    log.info(
        "demo events: %d written, %d overdue, %d escalated", written, escalation.overdue, escalation.escalated
    )
    return written
