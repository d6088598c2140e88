"""Point location: which unit grid and which regions contain a point.

Two paths give the same answer:

* :func:`locate_point` — one point, one indexed query against the subdivided
  ``LocatorPart`` table (GiST), as MapIt does. Well under 5 ms.
* :func:`locate_points` — many points at once, against an in-process bin index
  (:mod:`gis_core.pointindex`) of the same subdivided parts, reloaded when
  ``LocatorRevision`` changes. No SQL per point; this is what the bulk API and
  the benchmark use.

A point on a shared edge or vertex touches several grids; it resolves to the
grid with the smallest code (and, with no grid, to the deepest region, then the
smallest code), so the answer never depends on row or index order.
Points are WGS84; conversion from other coordinate systems happens in the API.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from django.db import connection

from ..codes import ancestor_codes
from ..models import LocatorLayer, LocatorPart, LocatorRevision, Region, RegionLevel
from ..pointindex import PolygonBinIndex
from ..revisions import RevisionCache

__all__ = [
    "Location",
    "deepest_code",
    "locate_grid_codes",
    "locate_point",
    "locate_points",
    "locate_points_raw",
    "region_json",
]


@dataclass(frozen=True)
class Location:
    """Where a point falls: the region chain (province first) and the unit grid."""

    regions: tuple[dict, ...] = ()
    grid: dict | None = None

    @property
    def inside(self) -> bool:
        return self.grid is not None


def region_json(code: str, name: str, level: int) -> dict:
    """A region as it appears in a region chain."""
    return {"code": code, "name": name, "level": level, "level_name": RegionLevel(level).label}


def deepest_code(grid: dict | None, regions) -> str | None:
    """The most specific code of a location: its grid's, else its deepest region's (jurisdiction checks)."""
    return grid["code"] if grid else regions[-1]["code"] if regions else None


def _chains(region_codes: set[str]) -> dict[str, tuple[dict, ...]]:
    """Region chain of each code, with one query for all of them."""
    wanted = {a for c in region_codes for a in ancestor_codes(c)}
    rows = {r.code: region_json(r.code, r.name, r.level) for r in Region.objects.filter(code__in=wanted)}
    return {c: tuple(rows[a] for a in ancestor_codes(c) if a in rows) for c in region_codes}


def _hit_key(layer: str, level: int, code: str) -> tuple:
    return (0, 0, code) if layer == LocatorLayer.GRID else (1, -level, code)


def locate_point(lon: float, lat: float) -> Location:
    """Locate one WGS84 point: one round trip that picks the best hit (same
    order as :func:`_hit_key`) and joins its region chain."""
    parts, regions = LocatorPart._meta.db_table, Region._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"""
            WITH hit AS (
                SELECT layer, code, name, region_code FROM {parts}
                WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326))
                ORDER BY layer <> %s, CASE WHEN layer = %s THEN 0 ELSE -level END, code
                LIMIT 1
            )
            SELECT hit.layer, hit.code, hit.name, r.code, r.name, r.level
            FROM hit LEFT JOIN {regions} r ON r.code IN (
                rpad(left(hit.region_code, 2), 12, '0'), rpad(left(hit.region_code, 4), 12, '0'),
                rpad(left(hit.region_code, 6), 12, '0'), rpad(left(hit.region_code, 9), 12, '0'),
                hit.region_code)
            ORDER BY r.level
            """,
            [lon, lat, LocatorLayer.GRID, LocatorLayer.GRID],
        )
        rows = cur.fetchall()
    if not rows:
        return Location()
    layer, code, name = rows[0][:3]
    chain = tuple(
        {"code": rc, "name": rn, "level": rl, "level_name": RegionLevel(rl).label}
        for *_, rc, rn, rl in rows
        if rc is not None
    )
    return Location(regions=chain, grid={"code": code, "name": name} if layer == LocatorLayer.GRID else None)


class _Index:
    """The locator parts in memory: one bin index for grids, one for regions."""

    def __init__(self, revision: tuple[int, str]) -> None:
        self.revision = revision
        rows = list(LocatorPart.objects.values_list("layer", "code", "name", "level", "region_code", "geom"))
        self.size = len(rows)
        self.is_grid = np.array([r[0] == LocatorLayer.GRID for r in rows], dtype=bool)
        self.code = np.array([r[1] for r in rows], dtype=object)
        self.name = np.array([r[2] for r in rows], dtype=object)
        self.region_code = np.array([r[4] for r in rows], dtype=object)
        # one integer per part that orders hits exactly like _hit_key
        keys = [_hit_key(r[0], r[3], r[1]) for r in rows]
        rank = np.empty(len(rows), dtype=np.int64)
        rank[sorted(range(len(keys)), key=keys.__getitem__)] = np.arange(len(rows))
        geoms = shapely.from_wkb([bytes(r[5].wkb) for r in rows]) if rows else np.array([], dtype=object)
        self.layers = []
        for mask in (self.is_grid, ~self.is_grid):
            ids = np.flatnonzero(mask)
            self.layers.append((ids, PolygonBinIndex(geoms[ids], rank[ids])))
        self.chains = _chains(set(self.region_code.tolist()))


_cache = RevisionCache(LocatorRevision, _Index)


def _current_index() -> _Index:
    return _cache.get()


def locate_points_raw(lons: np.ndarray, lats: np.ndarray) -> tuple[_Index, np.ndarray]:
    """Index of the best part per point (-1 outside everything) — the fast core.

    Grids are tried first; only points outside every grid are tried against
    the region parts.
    """
    index = _current_index()
    lons = np.asarray(lons, dtype=float)
    lats = np.asarray(lats, dtype=float)
    best = np.full(len(lons), -1, dtype=np.int64)
    todo = np.arange(len(lons))
    for ids, layer in index.layers:
        if not len(todo):
            break
        found = layer.best(lons[todo], lats[todo])
        hit = found >= 0
        best[todo[hit]] = ids[found[hit]]
        todo = todo[~hit]
    return index, best


def locate_grid_codes(lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
    """Grid code per point (None outside every grid), for bulk consumers."""
    index, best = locate_points_raw(lons, lats)
    codes = np.full(len(best), None, dtype=object)
    hit = best >= 0
    hit[hit] = index.is_grid[best[hit]]
    codes[hit] = index.code[best[hit]]
    return codes


def locate_points(lons: np.ndarray, lats: np.ndarray) -> list[Location]:
    """Locate many WGS84 points (same rules as :func:`locate_point`)."""
    index, best = locate_points_raw(lons, lats)
    outside = Location()
    result = []
    for part in best.tolist():
        if part < 0:
            result.append(outside)
            continue
        grid = {"code": index.code[part], "name": index.name[part]} if index.is_grid[part] else None
        result.append(Location(regions=index.chains.get(index.region_code[part], ()), grid=grid))
    return result
