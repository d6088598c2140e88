"""Point location: our bulk path vs geopandas.sjoin, and the single /locate over HTTP.

* Bulk: the same N random points (uniform over the city's bounding box, so
  some fall outside) against the same unit grids. Ours is
  ``gis_core.selectors.locate.locate_grid_codes`` (the path behind POST
  /api/v1/locate); the reference is ``geopandas.sjoin(points, grids,
  predicate="intersects")``. Both start from lon/lat arrays and end with a grid
  code per point; grid loading is outside both timings (our index is warm, the
  reference GeoDataFrame is built once).
* Single: GET /api/v1/locate against a gunicorn worker on loopback, one new
  connection per request, as a client without keep-alive would do, with an
  API key (so key lookup and the Redis rate-limit counter are in the timing).
"""

from __future__ import annotations

import os
import statistics
import sys
import time

import geopandas as gpd
import numpy as np
import shapely

from bench.serving import api_key, gunicorn, percentiles, time_get
from gis_core.selectors.locate import locate_grid_codes, locate_point
from grids.models import UnitGrid


def _grids() -> gpd.GeoDataFrame:
    rows = list(UnitGrid.objects.values_list("code", "geom"))
    return gpd.GeoDataFrame(
        {"code": [r[0] for r in rows]}, geometry=shapely.from_wkb([bytes(r[1].wkb) for r in rows]), crs=4326
    )


def _sjoin_codes(grids: gpd.GeoDataFrame, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lons, lats), crs=4326)
    joined = gpd.sjoin(points, grids, how="left", predicate="intersects")
    # a point on a shared edge joins several grids: keep the smallest code, as we do
    joined = joined.sort_values("code", kind="stable")
    joined = joined[~joined.index.duplicated(keep="first")].sort_index()
    return joined["code"].to_numpy(dtype=object)


def bulk(n: int, repeats: int) -> dict:
    grids = _grids()
    minx, miny, maxx, maxy = grids.total_bounds
    rng = np.random.default_rng(42)
    lons = rng.uniform(minx, maxx, n)
    lats = rng.uniform(miny, maxy, n)
    locate_grid_codes(lons[:10], lats[:10])  # load the in-process index once
    ours, ref = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        our_codes = locate_grid_codes(lons, lats)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        ref_codes = _sjoin_codes(grids, lons, lats)
        ref.append(time.perf_counter() - t)
    ref_codes = np.where(np.array([isinstance(c, str) for c in ref_codes]), ref_codes, None)
    agree = int(np.sum(our_codes == ref_codes))
    ours_med, ref_med = statistics.median(ours), statistics.median(ref)
    result = {
        "points": n,
        "grids": len(grids),
        "repeats": repeats,
        "inside": int(np.sum(our_codes != None)),  # noqa: E711
        "agreement": agree / n,
        "civgrid_seconds": ours,
        "sjoin_seconds": ref,
        "civgrid_points_per_s": n / ours_med,
        "sjoin_points_per_s": n / ref_med,
        "speedup_vs_sjoin": ref_med / ours_med,
    }
    print(
        f"bulk locate {n:,} points / {len(grids):,} grids: civgrid {n / ours_med:,.0f} pts/s, "
        f"geopandas.sjoin {n / ref_med:,.0f} pts/s, ratio {ref_med / ours_med:.2f}× "
        f"(agreement {agree / n:.4%})"
    )
    return result


def single(n: int) -> dict:
    grids = _grids()
    pts = grids.geometry.representative_point()
    rng = np.random.default_rng(7)
    sample = rng.choice(len(pts), n)
    # the selector alone (SQL against the subdivided table)
    t_sel = []
    for i in sample[: min(n, 2000)]:
        t = time.perf_counter()
        locate_point(pts.iloc[i].x, pts.iloc[i].y)
        t_sel.append(time.perf_counter() - t)
    token = api_key(["locate:read"])

    def check(status: int, body: bytes) -> None:
        if status != 200:
            raise RuntimeError(f"/locate answered {status}")

    paths = (f"/api/v1/locate?lon={pts.iloc[i].x:.7f}&lat={pts.iloc[i].y:.7f}" for i in sample)
    with gunicorn() as port:
        samples, _ = time_get(port, paths, token, warmup=50, check=check)
    result = {"http": percentiles(samples), "selector": percentiles(t_sel)}
    print(
        "single GET /api/v1/locate over HTTP: p50 {p50_ms:.2f} ms, p95 {p95_ms:.2f} ms, "
        "p99 {p99_ms:.2f} ms ({requests} requests)".format(**result["http"])
    )
    print("  of which the selector: p50 {p50_ms:.2f} ms, p95 {p95_ms:.2f} ms".format(**result["selector"]))
    return result


def run() -> dict:
    n = int(os.environ.get("BENCH_POINTS", 1_000_000))
    repeats = int(os.environ.get("BENCH_REPEATS", 3))
    sys.stdout.flush()
    return {"bulk": bulk(n, repeats), "single": single(int(os.environ.get("BENCH_REQUESTS", 2000)))}
