"""Reverse geocoding: point → nearest door plate or POI, the road, the unit grid and region chain.

Nearest-neighbour search runs on STRtree indexes (shapely) over the in-memory
gazetteer, in a local equirectangular frame (longitudes scaled by cos(latitude))
so "nearest" means nearest on the ground; distances reported are geodesic
(pyproj.Geod). One index per gazetteer revision and jurisdiction: a scoped
caller's index holds only the door plates and POIs it may see.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import Geod

from accounts.scoping import Jurisdiction
from gis_core.crs import from_wgs84
from gis_core.selectors.locate import deepest_code, locate_points

from ..engine.gazetteer import Entity, Gazetteer
from .geocode import NATIONWIDE, gazetteer

__all__ = ["reverse_batch"]

_GEOD = Geod(ellps="WGS84")
_M_PER_DEG = 111_320.0


@dataclass
class _Nearest:
    """Point features (door plates, POIs, places) and road lines in a metric-like frame."""

    kx: float  # metres per degree of longitude at the index's latitude
    points: np.ndarray  # (n, 2) lon/lat
    items: list  # Door or Entity per point
    tree: shapely.STRtree
    roads: list[Entity]
    road_tree: shapely.STRtree


def _scaled(gaz: Gazetteer, covers) -> _Nearest:
    items: list = []
    for door in gaz.doors_by_id.values():
        if covers is None or covers(door.grid_code):
            items.append(door)
    for e in (*gaz.pois.values(), *gaz.places.values()):
        if e.point is not None and (covers is None or covers(e.grid_code)):
            items.append(e)
    points = np.array([i.point for i in items], dtype=float).reshape(-1, 2)
    lat0 = float(np.median(points[:, 1])) if len(points) else 30.0
    kx = _M_PER_DEG * math.cos(math.radians(lat0))
    tree = shapely.STRtree(shapely.points(points[:, 0] * kx, points[:, 1] * _M_PER_DEG))
    roads = [r for r in gaz.roads.values() if r.line is not None]
    lines = [shapely.transform(r.line, lambda c: c * np.array([kx, _M_PER_DEG])) for r in roads]
    return _Nearest(kx, points, items, tree, roads, shapely.STRtree(lines))


_cache: OrderedDict[tuple, _Nearest] = OrderedDict()
_lock = threading.Lock()


def _index(gaz: Gazetteer, jurisdiction: Jurisdiction) -> _Nearest:
    key = (gaz.revision, jurisdiction.nationwide, jurisdiction.region_code, jurisdiction.grid_codes)
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    covers = None if jurisdiction.nationwide else (lambda code: bool(code) and jurisdiction.covers_code(code))
    built = _scaled(gaz, covers)
    with _lock:
        _cache[key] = built
        while len(_cache) > 16:
            _cache.popitem(last=False)
    return built


def _geodesic(lon1, lat1, lon2, lat2) -> np.ndarray:
    return np.asarray(_GEOD.inv(lon1, lat1, lon2, lat2)[2], dtype=float)


def _nearest_on(index: _Nearest, tree: shapely.STRtree, qs, radius_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Nearest indexed geometry per query point within the radius (-1 if none) and its frame distance."""
    best = np.full(len(qs), -1, dtype=np.int64)
    dist = np.full(len(qs), np.inf)
    if len(qs) == 0 or len(tree) == 0:
        return best, dist
    (q_idx, t_idx), d = tree.query_nearest(qs, max_distance=radius_m, return_distance=True)
    # ties: keep the first (lowest index) per query point
    order = np.lexsort((t_idx, d, q_idx))
    q_idx, t_idx, d = q_idx[order], t_idx[order], d[order]
    first = np.ones(len(q_idx), dtype=bool)
    first[1:] = q_idx[1:] != q_idx[:-1]
    best[q_idx[first]] = t_idx[first]
    dist[q_idx[first]] = d[first]
    return best, dist


def _feature_json(item, crs: str, distance: float) -> dict:
    x, y = from_wgs84(item.point[0], item.point[1], crs)
    location = {"lon": round(float(x), 7), "lat": round(float(y), 7), "crs": crs}
    if hasattr(item, "number"):  # a door plate
        return {"kind": "door", "label": item.label, "location": location, "distance_m": round(distance, 1)}
    kind = "poi" if item.kind == "poi" else "compound" if item.category == "compound" else "area"
    body = {"kind": kind, "name": item.name, "location": location, "distance_m": round(distance, 1)}
    if item.kind == "poi":
        body["category"] = item.category
    return body


def reverse_batch(
    lons: np.ndarray,
    lats: np.ndarray,
    *,
    radius_m: float,
    crs: str = "wgs84",
    jurisdiction: Jurisdiction | None = None,
) -> list[dict]:
    """For each WGS84 point: grid and region chain, nearest door/POI and road within ``radius_m``."""
    jurisdiction = jurisdiction or NATIONWIDE
    gaz = gazetteer()
    index = _index(gaz, jurisdiction)
    lons = np.asarray(lons, dtype=float)
    lats = np.asarray(lats, dtype=float)
    qs = shapely.points(lons * index.kx, lats * _M_PER_DEG)
    near, _ = _nearest_on(index, index.tree, qs, radius_m * 1.2)
    road, road_frame_d = _nearest_on(index, index.road_tree, qs, radius_m)
    locations = locate_points(lons, lats)
    out = []
    for i, loc in enumerate(locations):
        deepest = deepest_code(loc.grid, loc.regions)
        if not jurisdiction.nationwide and (deepest is None or not jurisdiction.covers_code(deepest)):
            out.append({"status": "outside", "message": "该点不在您的管辖范围内"})
            continue
        body: dict = {"status": "ok", "grid": loc.grid, "regions": list(loc.regions)}
        parts = [r["name"] for r in loc.regions if r["name"] != "市辖区"]
        item = index.items[near[i]] if near[i] >= 0 else None
        distance = None
        if item is not None:
            distance = float(_geodesic(lons[i], lats[i], item.point[0], item.point[1]))
            if distance > radius_m:
                item = None
        street = index.roads[road[i]] if road[i] >= 0 else None
        if street is not None:
            body["road"] = {"name": street.name, "distance_m": round(float(road_frame_d[i]), 1)}
        if item is not None:
            body["nearest"] = _feature_json(item, crs, distance)
            if hasattr(item, "number"):
                parts += [gaz.roads[item.road_id].name, item.label]
            else:
                parts.append(item.name)
            body["distance_m"] = round(distance, 1)
        elif street is not None:
            parts.append(street.name)
            body["distance_m"] = round(float(road_frame_d[i]), 1)
        body["address"] = "".join(parts)
        if not loc.regions:
            body["status"] = "not_found"
            body["message"] = "该点不在任何已知区划内"
        elif item is None and street is None:
            body["message"] = f"{radius_m:g} 米内没有门牌、兴趣点或道路，只给出所在区划"
        out.append(body)
    return out
