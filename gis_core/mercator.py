"""Spherical web mercator (EPSG:3857) from and to WGS84 lon/lat: the one place of its constants
and formulas, for the heatmap bins and cells (:mod:`gis_core.selectors.density`), the cells a
shape covers (:mod:`gis_core.cellcover`) and tile arithmetic (:mod:`tiles.tilemath`).

Pure: no Django. The functions take floats (answered with :mod:`math`, they run per bin and per
tile) or numpy arrays.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["EARTH_R", "MAX_LAT", "lonlat_to_mercator", "mercator_to_lonlat"]

EARTH_R = 6_378_137.0  # EPSG:3857 sphere radius
#: web-mercator latitude limit, as the cells' SQL clamps it (migrations 0003/0006 of events)
MAX_LAT = 85.05112878


def _scalars(*values) -> bool:
    return all(isinstance(v, int | float) for v in values)


def lonlat_to_mercator(lon, lat, *, max_lat: float = MAX_LAT):
    """Mercator metres (x, y) of lon/lat degrees, the latitude clamped to ±``max_lat``."""
    if _scalars(lon, lat):
        lat = min(max(lat, -max_lat), max_lat)
        return EARTH_R * math.radians(lon), EARTH_R * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
    lat = np.clip(lat, -max_lat, max_lat)
    return EARTH_R * np.radians(lon), EARTH_R * np.log(np.tan(np.pi / 4 + np.radians(lat) / 2))


def mercator_to_lonlat(x, y):
    """Lon/lat degrees of mercator metres."""
    if _scalars(x, y):
        return math.degrees(x / EARTH_R), math.degrees(2 * math.atan(math.exp(y / EARTH_R)) - math.pi / 2)
    return np.degrees(np.asarray(x) / EARTH_R), np.degrees(
        2 * np.arctan(np.exp(np.asarray(y) / EARTH_R)) - np.pi / 2
    )
