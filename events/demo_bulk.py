"""Demo events at scale (1,000,000 by default; 10,000,000 for the benchmark's large case).

Where :mod:`events.demo` writes ~200 events one by one through the services, this
draws the events as numpy columns and writes them with
:func:`events.services.bulk.events_bulk_create` — the same grid and region chain per
point, the same deadlines, the same transitions, tens of thousands a second.

Realistic enough for heatmaps, range queries and statistics to mean something:

* places: clumped — 45 % around hot spots (markets, schools, hospitals, stations of
  the demo gazetteer, a few hundred of them, some far busier than others: Zipf
  weights), 35 % along roads (weighted by length, a few metres off the centre
  line), 20 % spread over the unit grids by population;
* categories: a few common ones (garbage, stalls, small ads …) and a long tail;
  sources: field staff 55 %, hotline 25 %, web 15 %, other systems 5 %;
* times: reported over the last 12 months, more on weekdays and in daytime, with a
  seasonal swing; finished events (closed, invalid, merged — about 80 %) go
  through their steps forward from the report, each step taking a share of its
  limit (one in five late); open events are placed backwards from now, seven in
  ten still green, so the command center shows the usual mix of green, yellow and
  red; a step that would end after now is not taken (the event is still open);
* merged events are duplicates of an earlier open event of the same category, a
  few metres from it, reported within a week of it.

Deterministic for a seed (and the same ``now``): the rows of batch ``b`` come from
``numpy.random.default_rng([seed, b])``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time

import numpy as np
import shapely
from django.db import connection
from django.utils import timezone

from gis_core.selectors.locate import locate_grid_codes
from grids.models import UnitGrid

from . import flow
from .demo import DESCRIPTIONS, SOURCES, _setup
from .models import Event, EventCategory
from .selectors.calendar import work_calendar
from .services.bulk import MAX_PATH, NULL, STATES, BulkEvents, events_bulk_create, events_load_mode
from .services.clock import step_limit
from .worktime import US, WorkTable, limit_us, to_us

__all__ = ["STATE_WEIGHTS", "demo_events_bulk", "demo_events_count"]

log = logging.getLogger(__name__)

#: share of each final state (finished ones dominate a year of history)
STATE_WEIGHTS = {
    "closed": 68, "invalid": 6, "merged": 4, "reported": 3, "verified": 2, "registered": 2,
    "dispatched": 9, "handled": 3, "checked": 1, "suspended": 2,
}  # fmt: skip
HOT_SPOT_CATEGORIES = ("市场", "学校", "医院", "商场", "公园", "加油站")
MONTHS = 12
LOAD_MODE_MIN = 500_000  # below this, rebuilding the indexes costs more than keeping them
DAY_US = 86_400 * US


def _geo(rng, lon: np.ndarray, lat: np.ndarray, sigma_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points scattered around (lon, lat) with a normal spread of ``sigma_m`` metres."""
    dx, dy = rng.normal(0, 1, len(lon)) * sigma_m, rng.normal(0, 1, len(lon)) * sigma_m
    return lon + dx / (111_320.0 * np.cos(np.radians(lat))), lat + dy / 110_574.0


class _City:
    """What the places are drawn from: grids (bbox, population), hot spots and roads."""

    def __init__(self, city_code: str) -> None:
        from geocoding.models import Poi, Street  # the demo gazetteer: read only, for hot spots and roads

        prefix = city_code[:4]
        grids = list(UnitGrid.objects.filter(code__startswith=prefix).values_list("geom", "population"))
        if not grids:
            raise ValueError(f"no unit grids in city {city_code}: build the demo city first")
        shapes = shapely.from_wkb([bytes(g.wkb) for g, _ in grids])
        self.grid_bounds = shapely.bounds(shapes)
        weights = np.array([max(p, 1) for _, p in grids], dtype=float)
        self.grid_p = weights / weights.sum()
        spots = list(
            Poi.objects.filter(district_code__startswith=prefix, category__in=HOT_SPOT_CATEGORIES)
            .order_by("pk")
            .values_list("geom", flat=True)
        )
        if not spots:  # a city without a gazetteer: grid centres
            spots = [g.point_on_surface for g, _ in grids[:: max(len(grids) // 300, 1)]]
        self.spots = np.array([(p.x, p.y) for p in spots])
        roads = list(Street.objects.filter(district_code__startswith=prefix).values_list("geom", "length_m"))
        self.roads = shapely.from_wkb([bytes(g.wkb) for g, _ in roads]) if roads else None
        lengths = np.array([m for _, m in roads], dtype=float)
        self.road_p = lengths / lengths.sum() if roads else None

    def spot_weights(self, rng) -> np.ndarray:
        w = 1.0 / np.arange(1, len(self.spots) + 1) ** 0.8
        rng.shuffle(w)
        return w / w.sum()

    def background(self, rng, n: int) -> tuple[np.ndarray, np.ndarray]:
        b = self.grid_bounds[rng.choice(len(self.grid_bounds), n, p=self.grid_p)]
        return rng.uniform(b[:, 0], b[:, 2]), rng.uniform(b[:, 1], b[:, 3])

    def points(self, rng, n: int, spot_p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        road_share = 0.35 if self.roads is not None else 0.0
        kind = rng.choice(3, n, p=[0.45, road_share, 0.55 - road_share])
        lon, lat = np.empty(n), np.empty(n)
        spot = kind == 0
        k = int(spot.sum())
        centre = self.spots[rng.choice(len(self.spots), k, p=spot_p)]
        lon[spot], lat[spot] = _geo(rng, centre[:, 0], centre[:, 1], rng.choice([60.0, 150.0, 400.0], k))
        road = kind == 1
        if road.any():
            k = int(road.sum())
            pts = shapely.line_interpolate_point(
                self.roads[rng.choice(len(self.roads), k, p=self.road_p)],
                rng.uniform(0, 1, k),
                normalized=True,
            )
            xy = shapely.get_coordinates(pts)
            lon[road], lat[road] = _geo(rng, xy[:, 0], xy[:, 1], np.full(k, 12.0))
        rest = kind == 2
        lon[rest], lat[rest] = self.background(rng, int(rest.sum()))
        for _ in range(50):  # redraw what fell outside every grid (rivers, the city's edge)
            outside = np.flatnonzero(locate_grid_codes(lon, lat) == None)  # noqa: E711
            if not len(outside):
                break
            lon[outside], lat[outside] = self.background(rng, len(outside))
        return lon, lat


def _reported_days(rng, n: int, now_us: int) -> np.ndarray:
    """Report moments over the last 12 months: weekdays busier than weekends, a seasonal
    swing (more in summer), two daytime peaks (10:00 and 15:30 Beijing time)."""
    span = MONTHS * 30.4 * DAY_US
    out = np.empty(0, dtype=np.int64)
    while len(out) < n:
        t = now_us - rng.uniform(0, span, 2 * n).astype(np.int64)
        day = (t + 8 * 3600 * US) // DAY_US  # local days since 1970-01-01 (a Thursday)
        weekday = (day + 3) % 7
        season = 1 + 0.25 * np.sin(2 * np.pi * (day % 365.25) / 365.25 - np.pi / 2)
        keep = rng.uniform(0, 1.25, len(t)) < season * np.where(weekday >= 5, 0.7, 1.0)
        out = np.concatenate([out, day[keep]])
    day = out[:n]
    hour = np.where(rng.uniform(0, 1, n) < 0.55, rng.normal(10, 1.8, n), rng.normal(15.5, 2.2, n))
    local = day * DAY_US + (np.clip(hour, 0, 23.99) * 3600 * US).astype(np.int64)
    return np.minimum(local - 8 * 3600 * US, now_us - 60 * US)


def _shares(rng, n: int, *, current: bool) -> np.ndarray:
    """How much of a step's limit it took (as events.demo): mostly in time, sometimes late."""
    roll = rng.uniform(0, 1, n)
    if current:
        return np.where(
            roll < 0.7,
            rng.uniform(0, 0.8, n),
            np.where(roll < 0.85, rng.uniform(0.8, 1.0, n), rng.uniform(1.0, 2.5, n)),
        )
    return np.where(roll < 0.8, rng.uniform(0.1, 0.9, n), rng.uniform(1.0, 2.0, n))


class _Steps:
    """Limits of each (category, state) and working-time arithmetic, forwards and backwards."""

    def __init__(self, categories: list[EventCategory], now_us: int) -> None:
        calendar = work_calendar()
        self.total = np.zeros((len(categories), len(STATES)), dtype=np.int64)
        self.working = np.zeros((len(categories), len(STATES)), dtype=bool)
        for ci, category in enumerate(categories):
            for si, state in enumerate(STATES):
                if (limit := step_limit(category, state)) is not None:
                    self.total[ci, si], self.working[ci, si] = limit_us(limit, calendar), limit.working
        first = now_us - (MONTHS * 31 + 120) * DAY_US
        self.table = WorkTable.covering(calendar, first, now_us, int(self.total.max()) * 3)

    def duration(self, c: np.ndarray, s: np.ndarray, share: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(amount in µs, working?) of a step; without a limit, 30 minutes to 10 hours of clock time."""
        total = self.total[c, s]
        amount = np.where(total > 0, np.round(total * share), np.round((30 + 600 * share) * 60 * US))
        return amount.astype(np.int64), self.working[c, s] & (total > 0)

    def forward(self, t: np.ndarray, amount: np.ndarray, working: np.ndarray) -> np.ndarray:
        return self.table.advance(t, amount, working)

    def backward(self, t: np.ndarray, amount: np.ndarray, working: np.ndarray) -> np.ndarray:
        out = t - amount
        if working.any():
            w = self.table.worked(t[working]) - amount[working]
            out[working] = self.table.moment(np.maximum(w, 0))
        return out


def _paths() -> tuple[np.ndarray, np.ndarray]:
    """Per state: the length of its path and the states along it (``along[s, k]``: after k actions)."""
    length = np.array([len(flow.PATH_TO[s]) for s in STATES])
    along = np.full((len(STATES), MAX_PATH + 1), -1, dtype=np.int64)
    for si, state in enumerate(STATES):
        passed = flow.states_along(flow.PATH_TO[state])
        along[si, : len(passed)] = [STATES.index(p) for p in passed]
    return length, along


def _batch(
    rng, n: int, *, city: _City, spot_p, cats, cat_p, steps: _Steps, now_us: int, states: dict[str, float]
) -> BulkEvents:
    names = [s for s in states]
    weights = np.array([states[s] for s in names], dtype=float)
    state = np.array([STATES.index(s) for s in names])[rng.choice(len(names), n, p=weights / weights.sum())]
    cat = rng.choice(len(cats), n, p=cat_p)
    length, along = _paths()
    path_len = length[state]
    times = np.full((n, MAX_PATH + 1), NULL, dtype=np.int64)
    finished = np.isin(state, [STATES.index(s) for s in flow.TERMINAL_STATES])

    # finished: forwards from a report time over the last year
    rows = np.flatnonzero(finished)
    times[rows, 0] = _reported_days(rng, len(rows), now_us)
    for k in range(1, MAX_PATH + 1):
        go = rows[path_len[rows] >= k]
        if not len(go):
            continue
        amount, working = steps.duration(
            cat[go], along[state[go], k - 1], _shares(rng, len(go), current=False)
        )
        times[go, k] = steps.forward(times[go, k - 1], amount, working)

    # open: backwards from now, the current step a share of its limit
    rows = np.flatnonzero(~finished)
    last = path_len[rows]
    current = along[state[rows], last]
    amount, working = steps.duration(cat[rows], current, _shares(rng, len(rows), current=True))
    suspended = state[rows] == STATES.index("suspended")
    amount[suspended] = rng.uniform(1, 240, int(suspended.sum())) * 3600 * US
    working[suspended] = False
    times[rows, last] = steps.backward(np.full(len(rows), now_us - 60 * US), amount, working)
    for k in range(MAX_PATH, 0, -1):
        go = rows[last >= k]
        if not len(go):
            continue
        amount, working = steps.duration(
            cat[go], along[state[go], k - 1], _shares(rng, len(go), current=False)
        )
        times[go, k - 1] = steps.backward(times[go, k], amount, working)

    # a step that would end after now has not been taken: the event waits in the step before
    taken = (times[:, 1:] <= now_us - 60 * US) & (np.arange(1, MAX_PATH + 1)[None, :] <= path_len[:, None])
    done = np.cumprod(taken, axis=1).sum(axis=1)
    truncated = done < path_len
    state = np.where(truncated, along[state, done], state)
    path_len = np.where(truncated, done, path_len)

    # merges: the duplicate of an earlier event of the same category still open a week later
    order = np.argsort(times[:, 0], kind="stable")
    state, cat, times, path_len = state[order], cat[order], times[order], path_len[order]
    duplicate_of = np.full(n, -1, dtype=np.int64)
    merged = np.flatnonzero(state == STATES.index("merged"))
    eligible = ~np.isin(state, [STATES.index("merged"), STATES.index("invalid")])
    for c in np.unique(cat[merged]).tolist():
        pool = np.flatnonzero(eligible & (cat == c))
        mine = merged[cat[merged] == c]
        hi = np.searchsorted(pool, mine)  # rows are in report order: earlier rows come first
        lo = np.searchsorted(times[pool, 0], times[mine, 0] - 7 * DAY_US)
        ok = hi > lo
        pick = lo + (rng.uniform(0, 1, len(mine)) * np.maximum(hi - lo, 1)).astype(np.int64)
        duplicate_of[mine[ok]] = pool[np.minimum(pick[ok], len(pool) - 1)]
        # no original to merge into: the report was found invalid instead, a few hours later
        lone = mine[~ok]
        state[lone] = STATES.index("invalid")
        path_len[lone] = 2
        times[lone, 1] = times[lone, 0] + (rng.uniform(0.5, 4, len(lone)) * 3600 * US).astype(np.int64)
        times[lone, 2] = times[lone, 1] + (rng.uniform(0.5, 4, len(lone)) * 3600 * US).astype(np.int64)
        late = times[lone, 2] > now_us - 60 * US
        state[lone[late]], path_len[lone[late]] = STATES.index("reported"), 0
    times[np.arange(MAX_PATH + 1)[None, :] > path_len[:, None]] = NULL

    lon, lat = city.points(rng, n, spot_p)
    dup = duplicate_of >= 0
    if dup.any():  # a few metres from the original, inside a grid
        near_lon, near_lat = _geo(
            rng, lon[duplicate_of[dup]], lat[duplicate_of[dup]], np.full(int(dup.sum()), 12.0)
        )
        inside = locate_grid_codes(near_lon, near_lat) != None  # noqa: E711
        lon[dup] = np.where(inside, near_lon, lon[duplicate_of[dup]])
        lat[dup] = np.where(inside, near_lat, lat[duplicate_of[dup]])

    phrases = np.array([f"{c.name}，{p}" for c in cats for p in DESCRIPTIONS], dtype=object)
    description = phrases[cat * len(DESCRIPTIONS) + rng.integers(0, len(DESCRIPTIONS), n)]
    source_names = list(SOURCES)
    source_p = np.array(list(SOURCES.values()), dtype=float)
    return BulkEvents(
        lon=lon,
        lat=lat,
        category=np.array([c.code for c in cats], dtype=object)[cat],
        state=np.array(STATES, dtype=object)[state],
        reported_at=times[:, 0].astype("datetime64[us]"),
        action_at=np.where(times[:, 1:] == NULL, np.datetime64("NaT"), times[:, 1:].astype("datetime64[us]")),
        source=np.array(source_names, dtype=object)[
            rng.choice(len(source_names), n, p=source_p / source_p.sum())
        ],
        description=description,
        duplicate_of=duplicate_of,
    )


def demo_events_bulk(
    count: int = 1_000_000,
    *,
    seed: int = 1,
    city_code: str = "510500000000",
    batch: int = 500_000,
    workers: int = 2,
    now: dt.datetime | None = None,
    progress=None,
    load_mode: bool | None = None,
    states: dict[str, float] | None = None,
) -> dict:
    """Add ``count`` generated events to the city ``city_code`` (added to those on record: nothing
    is deleted), ``batch`` rows per call of the writer, on ``workers`` connections; returns
    ``{"events", "transitions", "seconds", "events_per_s", "rebuild_seconds"}`` (seconds: in
    the writer — checks, point location, deadlines, COPY — and rebuilding indexes, not
    drawing the rows). ``progress(done, total)`` is called after each batch.

    ``load_mode`` (default: ``count`` ≥ the events on record and ≥ ``LOAD_MODE_MIN``) writes under
    :func:`events.services.bulk.events_load_mode`: secondary indexes rebuilt once
    at the end. Each batch is written along a Hilbert curve in ``workers`` chunks, so a
    neighbourhood's events lie in one run of pages per batch: larger batches, fewer runs.

    ``states`` (state → weight) replaces :data:`STATE_WEIGHTS`: ``{"reported": 1}`` makes
    only fresh reports (one transition each), as another system's bulk upload would."""
    now = now or timezone.now()
    now_us = to_us(now)
    _setup(city_code)
    cats = list(EventCategory.objects.filter(parent__isnull=False, active=True).order_by("code"))
    if not cats:
        raise ValueError("no event categories")
    city = _City(city_code)
    steps = _Steps(cats, now_us)
    weight_rng = np.random.default_rng([seed, 0])
    cat_w = 1.0 / np.arange(1, len(cats) + 1) ** 1.1  # a few common categories, a long tail
    weight_rng.shuffle(cat_w)
    cat_p = cat_w / cat_w.sum()
    spot_p = city.spot_weights(weight_rng)
    if load_mode is None:  # never inside a caller's transaction: the rebuild would be rolled back with it
        load_mode = not connection.in_atomic_block and count >= max(
            LOAD_MODE_MIN, demo_events_count(city_code)
        )
    written = transitions = 0
    seconds = 0.0
    with events_load_mode() if load_mode else contextlib.nullcontext():
        for b, lo in enumerate(range(0, count, batch), start=1):
            rng = np.random.default_rng([seed, b])
            rows = _batch(rng, min(batch, count - lo), city=city, spot_p=spot_p, cats=cats, cat_p=cat_p,
                          steps=steps, now_us=now_us, states=states or STATE_WEIGHTS)  # fmt: skip
            result = events_bulk_create(
                rows, actor="system:demo", note="演示数据", workers=workers, now=now,
                chunk_size=-(-len(rows) // workers),
            )  # fmt: skip
            written += result.created
            transitions += result.transitions
            seconds += result.seconds
            if progress:
                progress(written, count)
        rebuild = time.perf_counter()
    rebuild = time.perf_counter() - rebuild
    seconds += rebuild
    rate = written / seconds if seconds else 0.0
    log.info("bulk demo events: %d events, %d transitions, %.0f events/s", written, transitions, rate)
    return {
        "events": written,
        "transitions": transitions,
        "seconds": seconds,
        "events_per_s": rate,
        "rebuild_seconds": rebuild,
    }


def demo_events_count(city_code: str = "510500000000") -> int:
    """Events on record in the city (an estimate is not enough: the bench decides by it)."""
    return Event.objects.filter(district_code__startswith=city_code[:4]).count()
