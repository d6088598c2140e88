"""Web-mercator tile arithmetic (XYZ scheme, y down from the north, 256/4096 units).

Pure Python: no Django, so the seeding planner, the views, the benchmark and the
tests share it. Bounds are exact (spherical mercator, EPSG:3857, the frame every
web map tiles in); a tile's WGS84 box is the inverse mercator of its corners.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from gis_core.mercator import EARTH_R, lonlat_to_mercator, mercator_to_lonlat

__all__ = [
    "EARTH_R",
    "HALF",
    "MAX_LAT",
    "MAX_ZOOM",
    "Tile",
    "count_tiles",
    "lonlat_to_tile",
    "mercator",
    "tiles_covering",
]

HALF = math.pi * EARTH_R  # half the width of the mercator world, metres
MAX_LAT = 85.0511287798066
MAX_ZOOM = 24  # deepest zoom a tile URL may ask for


def mercator(lon: float, lat: float) -> tuple[float, float]:
    return lonlat_to_mercator(lon, lat, max_lat=MAX_LAT)


_lonlat = mercator_to_lonlat


@dataclass(frozen=True, order=True)
class Tile:
    z: int
    x: int
    y: int

    def __post_init__(self) -> None:
        if not (0 <= self.z <= MAX_ZOOM):
            raise ValueError(f"zoom {self.z} outside 0–{MAX_ZOOM}")
        n = 1 << self.z
        if not (0 <= self.x < n and 0 <= self.y < n):
            raise ValueError(f"tile {self.x}/{self.y} outside 0–{n - 1} at zoom {self.z}")

    @property
    def size_m(self) -> float:
        """Width of the tile in mercator metres."""
        return 2 * HALF / (1 << self.z)

    def bounds_3857(self, buffer: float = 0.0) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) in EPSG:3857, grown by ``buffer`` × the tile's width each side."""
        s = self.size_m
        x0 = -HALF + self.x * s
        y1 = HALF - self.y * s
        b = buffer * s
        return x0 - b, y1 - s - b, x0 + s + b, y1 + b

    def bounds_4326(self, buffer: float = 0.0) -> tuple[float, float, float, float]:
        """(minlon, minlat, maxlon, maxlat) of the tile (and buffer), clamped to the mercator world."""
        x0, y0, x1, y1 = self.bounds_3857(buffer)
        lon0, lat0 = _lonlat(max(x0, -HALF), max(y0, -HALF))
        lon1, lat1 = _lonlat(min(x1, HALF), min(y1, HALF))
        return lon0, lat0, lon1, lat1

    def parent(self, z: int) -> Tile:
        """The tile at zoom ``z`` ≤ ours that contains this one."""
        shift = self.z - z
        if shift < 0:
            raise ValueError("a parent is at a lower zoom")
        return Tile(z, self.x >> shift, self.y >> shift)


def lonlat_to_tile(lon: float, lat: float, z: int) -> Tile:
    x, y = mercator(lon, lat)
    n = 1 << z
    tx = min(n - 1, max(0, int((x + HALF) / (2 * HALF) * n)))
    ty = min(n - 1, max(0, int((HALF - y) / (2 * HALF) * n)))
    return Tile(z, tx, ty)


def _span(bbox: tuple[float, float, float, float], z: int) -> tuple[int, int, int, int]:
    lon0, lat0, lon1, lat1 = bbox
    a = lonlat_to_tile(lon0, lat1, z)  # north-west corner: smallest x and y
    b = lonlat_to_tile(lon1, lat0, z)
    return a.x, a.y, b.x, b.y


def count_tiles(bbox: tuple[float, float, float, float], zooms: range) -> int:
    total = 0
    for z in zooms:
        x0, y0, x1, y1 = _span(bbox, z)
        total += (x1 - x0 + 1) * (y1 - y0 + 1)
    return total


def tiles_covering(bbox: tuple[float, float, float, float], zooms: range) -> Iterator[Tile]:
    """Every tile of ``zooms`` that touches the WGS84 ``bbox``, zoom by zoom, row by row."""
    for z in zooms:
        x0, y0, x1, y1 = _span(bbox, z)
        for y in range(y0, y1 + 1):
            for x in range(x0, x1 + 1):
                yield Tile(z, x, y)
