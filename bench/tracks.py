"""Patrol tracks: position ingest rate, playback of a full day at 1 Hz, daily statistics of
every grid of the large city.

* Ingest: ``grids.services.tracks.positions_ingest`` (the path behind POST
  /api/v1/positions) with batches of 5,000 fixes, 500 for each of 10 people (a fix every 5 s,
  walking in their grid, GPS noise), yesterday; rate = fixes stored / wall time, commits
  included. Cleaning, point location, partitions, COPY and the running distance are inside.
* Playback: one person with 86,400 fixes (1 Hz, a whole day); ``track_playback`` (fetch from
  the packed chunks, patrols and stops, Douglas–Peucker for the zoom) at zooms 14, 16 and 18,
  with the fetch and the patrol/stop split timed alone; our simplification (GEOS by index)
  against plain ``shapely.simplify`` on the same line (same vertices).
* Statistics: ``grid_stats`` for every grid of the city for that day (team, online rate,
  patrolled, mileage and time inside, coverage in PostGIS), and ``staff_stats`` for everyone.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import statistics
import time

import numpy as np
import shapely
from django.db import connection
from django.utils import timezone

from accounts.permissions import SCOPES, Principal
from accounts.scoping import Jurisdiction
from gis_core.selectors.locate import locate_points_raw
from grids.models import GridStaff, UnitGrid
from grids.selectors.tracks import (
    grid_stats,
    period_bounds,
    staff_stats,
    track_fetch,
    track_playback,
    trip_rules,
)
from grids.services.staff import StaffInput, staff_create
from grids.services.tracks import positions_ingest
from grids.tracking.geo import local_xy
from grids.tracking.simplify import douglas_peucker, tolerance_for_zoom
from grids.tracking.trips import split_trips

SYSTEM = Principal("system:bench", frozenset(SCOPES), Jurisdiction(nationwide=True))
NATION = Jurisdiction(nationwide=True)
PREFIX = "bench-"


def _people(n: int) -> list[tuple[GridStaff, UnitGrid]]:
    old = list(GridStaff.objects.filter(name__startswith=PREFIX).values_list("pk", flat=True))
    with connection.cursor() as cur:
        cur.execute("DELETE FROM grids_position WHERE staff_id = ANY(%s)", [old])
    GridStaff.objects.filter(pk__in=old).delete()
    step = max(1, UnitGrid.objects.count() // n)
    grids = list(UnitGrid.objects.order_by("code")[::step][:n])
    return [
        (
            staff_create(
                data=StaffInput(name=f"{PREFIX}{i}", role="full_time", grids=[(g.code, "")]),
                jurisdiction=NATION,
            ),
            g,
        )
        for i, g in enumerate(grids)
    ]


def _walk(grid: UnitGrid, n: int, start: float, step_s: float, rng: np.random.Generator) -> tuple:
    c = grid.geom.point_on_surface
    m_lon = 1 / (111_320.0 * math.cos(math.radians(c.y)))
    heading = np.cumsum(rng.normal(0, 0.15, n))
    x = np.cumsum(1.2 * step_s * np.cos(heading)) + rng.normal(0, 3, n)
    y = np.cumsum(1.2 * step_s * np.sin(heading)) + rng.normal(0, 3, n)
    return start + np.arange(n) * step_s, c.x + x * m_lon, c.y + y / 110_852.0


def _ingest_round(people: list, day_start: float, per_person: int, rng: np.random.Generator) -> tuple:
    batches = []
    for k in range(0, len(people), 10):
        items = []
        for person, grid in people[k : k + 10]:
            t, lon, lat = _walk(grid, per_person, day_start + 8 * 3600, 5.0, rng)
            items += [
                {"staff": person.pk, "t": float(a), "lon": float(b), "lat": float(c), "accuracy": 6.0}
                for a, b, c in zip(t, lon, lat, strict=True)
            ]
        batches.append(items)
    stored, times = 0, []
    t0 = time.perf_counter()
    for items in batches:
        t = time.perf_counter()
        stored += positions_ingest(principal=SYSTEM, items=items).accepted
        times.append(time.perf_counter() - t)
    return len(batches), stored, time.perf_counter() - t0, times


def ingest(people: list, day_start: float, per_person: int = 500) -> dict:
    """Rounds of the same load, each 2 hours after the previous one on the same day (fresh
    fixes, in time order as phones send them: nothing is a duplicate or a late batch); the
    median round is reported, the machine being shared. The point-location index is loaded
    first, as it is in a running server."""
    rng = np.random.default_rng(7)
    c = people[0][1].geom.point_on_surface
    locate_points_raw(np.array([c.x]), np.array([c.y]))
    rounds = [
        _ingest_round(people, day_start + k * 7_200, per_person, rng)
        for k in range(int(os.environ.get("BENCH_TRACK_ROUNDS", "3")))
    ]
    rates = [stored / seconds for _, stored, seconds, _ in rounds]
    batches, stored, seconds, times = sorted(rounds, key=lambda r: r[1] / r[2])[len(rounds) // 2]
    result = {
        "batches": batches, "stored": stored, "seconds": seconds, "fixes_per_s": stored / seconds,
        "batch_median_ms": statistics.median(times) * 1000, "rounds_fixes_per_s": rates,
    }  # fmt: skip
    print(
        f"ingest {stored:,} fixes in {batches} batches of 5,000 (median of {len(rounds)} rounds): "
        f"{stored / seconds:,.0f} fixes/s (median batch {result['batch_median_ms']:.0f} ms; "
        f"rounds: {', '.join(f'{r:,.0f}' for r in rates)})"
    )
    return result


def playback(person: GridStaff, grid: UnitGrid, day_start: float, repeats: int = 5) -> dict:
    rng = np.random.default_rng(11)
    t, lon, lat = _walk(grid, 86_400, day_start, 1.0, rng)
    for k in range(0, 86_400, 5000):
        items = [
            {"staff": person.pk, "t": float(a), "lon": float(b), "lat": float(c)}
            for a, b, c in zip(t[k : k + 5000], lon[k : k + 5000], lat[k : k + 5000], strict=True)
        ]
        positions_ingest(
            principal=SYSTEM, items=items, now=dt.datetime.fromtimestamp(day_start + 86_400, dt.UTC)
        )
    start = dt.datetime.fromtimestamp(day_start, dt.UTC)
    end = start + dt.timedelta(days=1)
    x, y = local_xy(lon, lat, float(lon.mean()), float(lat.mean()))
    line = shapely.linestrings(x, y)
    fetch, split = [], []
    for _ in range(repeats):
        a = time.perf_counter()
        rows = track_fetch(person.pk, start, end)
        fetch.append(time.perf_counter() - a)
        a = time.perf_counter()
        split_trips(rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3], trip_rules())
        split.append(time.perf_counter() - a)
    result = {
        "fetch_ms": statistics.median(fetch) * 1000, "split_ms": statistics.median(split) * 1000,
        "fetch_min_ms": min(fetch) * 1000, "split_min_ms": min(split) * 1000,
    }  # fmt: skip
    print(
        f"playback parts (median / fastest): fetch of {len(rows):,} fixes {result['fetch_ms']:.1f} / "
        f"{result['fetch_min_ms']:.1f} ms, "
        f"patrols/stops {result['split_ms']:.1f} / {result['split_min_ms']:.1f} ms"
    )
    for zoom in (14, 16, 18):
        whole, ours, ref = [], [], []
        tol = tolerance_for_zoom(zoom, float(lat.mean()))
        for _ in range(repeats):
            a = time.perf_counter()
            shown = track_playback(staff=person, start=start, end=end, zoom=zoom)
            whole.append(time.perf_counter() - a)
            a = time.perf_counter()
            kept = douglas_peucker(x, y, tol)
            ours.append(time.perf_counter() - a)
            a = time.perf_counter()
            reference = shapely.simplify(line, tol, preserve_topology=False)
            ref.append(time.perf_counter() - a)
        same = np.array_equal(np.column_stack([x[kept], y[kept]]), shapely.get_coordinates(reference))
        result[zoom] = {
            "points": shown.points, "vertices": len(shown.kept), "tolerance_m": tol,
            "playback_ms": statistics.median(whole) * 1000, "playback_min_ms": min(whole) * 1000,
            "simplify_ms": statistics.median(ours) * 1000,
            "shapely_ms": statistics.median(ref) * 1000, "same_vertices_as_shapely": bool(same),
            "patrols": len(shown.trips), "stops": len(shown.stops),
        }  # fmt: skip
        r = result[zoom]
        print(
            f"playback 86,400 fixes at zoom {zoom} (tolerance {tol:.2f} m): {r['playback_ms']:.1f} ms whole "
            f"(fastest of {repeats}: {r['playback_min_ms']:.1f} ms) "
            f"({r['vertices']:,} vertices), simplify {r['simplify_ms']:.1f} ms vs shapely.simplify "
            f"{r['shapely_ms']:.1f} ms, same vertices: {same}"
        )
    return result


def stats(day: dt.date) -> dict:
    now = timezone.now()
    t = time.perf_counter()
    rows = grid_stats(grids=UnitGrid.objects.all(), period="day", day=day, now=now)
    grid_s = time.perf_counter() - t
    t = time.perf_counter()
    people = staff_stats(staff=GridStaff.objects.all(), period="day", day=day, now=now)
    staff_s = time.perf_counter() - t
    patrolled = sum(r["patrolled"] for r in rows)
    print(
        f"daily statistics of {len(rows):,} grids ({patrolled:,} patrolled, coverage included): "
        f"{grid_s:.2f} s; "
        f"of {len(people):,} people: {staff_s:.2f} s"
    )
    return {"grids": len(rows), "patrolled": patrolled, "grid_seconds": grid_s, "people": len(people),
            "staff_seconds": staff_s}  # fmt: skip


def run() -> dict:
    print(f"load average at the start: {' / '.join(f'{x:.1f}' for x in os.getloadavg())}")
    n = int(os.environ.get("BENCH_TRACK_PEOPLE", "200"))
    people = _people(n + 1)
    day = timezone.localdate() - dt.timedelta(days=1)
    day_start = period_bounds("day", day)[0].timestamp()
    return {
        "ingest": ingest(people[1:], day_start),
        "playback": playback(*people[0], day_start),
        "stats": stats(day),
        "load_average": os.getloadavg(),
    }
