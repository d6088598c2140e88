"""The bulk writer (events/services/bulk.py) and the generator at scale (events/demo_bulk.py):
the same grid and region chain as a single report, deadlines and transitions as the
lifecycle services record them, and bad input refused before anything is written."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest
from django.db.models import Count, F
from django.utils import timezone

from events import flow
from events.demo_bulk import demo_events_bulk
from events.models import Event, EventCategory, EventTransition
from events.selectors.calendar import work_calendar
from events.services.bulk import BulkEvents, events_bulk_create
from events.services.clock import clock_start, clock_stop, step_limit
from events.services.reporting import ReportInput, event_report
from events.workdays import step_clock
from gis_core.errors import InvalidInput
from gis_core.selectors.locate import locate_point
from grids.models import UnitGrid

from .conftest import principal

NOW = dt.datetime(2026, 10, 12, 18, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@pytest.fixture
def points(db) -> tuple[np.ndarray, np.ndarray]:
    """3,000 points inside the small demo city's grids: random ones, and grid corners (shared
    vertices, where the tie rule decides)."""
    rng = np.random.default_rng(3)
    grids = list(UnitGrid.objects.filter(code__startswith="5105").order_by("code"))
    lon, lat = [], []
    for grid in grids:
        x0, y0, x1, y1 = grid.geom.extent
        lon.append(grid.geom.coords[0][0][0][0])
        lat.append(grid.geom.coords[0][0][0][1])
        for _ in range(3000 // len(grids) + 1):
            lon.append(rng.uniform(x0, x1))
            lat.append(rng.uniform(y0, y1))
    lon, lat = np.array(lon[:3000]), np.array(lat[:3000])
    inside = np.array([locate_point(x, y).inside for x, y in zip(lon, lat, strict=True)])
    return lon[inside], lat[inside]


def _times(states: list[str], rng, *, start: dt.datetime) -> tuple[np.ndarray, np.ndarray]:
    """Report times over the past weeks and 1–30 hours between steps (ending before NOW)."""
    n = len(states)
    reported = np.array([start + dt.timedelta(hours=float(h)) for h in rng.uniform(0, 400, n)])
    action_at = np.full((n, 6), np.datetime64("NaT"), dtype="datetime64[us]")
    for i, state in enumerate(states):
        t = reported[i]
        for k in range(len(flow.PATH_TO[state])):
            t = t + dt.timedelta(hours=float(rng.uniform(1, 30)))
            action_at[i, k] = np.datetime64(t.astimezone(dt.UTC).replace(tzinfo=None), "us")
    return reported, action_at


def _rows(lon, lat, states, *, seed: int = 1, category: str = "E0102", duplicate_of=None) -> BulkEvents:
    rng = np.random.default_rng(seed)
    reported, action_at = _times(states, rng, start=NOW - dt.timedelta(days=30))
    return BulkEvents(
        lon=lon,
        lat=lat,
        category=np.full(len(lon), category, dtype=object),
        state=np.array(states, dtype=object),
        reported_at=reported,
        action_at=action_at,
        source=np.array(["field", "hotline", "web", "system"], dtype=object)[np.arange(len(lon)) % 4],
        duplicate_of=duplicate_of,
    )


def test_grid_and_region_chain_equal_the_single_report(seed_categories, points):
    lon, lat = points
    states = ["reported"] * len(lon)
    result = events_bulk_create(_rows(lon, lat, states), now=NOW)

    assert result.created == len(lon) > 2000 and result.transitions == len(lon)
    stored = {
        e.pk: e
        for e in Event.objects.filter(pk__in=result.ids.tolist()).only(
            "geom", "grid_code", "region_code", "street_code", "district_code"
        )
    }
    for pk, x, y in zip(result.ids.tolist(), lon.tolist(), lat.tolist(), strict=True):
        event = stored[pk]
        location = locate_point(x, y)  # what event_report stores, level by level
        levels = {r["level"]: r["code"] for r in location.regions}
        assert (event.geom.x, event.geom.y) == (x, y)
        assert (event.grid_code, event.region_code, event.street_code, event.district_code) == (
            location.grid["code"], levels[5], levels[4], levels[3],
        ), (x, y)  # fmt: skip
    # and through the service itself, for a sample
    root = principal(None, region=None)
    for i in range(0, len(lon), len(lon) // 12):
        single = event_report(
            principal=root,
            data=ReportInput(category="E0102", description="对照", point=(lon[i], lat[i])),
            now=NOW,
        ).event
        bulk = stored[int(result.ids[i])]
        assert (bulk.grid_code, bulk.region_code, bulk.street_code, bulk.district_code) == (
            single.grid_code, single.region_code, single.street_code, single.district_code,
        )  # fmt: skip


def test_deadlines_and_transitions_as_the_lifecycle_records_them(seed_categories, points, departments):
    lon, lat = points[0][:400], points[1][:400]
    names = [s for s in flow.STATES if s != "merged"]
    states = [names[i % len(names)] for i in range(len(lon))]
    result = events_bulk_create(_rows(lon, lat, states, seed=7, category="C0201"), now=NOW)
    calendar = work_calendar()

    events = Event.objects.filter(pk__in=result.ids.tolist()).select_related("category", "category__parent")
    history: dict[int, list[EventTransition]] = {}
    for t in EventTransition.objects.filter(event__in=events).order_by("event", "at", "id"):
        history.setdefault(t.event_id, []).append(t)
    assert sum(len(h) for h in history.values()) == result.transitions
    seen = set()
    for event in events:
        seen.add(event.state)
        steps = history[event.pk]
        path = flow.PATH_TO[event.state]
        assert [t.action for t in steps] == ["report", *path]
        passed = flow.states_along(path)
        assert [(t.from_state, t.to_state) for t in steps] == list(
            zip(["", *passed[:-1]], passed, strict=True)
        )
        assert steps[0].at == event.reported_at
        for before, t in itertools.pairwise(steps):
            # the step this transition ended began at the one before, and was due by its limit
            assert t.step_started_at == before.at
            limit = step_limit(event.category, t.from_state)
            assert t.step_due_at == step_clock(limit, calendar, before.at).due_at
            dispatched = "dispatch" in path and path.index(t.action) >= path.index("dispatch")
            assert t.department_id == (event.department_id if dispatched else None)
        if "dispatch" in path:
            # the category's default department, the most local one containing the event
            assert event.department.name == event.category.parent.department_name
            assert event.department.region_code == event.district_code
        else:
            assert event.department_id is None

        # the event's own clock, as clock_start / clock_stop leave it
        expected = Event(category=event.category, state=event.state)
        if event.state == "suspended":
            expected.state = "dispatched"
            clock_start(expected, at=steps[-2].at, calendar=calendar)
            clock_stop(expected, at=steps[-1].at, calendar=calendar)
            assert (event.resume_state, event.step_started_at) == ("dispatched", steps[-2].at)
            assert event.spent_s == pytest.approx(expected.spent_s, abs=1e-3)
        else:
            clock_start(expected, at=steps[-1].at, calendar=calendar)
            assert event.step_started_at == steps[-1].at
        assert (event.warn_at, event.due_at, event.escalate_at) == (
            expected.warn_at, expected.due_at, expected.escalate_at,
        )  # fmt: skip
        assert event.closed_at == (steps[-1].at if event.state in flow.TERMINAL_STATES else None)
        assert event.kind == "component" and event.escalation_level == 0
    assert seen == set(names)


def test_a_merged_event_points_at_its_original(seed_categories, points):
    lon, lat = points
    day = NOW - dt.timedelta(days=3)
    h = dt.timedelta(hours=1)
    rows = BulkEvents.from_rows(
        [
            {"lon": lon[0], "lat": lat[0], "category": "E0102", "state": "dispatched", "reported_at": day,
             "action_at": [day + h, day + 2 * h, day + 3 * h]},
            {"lon": lon[1], "lat": lat[1], "category": "E0102", "state": "reported", "reported_at": day + h},
            {"lon": lon[0], "lat": lat[0], "category": "E0102", "state": "merged", "reported_at": day + 2 * h,
             "action_at": [day + 4 * h], "duplicate_of": 0, "description": "同一处暴露垃圾"},
        ]
    )  # fmt: skip
    result = events_bulk_create(rows, now=NOW)

    duplicate = Event.objects.get(pk=result.ids[2])
    assert (duplicate.state, duplicate.duplicate_of_id) == ("merged", result.ids[0])
    assert duplicate.description == "同一处暴露垃圾"
    merge = EventTransition.objects.get(event=duplicate, action="merge")
    assert merge.note.startswith(f"合并到事件 {result.ids[0]}：")
    assert (merge.at, merge.from_state, merge.step_started_at) == (day + 4 * h, "reported", day + 2 * h)
    assert duplicate.closed_at == merge.at and duplicate.due_at is None
    # a merge into itself (not an earlier row), or into another category, is refused
    itself = BulkEvents(**{**rows.__dict__, "duplicate_of": np.array([-1, -1, 2])})
    other = BulkEvents(**{**rows.__dict__, "category": np.array(["E0102", "E0102", "E0104"], dtype=object)})
    for bad in (itself, other):
        with pytest.raises(InvalidInput, match="原事件"):
            events_bulk_create(bad, now=NOW)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"category": "X9999"}, "unknown_category"),
        ({"category": "E01"}, "unknown_category"),  # a major class is not a category of an event
        ({"state": "lost"}, "invalid"),
        ({"source": "fax"}, "invalid"),
        ({"lon": 0.0}, "outside_service_area"),
        ({"lon": float("nan")}, "invalid"),
        ({"late": True}, "invalid"),
        ({"unordered": True}, "invalid"),
        ({"orphan_merge": True}, "invalid"),
    ],
)
def test_bad_input_writes_nothing(seed_categories, points, departments, change, code):
    lon, lat = points[0][:300].copy(), points[1][:300].copy()
    states = ["closed"] * len(lon)
    rows = _rows(lon, lat, states)
    category, state, source = rows.category.copy(), rows.state.copy(), rows.source.copy()
    action_at, duplicate_of = rows.action_at.copy(), None
    last = len(lon) - 1  # the bad row comes last: nothing before it may be written either
    if "category" in change:
        category[last] = change["category"]
    if "state" in change:
        state[last] = change["state"]
    if "source" in change:
        source[last] = change["source"]
    if "lon" in change:
        lon[last] = change["lon"]
    if "late" in change:
        action_at[last, 5] = np.datetime64(
            (NOW + dt.timedelta(days=1)).astimezone(dt.UTC).replace(tzinfo=None)
        )
    if "unordered" in change:
        action_at[last, 3] = action_at[last, 1] - np.timedelta64(1, "h")
    if "orphan_merge" in change:
        state[last] = "merged"
    rows = BulkEvents(
        lon=lon, lat=lat, category=category, state=state, reported_at=rows.reported_at, action_at=action_at,
        source=source, duplicate_of=duplicate_of,
    )  # fmt: skip
    events, transitions = Event.objects.count(), EventTransition.objects.count()

    with pytest.raises(InvalidInput) as info:
        events_bulk_create(rows, now=NOW, chunk_size=100)

    assert info.value.code == code
    assert (Event.objects.count(), EventTransition.objects.count()) == (events, transitions)


def test_the_generator_writes_every_state_and_source_over_a_year(db, seed_categories):
    now = timezone.now()
    newest = Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    summary = demo_events_bulk(3000, seed=2, batch=1500, now=now)

    new = Event.objects.filter(pk__gt=newest)
    assert summary["events"] == 3000 == new.count()
    assert set(new.values_list("state", flat=True)) == set(flow.STATES)
    assert set(new.values_list("source", flat=True)) == {"field", "hotline", "web", "system"}
    minors = EventCategory.objects.filter(parent__isnull=False, active=True).count()
    assert new.values("category").distinct().count() >= minors // 2
    reported = sorted(new.values_list("reported_at", flat=True))
    assert now - dt.timedelta(days=380) < reported[0] < now - dt.timedelta(days=330)
    assert reported[-1] <= now
    # every event has its report and one transition per action of its path
    for state, n in set(new.annotate(n=Count("transitions")).values_list("state", "n")):
        assert n == len(flow.PATH_TO[state]) + 1, state
    merged = new.filter(state="merged")
    assert merged.exists() and not merged.filter(duplicate_of__isnull=True).exists()
    assert not merged.exclude(duplicate_of__category=F("category")).exists()
    ticking = new.filter(state__in=flow.OPEN_STATES - {"suspended"})
    assert ticking.filter(due_at__gt=now).count() > ticking.filter(due_at__lte=now).count()  # mostly in time


def test_chunks_written_side_by_side_share_no_cell_row():
    """The chunks of a load are written on several connections at once, and a cell row one
    chunk's trigger upserted stays locked until that chunk commits: no two chunks may hold
    events of the same cell of any cell table (fine, coarse, wide), or they wait on each other."""
    from types import SimpleNamespace

    from events.models import CELL_M, FINE_CELL_M, WIDE_CELL_M
    from events.services.bulk import _chunks, _spatial_order
    from gis_core.mercator import EARTH_R

    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(105.3, 105.6, 20_000), rng.uniform(28.8, 29.0, 20_000)
    order, cell = _spatial_order(lon, lat)
    plan = SimpleNamespace(n=len(lon), duplicate_of=np.full(len(lon), -1))
    chunks, late = _chunks(plan, order, cell, 2_000)
    assert len(chunks) >= 8 and not len(late)
    assert sorted(np.concatenate(chunks).tolist()) == list(range(len(lon)))
    x = np.radians(lon) * EARTH_R
    y = np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)) * EARTH_R
    for size in (FINE_CELL_M, CELL_M, WIDE_CELL_M):
        keys = [
            set(zip(np.floor(x[c] / size).tolist(), np.floor(y[c] / size).tolist(), strict=True))
            for c in chunks
        ]
        assert sum(len(k) for k in keys) == len(set().union(*keys)), size
