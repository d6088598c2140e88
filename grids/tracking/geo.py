"""Distances on the ground for GPS tracks.

* :func:`step_distances` — geodesic distances between consecutive fixes on the WGS84
  ellipsoid (pyproj ``Geod``, vectorized): exact to well under a millimetre.
* :func:`local_xy` — an equirectangular projection around a reference point, for the
  algorithms that need planar metres over a few kilometres (stop radius, simplification).
  Within 10 km of the reference its distances are within 0.1 % of the geodesic ones, far
  below GPS noise.
"""

from __future__ import annotations

import math

import numpy as np
import pyproj

__all__ = ["GEOD", "local_xy", "metres_per_pixel", "step_distances"]

GEOD = pyproj.Geod(ellps="WGS84")
#: metres per degree of latitude and (at the equator) of longitude, WGS84 near 30°N
M_PER_DEG_LAT = 110_852.0
M_PER_DEG_LON = 111_320.0


def step_distances(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Metres between fix ``i`` and fix ``i + 1`` (length ``n - 1``)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    if len(lon) < 2:
        return np.zeros(0)
    _, _, dist = GEOD.inv(lon[:-1], lat[:-1], lon[1:], lat[1:])
    return np.asarray(dist, dtype=float)


def local_xy(
    lon: np.ndarray, lat: np.ndarray, lon0: float | None = None, lat0: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Planar metres east/north of (lon0, lat0) (default: the first fix)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    if lon0 is None:
        lon0, lat0 = (float(lon[0]), float(lat[0])) if len(lon) else (0.0, 0.0)
    kx = M_PER_DEG_LON * math.cos(math.radians(lat0))
    return (lon - lon0) * kx, (lat - lat0) * M_PER_DEG_LAT


def metres_per_pixel(zoom: float, lat: float) -> float:
    """Ground size of one pixel of a 256-px Web Mercator tile at ``zoom`` and ``lat``."""
    return 156_543.033_928 * math.cos(math.radians(lat)) / 2**zoom
