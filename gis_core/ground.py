"""Distances on the ground for range queries: buffers drawn in a local UTM zone, and the
degree boxes and polygons that hold every point within a distance (the first cut a GiST
index on a 4326 geometry column can make before the exact ``geography`` test).

Pure shapely/pyproj (no Django). Geodesic areas are in :mod:`gis_core.geometry`.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

__all__ = ["GEOD", "corridor", "envelope", "ground_buffer", "utm_zone"]

GEOD = pyproj.Geod(ellps="WGS84")
#: smallest meridional radius of curvature of WGS84 (at the equator), metres: dividing a
#: distance by it gives an angle never smaller than the true one, so the boxes stay supersets
R_MIN = 6_335_439.0


def utm_zone(lon: float, lat: float) -> int:
    """EPSG code of the UTM zone (WGS84) holding a point."""
    zone = min(60, int((lon + 180) // 6) + 1)
    return (32600 if lat >= 0 else 32700) + zone


@cache
def _transformers(epsg: int) -> tuple[pyproj.Transformer, pyproj.Transformer]:
    return (
        pyproj.Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True),
        pyproj.Transformer.from_crs(f"EPSG:{epsg}", "EPSG:4326", always_xy=True),
    )


def _apply(transformer: pyproj.Transformer, geom: BaseGeometry) -> BaseGeometry:
    def convert(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, convert)


def ground_buffer(geom: BaseGeometry, distance_m: float) -> BaseGeometry:
    """``geom`` (WGS84) buffered by ``distance_m`` on the ground, drawn in the UTM zone of its centre.

    UTM scale is within 0.1 % of the ground inside its 6° zone (0.4 % at 5° from
    the meridian); round caps have 16 segments a quarter (0.12 % inside the circle).
    """
    centre = geom.centroid
    forward, back = _transformers(utm_zone(centre.x, centre.y))
    return _apply(back, _apply(forward, geom).buffer(distance_m, quad_segs=16))


def envelope(bounds: tuple[float, float, float, float], metres: float) -> tuple[float, float, float, float]:
    """``bounds`` (WGS84) grown by at least ``metres`` on the ground on every side."""
    x0, y0, x1, y1 = bounds
    dlat = math.degrees(metres / R_MIN) * 1.001 + 1e-9
    top = min(89.9, max(abs(y0), abs(y1)) + dlat)
    dlon = min(180.0, math.degrees(metres / (R_MIN * math.cos(math.radians(top)))) * 1.001 + 1e-9)
    return (max(-180.0, x0 - dlon), max(-90.0, y0 - dlat), min(180.0, x1 + dlon), min(90.0, y1 + dlat))


def _bow(line: BaseGeometry) -> float:
    """How far (m) a geodesic segment within the line's bbox may bow poleward of it: L² tanφ / 8R."""
    x0, y0, x1, y1 = line.bounds
    diagonal = GEOD.line_length([x0, x1], [y0, y1])
    return diagonal**2 * math.tan(math.radians(min(89.0, max(abs(y0), abs(y1))))) / (8 * R_MIN)


def corridor(line: BaseGeometry, distance_m: float) -> BaseGeometry:
    """A polygon (WGS84) holding every point within ``distance_m`` on the ground of ``line``.

    The UTM buffer grown by 1 % (scale and caps, see :func:`ground_buffer`), by the
    bow of geodesic segments, and by a metre. A line more than 4° wide gets a
    degree box instead, which is looser but does not depend on one UTM zone.
    """
    reach = distance_m * 1.01 + _bow(line) + 1.0
    x0, _, x1, _ = line.bounds
    if x1 - x0 > 4:
        return shapely.box(*envelope(line.bounds, reach))
    return ground_buffer(line, reach)
