"""Events at scale: bulk insert, range counts, heatmaps (against geopandas), statistics.

The large city gets ``BENCH_EVENTS`` events once (1,000,000 by default; 10,000,000 for
the large case), from the generator of ``manage.py demo_events_bulk``, when
``bench/__main__.py`` builds the city (:func:`ensure_events`); a run with more events on
record than asked measures what is there. Then, on the same code paths the
API uses (the jurisdiction scoping of a city-level operator, then the shared range
filter and aggregations of gis_core):

* bulk insert: ``BENCH_INSERT`` (100,000) more generated events (``BENCH_INSERT_PASSES``
  times, 3: the median pass) written by
  :func:`events.services.bulk.events_bulk_create` — point location, region chain,
  deadlines, transitions, COPY — then deleted again, so repeated runs do not grow
  the table;
* range counts: 50 random circles (200 m – 3 km) and 50 random drawn polygons (6–12
  vertices, 300 m – 3 km across) through ``RangeFilter.apply(...).count()``, and the
  same shapes over HTTP (``GET /api/v1/events?count=true&…``);
* heatmaps: the whole city and one district (江阳区) through
  ``gis_core.selectors.density.heatmap``, against geopandas in memory on the same
  points binned the same way (square web-mercator bins): the load into a
  GeoDataFrame and the aggregation (``to_crs(3857)``, floor, groupby) timed apart;
* clusters (64 px): the whole city at zoom 12 and the two map views, summed from the
  cells (lone points looked up) against the scan of the events;
* statistics: counts by district and the monthly trend of the last 12 months
  (``gis_core.selectors.stats``).

Medians and p95 of the repeats; ``EXPLAIN (ANALYZE, BUFFERS)`` of the heaviest query of
each kind goes to the results file.
"""

from __future__ import annotations

import datetime as dt
import http.client
import math
import os
import re
import statistics
import time
import urllib.parse

import geopandas as gpd
import numpy as np
import shapely
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.scoping import Jurisdiction
from bench.serving import api_key, gunicorn, percentiles, time_get
from events.demo_bulk import demo_events_bulk, demo_events_count
from events.selectors.events import events_visible
from events.services.bulk import CELL_TABLES
from gis_core.selectors import density
from gis_core.selectors.density import BinGrid, clusters, heatmap
from gis_core.selectors.locate import locate_grid_codes
from gis_core.selectors.ranges import Circle, RangeFilter
from gis_core.selectors.stats import count_by_region, trend

CITY = "510500000000"
DISTRICT = "510502000000"  # 江阳区
SHAPES = 50
REPEATS = 5
CELL_TABLE = re.compile(r"\bevents_event\w*cell")  # any of the pre-aggregated cell tables


def _scoped():
    """What a city-level operator (指挥中心 of 泸州市) may see: the API's starting queryset."""
    return events_visible(Jurisdiction(region_code=CITY))


def _timed(fn, repeats: int = REPEATS) -> tuple[list[float], object]:
    samples, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        samples.append(time.perf_counter() - t)
    return samples, out


def _summary(samples: list[float]) -> dict:
    ms = np.array(samples) * 1000
    return {
        "median_ms": float(np.median(ms)),
        "p95_ms": float(np.percentile(ms, 95)),
        "max_ms": float(ms.max()),
        "n": len(ms),
    }


def _explain(qs_or_sql, params=()) -> str:
    if hasattr(qs_or_sql, "query"):
        sql, params = qs_or_sql.query.sql_with_params()
    else:
        sql = qs_or_sql
    with connection.cursor() as cur:
        cur.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params or None)  # None: % is not a placeholder
        return "\n".join(r[0] for r in cur.fetchall())


# ------------------------------------------------------------------ data


def ensure_events(target: int) -> dict | None:
    """Top the city up to ``target`` events (once); VACUUM ANALYZE after a load."""
    have = demo_events_count(CITY)
    if have >= target:
        print(f"{have:,} events on record (wanted {target:,}): nothing to generate")
        return None
    print(f"generating {target - have:,} events (there are {have:,}) …", flush=True)
    t = time.perf_counter()
    result = demo_events_bulk(
        target - have,
        seed=1 + have,
        progress=lambda done, total: print(f"  {done:,} / {total:,}", flush=True),
    )
    result["wall_seconds"] = time.perf_counter() - t
    _vacuum()
    print(
        f"generated {result['events']:,} events and {result['transitions']:,} transitions: "
        f"{result['events_per_s']:,.0f} events/s in the writer, {result['wall_seconds']:.0f} s in all"
    )
    return result


def _vacuum() -> None:
    """Statistics for the planner and a fresh visibility map (index-only scans) after bulk writes;
    the transitions (58 M rows at 10 M events, read by no measured query) are only analysed."""
    with connection.cursor() as cur:
        for table in ("events_event", *(cells._meta.db_table for cells in CELL_TABLES)):
            cur.execute(f"VACUUM (ANALYZE) {table}")
        cur.execute("ANALYZE events_eventtransition")


def insert_rate(n: int, passes: int = 3) -> dict:
    """``n`` more generated events written and timed, then deleted again (the in-process
    locator index is loaded first: a long-running writer has it already), ``passes`` times
    (the median is the figure: a shared machine's rate varies from pass to pass): as fresh
    reports (state reported, one transition each: another system's bulk upload), and with a
    year's history (every state, 5.8 transitions each: a migration of old records)."""
    locate_grid_codes(np.array([105.44]), np.array([28.87]))
    out = {}
    for name, states in (("reports", {"reported": 1.0}), ("history", None)):
        runs = []
        for _ in range(passes):
            result = demo_events_bulk(n, seed=int(time.time()), batch=n, now=timezone.now(), states=states)
            ids = _newest_ids(n)
            with (
                connection.cursor() as cur
            ):  # bench housekeeping, not a service: raw deletes of what we wrote
                cur.execute("DELETE FROM events_eventtransition WHERE event_id = ANY(%s)", [ids])
                cur.execute("DELETE FROM events_event WHERE id = ANY(%s)", [ids])
            _vacuum()
            runs.append(result)
        result = sorted(runs, key=lambda r: r["events_per_s"])[len(runs) // 2]  # the median pass
        got = out[name] = {
            "events": result["events"],
            "transitions": result["transitions"],
            "seconds": result["seconds"],
            "events_per_s": result["events_per_s"],
            "rows_per_s": (result["events"] + result["transitions"]) / result["seconds"],
            "passes_events_per_s": [round(r["events_per_s"]) for r in runs],
        }
        print(
            "bulk insert of {events:,} {name} + {transitions:,} transitions: {events_per_s:,.0f} events/s "
            "({rows_per_s:,.0f} rows/s) incl. grid assignment, deadlines and COPY; median of {k} passes: "
            "{passes}".format(
                name=name, k=len(runs), passes=" · ".join(f"{v:,}" for v in got["passes_events_per_s"]), **got
            )
        )
    with connection.cursor() as cur:
        # the passes deleted ~3.4 M transitions: cleaned up here, not by autovacuum beside the
        # parts that follow
        cur.execute("VACUUM (ANALYZE) events_eventtransition")
    return out


def _newest_ids(n: int) -> list[int]:
    with connection.cursor() as cur:
        cur.execute("SELECT id FROM events_event ORDER BY id DESC LIMIT %s", [n])
        return [r[0] for r in cur.fetchall()]


# ------------------------------------------------------------------ range counts


def _centres(rng, n: int) -> np.ndarray:
    """Centres where events are (a random sample of them): the map is looked at where things happen."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT ST_X(geom), ST_Y(geom) FROM events_event "
            "TABLESAMPLE SYSTEM (1) REPEATABLE (11) LIMIT 20000"
        )
        pts = np.array(cur.fetchall())
    return pts[rng.choice(len(pts), n, replace=False)]


def _polygon(rng, lon: float, lat: float) -> shapely.Polygon:
    """A star-shaped (so simple, valid) drawn area 300 m – 3 km across."""
    k = int(rng.integers(6, 13))
    radius = math.exp(rng.uniform(math.log(150), math.log(1500)))
    angles = np.sort(rng.uniform(0, 2 * math.pi, k))
    r = radius * rng.uniform(0.6, 1.0, k)
    dx = r * np.cos(angles) / (111_320.0 * math.cos(math.radians(lat)))
    dy = r * np.sin(angles) / 110_574.0
    return shapely.Polygon(np.column_stack([lon + dx, lat + dy]))


def range_counts(rng) -> dict:
    centres = _centres(rng, 2 * SHAPES)
    radii = np.exp(rng.uniform(math.log(200), math.log(3000), SHAPES))
    circles = [
        Circle(float(x), float(y), float(r)) for (x, y), r in zip(centres[:SHAPES], radii, strict=True)
    ]
    polygons = [_polygon(rng, float(x), float(y)) for x, y in centres[SHAPES:]]
    base = _scoped()
    out: dict = {}
    shapes = {
        "circle": [RangeFilter(circle=c) for c in circles],
        "polygon": [RangeFilter(polygon=p) for p in polygons],
    }
    # as the API runs them (RangeFilter.count: the cells wholly inside the shape summed, the
    # points of the edge cells tested), then by counting every event in the shape (the scan);
    # both must give the same number for every shape
    paths = {
        "": lambda f: f.count(base, time_field="reported_at"),
        "_scan": lambda f: f.apply(base, time_field="reported_at").count(),
    }
    answers: dict[str, list[int]] = {}
    for suffix, count in paths.items():
        for name, filters in shapes.items():
            count(filters[0])  # warm
            samples, counts = [], []
            for f in filters:
                t = time.perf_counter()
                counts.append(count(f))
                samples.append(time.perf_counter() - t)
            answers[name + suffix] = counts
            got = out[name + suffix] = {
                **_summary(samples),
                "mean_count": float(np.mean(counts)),
                "max_count": int(max(counts)),
            }
            if suffix:
                worst = filters[int(np.argmax(samples))].apply(base, time_field="reported_at")
                sql, params = worst.order_by().values("pk").query.sql_with_params()
                got["explain_slowest"] = _explain(f"SELECT count(*) FROM ({sql}) q", params)
                got["same_counts"] = answers[name] == counts
            same = f"; same counts: {got['same_counts']}" if suffix else ""
            print(
                f"{name} count ({'scan' if suffix else 'cells + edge'}): median {got['median_ms']:.1f} ms, "
                f"p95 {got['p95_ms']:.1f} ms over {SHAPES} shapes, {got['mean_count']:,.0f} events "
                f"on average (max {max(counts):,}){same}"
            )
    out["http"] = _range_counts_http(circles, polygons)
    return out


def _range_counts_http(circles, polygons) -> dict:
    token = api_key(["events:read"], name="bench-events")
    paths = {
        "circle": [
            f"/api/v1/events?count=true&lon={c.lon:.7f}&lat={c.lat:.7f}&radius={c.radius_m:.1f}"
            for c in circles
        ],
        "polygon": [
            "/api/v1/events?count=true&polygon=" + urllib.parse.quote(shapely.to_wkt(p, rounding_precision=7))
            for p in polygons
        ],
    }

    def check(status: int, body: bytes) -> None:
        if status != 200 or b'"count"' not in body:
            raise RuntimeError(f"/api/v1/events?count=true answered {status}: {body[:200]!r}")

    out = {}
    try:
        with gunicorn() as port:
            _ready(port, paths["circle"][0], token)
            for name, urls in paths.items():
                samples, _ = time_get(port, [urls[0], *urls], token, warmup=1, check=check)
                out[name] = percentiles(samples)
                print(
                    f"{name} count over HTTP (GET /api/v1/events?count=true): "
                    "p50 {p50_ms:.1f} ms, p95 {p95_ms:.1f} ms".format(**out[name])
                )
    except (RuntimeError, OSError) as exc:  # the route does not take range filters; or it timed out
        print(f"  HTTP skipped: {exc!r}")
        out["skipped"] = str(exc)
    return out


def _ready(port: int, path: str, token: str, seconds: float = 300.0) -> None:
    """Wait for gunicorn's worker to answer once: the port is open as soon as the master binds
    it, while the worker may still be importing the project (over 10 s at load 16, longer than
    the timed client waits)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=seconds)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        conn.getresponse().read()
    finally:
        conn.close()


# ------------------------------------------------------------------ heatmaps


_XY = np.dtype([("fields", ">i2"), ("xlen", ">i4"), ("x", ">f8"), ("ylen", ">i4"), ("y", ">f8")])


def _points(qs) -> tuple[np.ndarray, np.ndarray]:
    """The filtered points as lon/lat arrays: binary COPY parsed by numpy (the fastest load we
    know; ``read_postgis`` or a fetchall of tuples take several times longer)."""
    sql, params = qs.order_by().values("geom").query.sql_with_params()
    with connection.cursor() as cur:
        inner = cur.mogrify(f"SELECT ST_X(q.geom), ST_Y(q.geom) FROM ({sql}) q", params)
        buffer = bytearray()
        with cur.copy(f"COPY ({inner}) TO STDOUT (FORMAT BINARY)") as copy:
            for block in copy:
                buffer += block
    rows = np.frombuffer(bytes(buffer[19:-2]), dtype=_XY)  # 19-byte header, 2-byte trailer
    return rows["x"].astype(float), rows["y"].astype(float)


def _geopandas_bins(gdf: gpd.GeoDataFrame, size: float) -> dict[tuple[int, int], int]:
    """The same square bins as the database: web-mercator metres, floor(x / size)."""
    merc = gdf.to_crs(3857)
    i = np.floor(merc.geometry.x.to_numpy() / size).astype(np.int64)
    j = np.floor(merc.geometry.y.to_numpy() / size).astype(np.int64)
    counts = gdf.assign(i=i, j=j).groupby(["i", "j"]).size()
    return dict(counts.items())


def heatmaps() -> dict:
    base = _scoped()
    cases = {
        "city": (base, 12),
        "district": (RangeFilter(region=DISTRICT).apply(base, time_field="reported_at"), 14),
    }
    out = {}
    for name, (qs, zoom) in cases.items():
        grid = BinGrid.for_zoom("square", zoom)
        heatmap(qs, grid)  # warm
        with CaptureQueriesContext(connection) as captured:
            heatmap(qs, grid)
        from_cells = any("events_eventcell" in q["sql"] for q in captured.captured_queries)
        ours, result = _timed(lambda qs=qs, grid=grid: heatmap(qs, grid))
        scan, _ = _timed(lambda qs=qs, grid=grid: _without_cells(lambda: heatmap(qs, grid)), 3)
        hexes, hex_result = _timed(lambda qs=qs, zoom=zoom: heatmap(qs, BinGrid.for_zoom("hex", zoom)), 3)
        t = time.perf_counter()
        lon, lat = _points(qs)
        gdf = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326)
        load = time.perf_counter() - t
        ref, bins = _timed(lambda gdf=gdf, size=grid.size: _geopandas_bins(gdf, size), 3)
        db_bins = {(b.i, b.j): b.count for b in result.bins}
        agree = sum(min(n, bins.get(k, 0)) for k, n in db_bins.items()) / max(result.count, 1)
        out[name] = {
            "events": result.count,
            "zoom": zoom,
            "bin_m": grid.size,
            "bins": len(result.bins),
            "civgrid": _summary(ours),
            "from_cells": from_cells,
            "civgrid_scan": _summary(scan),
            "civgrid_hex": {**_summary(hexes), "bins": len(hex_result.bins)},
            "geopandas_load_s": load,
            "geopandas_aggregate": _summary(ref),
            "ratio_aggregate": statistics.median(ref) / statistics.median(ours),
            "ratio_load_and_aggregate": (load + statistics.median(ref)) / statistics.median(ours),
            "agreement": agree,
        }
        print(
            f"heatmap {name} ({result.count:,} events, {len(result.bins):,} bins of {grid.size:.0f} m, "
            f"zoom {zoom}): civgrid median {out[name]['civgrid']['median_ms']:.0f} ms "
            f"(p95 {out[name]['civgrid']['p95_ms']:.0f}{', from the cells' if from_cells else ''}; "
            f"scan of the events {out[name]['civgrid_scan']['median_ms']:.0f}; "
            f"hex {out[name]['civgrid_hex']['median_ms']:.0f}); "
            f"geopandas aggregate {out[name]['geopandas_aggregate']['median_ms']:.0f} ms "
            f"+ load {load * 1000:.0f} ms; ratio {out[name]['ratio_aggregate']:.2f}× (aggregation only), "
            f"{out[name]['ratio_load_and_aggregate']:.2f}× (with the load); bins agree {agree:.4%}"
        )
    out["explain_city"] = _explain_calls(lambda: heatmap(base, BinGrid.for_zoom("square", 12)))
    out["explain_city_scan"] = _explain_calls(
        lambda: _without_cells(lambda: heatmap(base, BinGrid.for_zoom("square", 12)))
    )
    out["cells"] = {}
    with connection.cursor() as cur:
        for table in ("events_eventcelltotal", "events_eventcell", "events_eventfinecell"):
            cur.execute(f"SELECT count(*), pg_total_relation_size('{table}') FROM {table}")
            out["cells"][table] = dict(zip(("rows", "bytes"), cur.fetchone(), strict=True))
    print(
        "pre-aggregated cells: "
        + "; ".join(f"{t} {c['rows']:,} rows, {c['bytes'] / 2**20:.0f} MiB" for t, c in out["cells"].items())
    )
    return out


# map views (1600 × 900 px at the zoom): what the command center's heatmap layer asks for
VIEWS = {
    "city_z12": ((105.30, 28.78, 105.57, 28.95), 12),
    "jiangyang_z14": ((105.40, 28.85, 105.47, 28.89), 14),
}


def view_heatmaps() -> dict:
    """Heatmaps of a map view (``bbox``): cells inside the box + the band along its edges,
    against the scan of the events in the box; the same bins are checked."""
    base = _scoped()
    out = {}
    for name, (box, zoom) in VIEWS.items():
        grid = BinGrid.for_zoom("square", zoom)
        area = RangeFilter(bbox=box).split()[1]
        ours, result = _timed(lambda area=area, grid=grid: heatmap(base, grid, area=area))
        boxed = RangeFilter(bbox=box).apply(base)
        scan, scanned = _timed(lambda qs=boxed, grid=grid: _without_cells(lambda: heatmap(qs, grid)), 3)
        same = {(b.i, b.j): b.count for b in result.bins} == {(b.i, b.j): b.count for b in scanned.bins}
        out[name] = {"events": result.count, "bins": len(result.bins), **_against_scan(ours, scan)}
        out[name]["same_bins"] = same
        print(
            f"heatmap of a map view {name} ({result.count:,} events, {len(result.bins):,} bins): "
            f"cells + edge band median {out[name]['civgrid']['median_ms']:.0f} ms, scan of the view "
            f"{out[name]['civgrid_scan']['median_ms']:.0f} ms ({out[name]['ratio']:.1f}×); same bins: {same}"
        )
    return out


def filtered_heatmaps() -> dict:
    """The command center's heatmap of the city view (zoom 12) under the page's filters, as the
    API reads them (``filter_events``, the time window of ``RangeFilter``): those the cells keep
    (state, all months), the class cells (a category, a source, a kind), the day cells (a week's
    window to the minute), and what none keeps together (a category in a week's window: the points)."""
    from events.api.filters import filter_events
    from events.models import EventCategory

    base = _scoped()
    with connection.cursor() as cur:  # the busiest minor category
        cur.execute("SELECT category_id FROM events_event TABLESAMPLE SYSTEM (1) REPEATABLE (3) GROUP BY 1 "
                    "ORDER BY count(*) DESC LIMIT 1")  # fmt: skip
        category = EventCategory.objects.get(pk=cur.fetchone()[0]).code
        cur.execute("SELECT department_id FROM events_event TABLESAMPLE SYSTEM (1) REPEATABLE (3) "
                    "WHERE department_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")  # fmt: skip
        department = str(cur.fetchone()[0])
    now = timezone.now()
    week = RangeFilter(since=now - dt.timedelta(days=7), until=now)
    box, zoom = VIEWS["city_z12"]
    grid = BinGrid.for_zoom("square", zoom)
    area = RangeFilter(bbox=box).split()[1]
    cases = {
        "state (open)": (filter_events(base, {"state": "reported,verified,registered,dispatched"}), None),
        f"category {category}": (filter_events(base, {"category": category}), None),
        "source hotline": (filter_events(base, {"source": "hotline"}), None),
        "kind component": (filter_events(base, {"kind": "component"}), None),
        "last 7 days": (week.apply(base, time_field="reported_at"), None),
        f"view + category {category}": (filter_events(base, {"category": category}), area),
        # what the cells do not keep together: read from the points (the category's index and the
        # time index)
        f"category {category} + last 7 days": (
            week.apply(filter_events(base, {"category": category}), time_field="reported_at"),
            None,
        ),
        "source hotline + last 7 days": (
            week.apply(filter_events(base, {"source": "hotline"}), time_field="reported_at"),
            None,
        ),
        "overdue": (filter_events(base, {"overdue": "true"}), None),
        "department (dispatched to the busiest)": (filter_events(base, {"department": department}), None),
    }
    out = {}
    for name, (qs, shape) in cases.items():
        with CaptureQueriesContext(connection) as captured:
            result = heatmap(qs, grid, area=shape)
        from_cells = any(CELL_TABLE.search(q["sql"]) for q in captured.captured_queries)
        ours, _ = _timed(lambda qs=qs, shape=shape: heatmap(qs, grid, area=shape), 3)
        out[name] = {
            "events": result.count,
            "bins": len(result.bins),
            "from_cells": from_cells,
            **_summary(ours),
        }
        print(
            f"heatmap of the city view, {name}: {result.count:,} events, {len(result.bins):,} bins, "
            f"median {out[name]['median_ms']:.0f} ms ({'cells' if from_cells else 'the points'})"
        )
    return out


def view_clusters() -> dict:
    """Clusters (64 px) of the whole city and of the map views: summed from the cells (lone
    points looked up) against the scan of the events; the same counts per cluster are checked."""
    base = _scoped()
    out = {}
    cases = {"city_all_z12": (None, 12), **VIEWS}
    for name, (box, zoom) in cases.items():
        grid = BinGrid.for_zoom("square", zoom, 64)
        qs, area = (base, None) if box is None else (base, RangeFilter(bbox=box).split()[1])
        ours, result = _timed(lambda qs=qs, area=area, grid=grid: clusters(qs, grid, area=area))
        scan, scanned = _timed(
            lambda qs=qs, area=area, grid=grid: _without_cells(lambda: clusters(qs, grid, area=area)), 3
        )
        same = [c.count for c in result] == [c.count for c in scanned] and [c.id for c in result] == [
            c.id for c in scanned
        ]
        out[name] = {
            "events": sum(c.count for c in result), "clusters": len(result),
            "lone": sum(c.count == 1 for c in result), **_against_scan(ours, scan), "same_clusters": same,
        }  # fmt: skip
        print(
            f"clusters {name} ({out[name]['events']:,} events, {len(result):,} clusters, "
            f"{out[name]['lone']:,} lone): from the cells median {out[name]['civgrid']['median_ms']:.0f} ms "
            f"(p95 {out[name]['civgrid']['p95_ms']:.0f}), "
            f"scan {out[name]['civgrid_scan']['median_ms']:.0f} ms "
            f"({out[name]['ratio']:.1f}×); same clusters: {same}"
        )
    return out


def _against_scan(ours: list[float], scan: list[float]) -> dict:
    """Our timings from the cells beside the scan's, and how many times faster."""
    return {
        "civgrid": _summary(ours),
        "civgrid_scan": _summary(scan),
        "ratio": statistics.median(scan) / statistics.median(ours),
    }


def _without_cells(fn):
    """``fn()`` with no pre-aggregated cells registered: the heatmap scans the events."""
    saved = dict(density._CELLS)
    density._CELLS.clear()
    try:
        return fn()
    finally:
        density._CELLS.update(saved)


def _explain_calls(fn) -> str:
    """EXPLAIN ANALYZE of the statements ``fn`` runs (as sent, parameters bound)."""
    with CaptureQueriesContext(connection) as captured:
        fn()
    return "\n\n".join(
        _explain(q["sql"])
        for q in captured.captured_queries
        if q["sql"].lstrip().startswith(("WITH", "SELECT"))
    )


# ------------------------------------------------------------------ statistics


def stats() -> dict:
    base = _scoped()
    now = timezone.now()
    since = (now - dt.timedelta(days=365)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    by_district, rows = _timed(lambda: count_by_region(base, 3))
    by_month, months = _timed(lambda: trend(base, "reported_at", "month", since=since, until=now))
    out = {
        "by_district": {
            **_summary(by_district),
            "rows": len(rows),
            "explain": _explain_calls(lambda: count_by_region(base, 3)),
        },
        "by_month": {
            **_summary(by_month),
            "rows": len(months),
            "explain": _explain_calls(lambda: trend(base, "reported_at", "month", since=since, until=now)),
        },
    }
    print(
        f"statistics by district: median {out['by_district']['median_ms']:.0f} ms "
        f"(p95 {out['by_district']['p95_ms']:.0f}); by month over 12 months: median "
        f"{out['by_month']['median_ms']:.0f} ms (p95 {out['by_month']['p95_ms']:.0f})"
    )
    return out


def run() -> dict:
    out: dict = {"events": demo_events_count(CITY), "load_average_start": os.getloadavg()}
    with connection.cursor() as cur:
        cur.execute(
            "SELECT pg_total_relation_size('events_event'), pg_total_relation_size('events_eventtransition')"
        )
        out["table_bytes"] = dict(zip(("events", "transitions"), cur.fetchone(), strict=True))
    print(f"{out['events']:,} events in the city; tables {sum(out['table_bytes'].values()) / 2**30:.2f} GiB")
    # BENCH_EVENTS_PARTS=range,view runs only those parts (all by default)
    parts = os.environ.get("BENCH_EVENTS_PARTS", "insert,range,heatmap,view,filtered,clusters,stats").split(
        ","
    )
    rng = np.random.default_rng(11)
    if "range" in parts:
        out["range"] = range_counts(rng)
    if "heatmap" in parts:
        out["heatmap"] = heatmaps()
    if "view" in parts:
        out["view_heatmap"] = view_heatmaps()
    if "filtered" in parts:
        out["filtered_heatmap"] = filtered_heatmaps()
    if "clusters" in parts:
        out["clusters"] = view_clusters()
    if "stats" in parts:
        out["stats"] = stats()
    # the inserts last: their passes write and delete 600,000 events, and the parts that read
    # right after them found their pages cold (the range counts' p95 doubled: BENCHMARKS.md,
    # Events run 10) — a state of the bench's own making, not of a server's
    if "insert" in parts:
        out["insert"] = insert_rate(
            int(os.environ.get("BENCH_INSERT", 100_000)), int(os.environ.get("BENCH_INSERT_PASSES", 3))
        )
    out["load_average_end"] = os.getloadavg()
    start, end = (", ".join(f"{v:.1f}" for v in out[k]) for k in ("load_average_start", "load_average_end"))
    print(f"load average (1, 5, 15 min): {start} at the start, {end} at the end")
    return out
