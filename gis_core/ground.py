"""Distances on the ground for range queries: buffers drawn in a local UTM zone, and the
degree boxes and polygons that hold every point within a distance (the first cut a GiST
index on a 4326 geometry column can make before the exact ``geography`` test).

Pure shapely/pyproj (no Django). Geodesic areas are in :mod:`gis_core.geometry`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

__all__ = ["GEOD", "GroundDisc", "corridor", "envelope", "ground_buffer", "near_distance", "utm_zone"]

GEOD = pyproj.Geod(ellps="WGS84")
#: smallest meridional radius of curvature of WGS84 (at the equator), metres: dividing a
#: distance by it gives an angle never smaller than the true one, so the boxes stay supersets
R_MIN = 6_335_439.0


_A = 6_378_137.0  # WGS84
_E2 = (1 / 298.257223563) * (2 - 1 / 298.257223563)


def near_distance(lon0: float, lat0: float, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Metres on the WGS84 ellipsoid from (``lon0``, ``lat0``) to each (``lon``, ``lat``), by the
    mid-latitude formula (the radii of curvature at the mean latitude): within 5e-5 of the
    geodesic distance (relative) up to 50 km at latitudes up to 70° (checked against
    GeographicLib in the tests), and cheap enough for every corner of thousands of cells."""
    dl = np.radians((np.asarray(lon) - lon0 + 180.0) % 360.0 - 180.0)
    p0, p = math.radians(lat0), np.radians(lat)
    pm = (p0 + p) / 2
    w = np.sqrt(1 - _E2 * np.sin(pm) ** 2)
    return np.hypot(_A / w * np.cos(pm) * dl, _A * (1 - _E2) / w**3 * (p - p0))


@dataclass(frozen=True)
class GroundDisc:
    """A circle on the ground (WGS84 centre, radius in metres) classifying lon/lat cells for
    :func:`gis_core.cellcover.cell_cover` without drawing polygons: a cell is *inside* when its
    four corners are nearer than the radius less a margin (the disc is convex in lon/lat at
    these sizes, so the whole cell is), and it *meets* the disc when its point nearest the
    centre (the centre clamped into it) is nearer than the radius plus a margin. The margin —
    5e-4 of the radius and 5 cm — is over ten times :func:`near_distance`'s error, and much
    narrower than the UTM polygons' (1 % inside, 2 % outside): fewer cells along the edge,
    whose points the database tests one by one."""

    lon: float
    lat: float
    radius_m: float

    MARGIN = 5e-4
    #: where :func:`near_distance` is checked: radius and latitude
    MAX_RADIUS_M = 50_000.0
    MAX_LAT = 70.0

    @classmethod
    def usable(cls, lon: float, lat: float, radius_m: float) -> GroundDisc | None:
        return cls(lon, lat, radius_m) if radius_m <= cls.MAX_RADIUS_M and abs(lat) <= cls.MAX_LAT else None

    def classify(
        self, west: np.ndarray, south: np.ndarray, east: np.ndarray, north: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(inside, edge) of the cells with these sides (degrees, already grown by the caller's margin)."""
        slack = self.radius_m * self.MARGIN + 0.05
        far = np.maximum.reduce(
            [
                near_distance(self.lon, self.lat, x, y)
                for x, y in ((west, south), (west, north), (east, south), (east, north))
            ]
        )
        inside = far <= self.radius_m - slack
        nearest = near_distance(
            self.lon, self.lat, np.clip(self.lon, west, east), np.clip(self.lat, south, north)
        )
        return inside, (nearest <= self.radius_m + slack) & ~inside


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
