"""Tests for gis_core.geometry (pure shapely/pyproj: no database)."""

import math

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import GeometryCollection, LineString, MultiPolygon, Point, Polygon, box

from gis_core.geometry import GeometryProblem, geodesic_area_m2, polygonal

LON, LAT = 105.44, 28.87  # 泸州
UTM48N = "EPSG:32648"
_TO_UTM = Transformer.from_crs("EPSG:4326", UTM48N, always_xy=True)
_FROM_UTM = Transformer.from_crs(UTM48N, "EPSG:4326", always_xy=True)


def utm_square(lon: float, lat: float, side_m: float) -> Polygon:
    """A square of ``side_m`` metres in UTM 48N around (lon, lat), as a lon/lat polygon."""
    cx, cy = _TO_UTM.transform(lon, lat)
    h = side_m / 2
    corners = [(cx - h, cy - h), (cx + h, cy - h), (cx + h, cy + h), (cx - h, cy + h)]
    return Polygon([_FROM_UTM.transform(x, y) for x, y in corners])


def to_utm(geom):
    return shapely.transform(geom, lambda xy: np.column_stack(_TO_UTM.transform(xy[:, 0], xy[:, 1])))


def utm_area(geom) -> float:
    return to_utm(geom).area


BOWTIE = Polygon([(105.44, 28.87), (105.45, 28.88), (105.45, 28.87), (105.44, 28.88)])


# --------------------------------------------------------------------------- polygonal


def test_valid_polygon_becomes_multipolygon():
    square = box(105.44, 28.87, 105.45, 28.88)
    result = polygonal(square)
    assert isinstance(result, MultiPolygon)
    assert len(result.geoms) == 1
    assert result.equals(square)
    assert result.is_valid


def test_multipolygon_kept_with_all_parts():
    multi = MultiPolygon([box(105.44, 28.87, 105.45, 28.88), box(105.46, 28.87, 105.47, 28.88)])
    result = polygonal(multi)
    assert isinstance(result, MultiPolygon)
    assert len(result.geoms) == 2
    assert result.equals(multi)


def test_polygon_with_hole_kept():
    ring = Polygon(
        box(105.40, 28.80, 105.50, 28.90).exterior.coords,
        [box(105.44, 28.84, 105.46, 28.86).exterior.coords],
    )
    result = polygonal(ring)
    assert len(result.geoms[0].interiors) == 1
    assert result.area == pytest.approx(ring.area)


def test_self_intersecting_bowtie_rejected_with_reason():
    assert not BOWTIE.is_valid
    with pytest.raises(GeometryProblem) as info:
        polygonal(BOWTIE)
    message = str(info.value)
    assert "几何图形无效" in message
    assert "Self-intersection" in message  # the reason GEOS gives


def test_bowtie_repaired():
    result = polygonal(BOWTIE, repair=True)
    assert isinstance(result, MultiPolygon)
    assert result.is_valid
    assert len(result.geoms) == 2  # the two triangles
    assert result.area == pytest.approx(0.01 * 0.01 / 2)


def test_repair_that_leaves_no_area_rejected():
    flat = Polygon([(105.44, 28.87), (105.45, 28.87), (105.46, 28.87), (105.44, 28.87)])
    with pytest.raises(GeometryProblem, match="面积为零"):
        polygonal(flat, repair=True)


@pytest.mark.parametrize(
    "geom",
    [
        Point(105.44, 28.87),
        LineString([(105.44, 28.87), (105.45, 28.88)]),
        GeometryCollection([box(105.44, 28.87, 105.45, 28.88)]),
    ],
    ids=["point", "line", "collection"],
)
def test_non_polygon_rejected(geom):
    with pytest.raises(GeometryProblem, match=f"几何类型应为面.*{geom.geom_type}"):
        polygonal(geom)


@pytest.mark.parametrize("geom", [None, Polygon()], ids=["none", "empty"])
def test_missing_geometry_rejected(geom):
    with pytest.raises(GeometryProblem, match="缺少几何图形"):
        polygonal(geom)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_coordinates_rejected(bad):
    poly = Polygon([(105.44, 28.87), (bad, 28.87), (105.45, 28.88), (105.44, 28.88)])
    with pytest.raises(GeometryProblem, match="NaN/Infinity"):
        polygonal(poly)


def test_swapped_lat_lon_rejected():
    swapped = box(28.87, 105.44, 28.88, 105.45)
    with pytest.raises(GeometryProblem, match=r"不在中国境内.*经纬度是否颠倒"):
        polygonal(swapped)


def test_projected_coordinates_rejected():
    metres = to_utm(utm_square(LON, LAT, 1000))
    with pytest.raises(GeometryProblem, match="不在中国境内"):
        polygonal(metres)


def test_bounds_check_can_be_switched_off():
    london = box(-0.2, 51.4, -0.1, 51.5)
    with pytest.raises(GeometryProblem):
        polygonal(london)
    assert polygonal(london, check_bounds=False).equals(london)


# --------------------------------------------------------------------------- areas


def test_geodesic_area_of_1km_square_matches_utm():
    square = utm_square(LON, LAT, 1000)
    expected = utm_area(square)
    assert expected == pytest.approx(1_000_000, rel=1e-6)
    area = geodesic_area_m2(square)
    # UTM's scale factor (~0.9996 near the central meridian 105°E) makes the two differ by < 0.1 %
    assert area == pytest.approx(expected, rel=0.005)
    assert area != pytest.approx(expected, rel=1e-6)  # really computed on the ellipsoid, not in UTM


def test_geodesic_area_ignores_orientation():
    square = utm_square(LON, LAT, 1000)
    reversed_square = Polygon(list(square.exterior.coords)[::-1])
    assert geodesic_area_m2(reversed_square) == pytest.approx(geodesic_area_m2(square))
    assert geodesic_area_m2(reversed_square) > 0


def test_geodesic_area_of_multipolygon_and_hole():
    outer = shapely.orient_polygons(utm_square(LON, LAT, 1000))
    hole = utm_square(LON, LAT, 400)
    other = utm_square(LON + 0.1, LAT, 1000)
    with_hole = shapely.orient_polygons(Polygon(outer.exterior.coords, [hole.exterior.coords]))
    assert geodesic_area_m2(with_hole) == pytest.approx(geodesic_area_m2(outer) - geodesic_area_m2(hole))
    multi = MultiPolygon([outer, other])
    assert geodesic_area_m2(multi) == pytest.approx(geodesic_area_m2(outer) + geodesic_area_m2(other))
    assert geodesic_area_m2(polygonal(multi)) == pytest.approx(2_000_000, rel=0.005)


def _ccw(ring) -> list:
    return list(ring.coords) if ring.is_ccw else list(ring.coords)[::-1]


def _cw(ring) -> list:
    return _ccw(ring)[::-1]


def test_geodesic_area_of_hole_wound_like_its_shell():
    # Shapefiles wind shells clockwise, GeoJSON counter-clockwise, and many files
    # follow neither; shapely and polygonal() keep whatever winding came in.
    outer = utm_square(LON, LAT, 1000)
    hole = utm_square(LON, LAT, 400)
    expected = geodesic_area_m2(outer) - geodesic_area_m2(hole)
    for shell_ring, hole_ring in ((_ccw, _ccw), (_cw, _cw), (_cw, _ccw), (_ccw, _cw)):
        poly = Polygon(shell_ring(outer.exterior), [hole_ring(hole.exterior)])
        assert poly.is_valid
        assert geodesic_area_m2(poly) == pytest.approx(expected), (shell_ring, hole_ring)
        assert geodesic_area_m2(polygonal(poly)) == pytest.approx(expected)


def test_geodesic_area_of_multipolygon_with_parts_wound_differently():
    a = Polygon(_ccw(utm_square(LON, LAT, 1000).exterior))
    b = Polygon(_cw(utm_square(LON + 0.1, LAT, 500).exterior))
    expected = geodesic_area_m2(a) + geodesic_area_m2(b)
    assert expected == pytest.approx(1_250_000, rel=0.005)
    assert geodesic_area_m2(MultiPolygon([a, b])) == pytest.approx(expected)
