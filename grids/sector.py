"""The ground a camera sees: a sector (扇形可视范围) from its position, direction, field of view
and range, drawn on the WGS84 ellipsoid. Pure pyproj/shapely, no Django.

Vertices of the arc are geodesic forward points at most ``STEP_DEG`` apart in azimuth; the
straight chords between them lie inside the true arc by at most r(1 − cos(STEP/2)) — under
0.03 % of the range for the default 2.5° (< 0.05 m at 200 m). A field of view of 360° is a
full circle (no apex).
"""

from __future__ import annotations

import math

import numpy as np
import shapely

from gis_core.ground import GEOD

__all__ = ["STEP_DEG", "camera_sector"]

STEP_DEG = 2.5


def camera_sector(
    lon: float, lat: float, *, direction: float, angle: float, range_m: float, step_deg: float = STEP_DEG
) -> shapely.Polygon:
    """Polygon (WGS84 lon/lat) of the ground within ``range_m`` metres of the point whose
    azimuth lies within ``angle / 2`` degrees either side of ``direction`` (clockwise from north)."""
    if not 0 < angle <= 360:
        raise ValueError(f"angle must be in (0, 360], got {angle}")
    if not range_m > 0:
        raise ValueError(f"range must be positive, got {range_m}")
    full = angle >= 360
    azimuths = np.linspace(
        direction - angle / 2, direction + angle / 2, max(2, math.ceil(angle / step_deg) + 1)
    )
    if full:
        azimuths = azimuths[:-1]  # the last one is the first again
    size = azimuths.size
    xs, ys, _ = GEOD.fwd(
        np.full(size, float(lon)), np.full(size, float(lat)), azimuths, np.full(size, range_m)
    )
    arc = list(zip(np.asarray(xs, dtype=float).tolist(), np.asarray(ys, dtype=float).tolist(), strict=True))
    return shapely.Polygon(arc if full else [(lon, lat), *arc])
