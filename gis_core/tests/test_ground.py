"""Ground distances for range queries (gis_core/ground.py): the index cuts hold every point they must."""

from __future__ import annotations

import math

import pyproj
import pytest
import shapely

from gis_core.geometry import geodesic_area_m2
from gis_core.ground import corridor, envelope, ground_buffer, utm_zone

GEOD = pyproj.Geod(ellps="WGS84")
LONG_LINE = shapely.LineString([(105.20, 28.70), (105.70, 29.05), (106.40, 28.95)])


@pytest.mark.parametrize("line", [LONG_LINE, shapely.LineString([(100.0, 40.0), (106.0, 45.0)])])
@pytest.mark.parametrize("distance", [5.0, 400.0, 5000.0])
def test_a_corridor_holds_every_point_of_the_true_buffer(line, distance):
    """Points just inside the geodesic buffer (offsets from points along the line) lie in the corridor."""
    cut = corridor(line, distance)
    for k in range(101):
        p = line.interpolate(k / 100, normalized=True)
        for azimuth in range(0, 360, 15):
            lon, lat, _ = GEOD.fwd(p.x, p.y, azimuth, distance - 0.01)
            assert cut.covers(shapely.Point(lon, lat)), (k, azimuth)


@pytest.mark.parametrize(("lon", "lat"), [(105.44, 28.87), (126.6, 45.7), (-70.0, -33.4), (179.9, 0.0)])
@pytest.mark.parametrize("metres", [1.0, 900.0, 50_000.0])
def test_an_envelope_holds_the_circle(lon, lat, metres):
    x0, y0, x1, y1 = envelope((lon, lat, lon, lat), metres)
    for azimuth in range(0, 360, 5):
        px, py, _ = GEOD.fwd(lon, lat, azimuth, metres)
        assert (x0 <= px <= x1 or x1 == 180.0) and y0 <= py <= y1


def test_a_ground_buffer_has_the_ground_area():
    line = shapely.LineString([(105.43, 28.87), (105.45, 28.87)])
    length = GEOD.geometry_length(line)
    area = geodesic_area_m2(ground_buffer(line, 300))
    assert area == pytest.approx(length * 600 + math.pi * 300**2, rel=0.002)


def test_utm_zones():
    assert utm_zone(105.44, 28.87) == 32648
    assert utm_zone(-70.0, -33.4) == 32719
    assert utm_zone(180.0, 1.0) == 32660
