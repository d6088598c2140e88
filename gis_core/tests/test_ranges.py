"""The shared range filter (gis_core/selectors/ranges.py, gis_core/api/ranges.py) on the demo city's
door plates, every shape against a ground truth computed without PostGIS: geodesic distances from
pyproj.Geod for circles, shapely for polygons, a buffer drawn in UTM zone 48N for lines."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime

import pyproj
import pytest
import shapely

from accounts.scoping import Jurisdiction, scope_queryset
from geocoding.models import DoorPlate
from gis_core.crs import transform_geometry
from gis_core.errors import InvalidInput
from gis_core.models import Region
from gis_core.selectors.ranges import Circle, LineBuffer, RangeFilter

from .factories import to_shapely

pytestmark = pytest.mark.django_db

GEOD = pyproj.Geod(ellps="WGS84")
TO_UTM = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32648", always_xy=True)
A, B = "510502", "510504"


@dataclass(frozen=True)
class Door:
    pk: int
    lon: float
    lat: float
    grid_code: str


@pytest.fixture
def doors(db) -> list[Door]:
    rows = DoorPlate.objects.values_list("pk", "geom", "grid_code")
    result = [Door(pk, g.x, g.y, grid) for pk, g, grid in rows]
    assert len(result) > 300, "the demo city should have door plates"
    return result


def ids(qs) -> set[int]:
    return set(qs.values_list("pk", flat=True))


def centre(doors: list[Door]) -> tuple[float, float]:
    lons, lats = sorted(d.lon for d in doors), sorted(d.lat for d in doors)
    return lons[len(lons) // 2], lats[len(lats) // 2]


def apply(rf: RangeFilter, qs=None):
    return rf.apply(qs if qs is not None else DoorPlate.objects.all(), time_field="updated_at")


def split(doors, measure, limit: float, band: float) -> tuple[set[int], set[int]]:
    """(doors surely inside, doors too close to the edge to call) by a ground-truth measure."""
    inside, edge = set(), set()
    for d in doors:
        value = measure(d)
        if abs(value - limit) <= band:
            edge.add(d.pk)
        elif value < limit:
            inside.add(d.pk)
    return inside, edge


def assert_matches(got: set[int], inside: set[int], edge: set[int]) -> None:
    assert got - edge == inside, (sorted(got - edge - inside)[:5], sorted(inside - got)[:5])
    assert len(edge) <= 2, "the band of undecidable points should be nearly empty"


# ------------------------------------------------------------------ circle


@pytest.mark.parametrize("radius", [120.0, 450.0, 900.0, 2500.0])
def test_circle_is_the_geodesic_distance(doors, radius):
    lon, lat = centre(doors)

    def metres(d: Door) -> float:
        return GEOD.inv(lon, lat, d.lon, d.lat)[2]

    inside, edge = split(doors, metres, radius, band=0.01)
    assert inside, "the circle should hold door plates"
    assert_matches(ids(apply(RangeFilter(circle=Circle(lon, lat, radius)))), inside, edge)


def test_circle_is_not_a_box_nor_degrees(doors):
    """The ground truth has teeth: a circle in degrees (×111 km) or the circle's bbox differ from it."""
    lon, lat = centre(doors)
    radius = 900.0
    got = ids(apply(RangeFilter(circle=Circle(lon, lat, radius))))
    deg = radius / 111_320
    in_degrees = {d.pk for d in doors if (d.lon - lon) ** 2 + (d.lat - lat) ** 2 < deg**2}
    deg_lon = deg / math.cos(math.radians(lat))
    in_box = {d.pk for d in doors if abs(d.lon - lon) < deg_lon and abs(d.lat - lat) < deg}
    assert got != in_degrees and got < in_box


def test_circle_in_gcj02_is_the_same_place(doors):
    from gis_core.crs import wgs84_to_gcj02

    lon, lat = centre(doors)
    gx, gy = wgs84_to_gcj02(lon, lat)
    wgs = ids(apply(RangeFilter.from_params({"lon": lon, "lat": lat, "radius": "700"})))
    gcj = ids(apply(RangeFilter.from_params({"lon": gx, "lat": gy, "radius": "700", "crs": "gcj02"})))
    assert wgs and wgs == gcj


# ------------------------------------------------------------------ polygon


def _pentagon(doors: list[Door]) -> shapely.Polygon:
    lon, lat = centre(doors)
    return shapely.Polygon(
        [
            (lon - 0.008, lat - 0.004),
            (lon + 0.004, lat - 0.007),
            (lon + 0.009, lat + 0.002),
            (lon + 0.001, lat + 0.008),
            (lon - 0.006, lat + 0.005),
        ]
    )


def _polygon_truth(doors: list[Door], polygon) -> tuple[set[int], set[int]]:
    boundary = polygon.boundary
    inside, edge = set(), set()
    for d in doors:
        p = shapely.Point(d.lon, d.lat)
        if boundary.distance(p) < 1e-9:
            edge.add(d.pk)
        elif polygon.contains(p):
            inside.add(d.pk)
    return inside, edge


def test_polygon_matches_shapely(doors):
    polygon = _pentagon(doors)
    inside, edge = _polygon_truth(doors, polygon)
    assert 20 < len(inside) < len(doors)
    assert_matches(ids(apply(RangeFilter(polygon=polygon))), inside, edge)


def test_multipolygon_with_a_hole_matches_shapely(doors):
    lon, lat = centre(doors)
    outer = _pentagon(doors)
    holed = shapely.Polygon(
        outer.exterior, [shapely.box(lon - 0.002, lat - 0.002, lon + 0.002, lat + 0.002).exterior]
    )
    far = shapely.box(lon + 0.010, lat - 0.010, lon + 0.016, lat + 0.010)
    multi = shapely.MultiPolygon([holed, far])
    inside, edge = _polygon_truth(doors, multi)
    assert_matches(ids(apply(RangeFilter(polygon=multi))), inside, edge)


@pytest.mark.parametrize("crs", ["wgs84", "gcj02", "bd09", "cgcs2000"])
def test_polygon_as_wkt_and_geojson_in_any_crs(doors, crs):
    polygon = _pentagon(doors)
    inside, edge = _polygon_truth(doors, polygon)
    drawn = transform_geometry(polygon, crs, inverse=True)
    wkt = shapely.to_wkt(drawn, rounding_precision=-1)
    feature = {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(drawn)}
    for value in (wkt, json.dumps(feature), feature, json.dumps(shapely.geometry.mapping(drawn))):
        got = ids(apply(RangeFilter.from_params({"polygon": value, "crs": crs})))
        assert_matches(got, inside, edge)


def test_ewkt_srid_sets_the_crs(doors):
    polygon = _pentagon(doors)
    inside, edge = _polygon_truth(doors, polygon)
    text = "SRID=4490;" + shapely.to_wkt(
        transform_geometry(polygon, "cgcs2000", inverse=True), rounding_precision=-1
    )
    assert_matches(ids(apply(RangeFilter.from_params({"polygon": text, "crs": "gcj02"}))), inside, edge)


# ------------------------------------------------------------------ line buffer


@pytest.mark.parametrize("distance", [60.0, 250.0, 800.0])
def test_line_buffer_matches_a_utm_buffer(doors, distance):
    lon, lat = centre(doors)
    line = shapely.LineString([(lon - 0.012, lat - 0.006), (lon, lat + 0.001), (lon + 0.010, lat - 0.002)])
    utm_line = shapely.transform(line, lambda xy: _utm(xy))

    def metres(d: Door) -> float:
        return utm_line.distance(shapely.Point(TO_UTM.transform(d.lon, d.lat)))

    # UTM scale (≤ 0.04 % here) and geodesic vs straight segments: 0.5 m + 0.1 % is a safe band
    inside, edge = split(doors, metres, distance, band=0.5 + distance * 0.001)
    assert inside
    got = ids(apply(RangeFilter(line=LineBuffer(line, distance))))
    assert got - edge == inside
    assert len(edge) <= 3


def _utm(xy):
    x, y = TO_UTM.transform(xy[:, 0], xy[:, 1])
    out = xy.copy()
    out[:, 0], out[:, 1] = x, y
    return out


def test_line_from_geojson_with_buffer_param(doors):
    lon, lat = centre(doors)
    line = shapely.LineString([(lon - 0.01, lat), (lon + 0.01, lat)])
    params = {"line": json.dumps(shapely.geometry.mapping(line)), "buffer": "300"}
    rf = RangeFilter.from_params(params)
    assert ids(apply(rf)) == ids(apply(RangeFilter(line=LineBuffer(line, 300.0))))
    # a stadium: the line's length × twice the distance, plus the two half-disc caps
    expected = rf.describe()["line"]["length_m"] * 600 + math.pi * 300**2
    assert rf.line.area.is_valid
    assert abs(GEOD.geometry_area_perimeter(rf.line.area)[0]) == pytest.approx(expected, rel=0.002)


# ------------------------------------------------------------------ bbox, region, grid, time


def test_bbox(doors):
    lon, lat = centre(doors)
    box = (lon - 0.005, lat - 0.003, lon + 0.004, lat + 0.006)
    truth = {d.pk for d in doors if box[0] <= d.lon <= box[2] and box[1] <= d.lat <= box[3]}
    assert truth
    assert ids(apply(RangeFilter.from_params({"bbox": ",".join(map(str, box))}))) == truth
    assert ids(apply(RangeFilter.from_params({"bbox": list(box)}))) == truth


@pytest.mark.parametrize("code", ["510502", "510504000000", "5105", "51", "510502001"])
def test_region_by_stored_code(code):
    got = ids(apply(RangeFilter(region=code)))
    truth = ids(DoorPlate.objects.filter(grid_code__startswith=code.rstrip("0") if len(code) == 12 else code))
    assert got == truth


def test_region_code_falls_back_to_the_region_code_of_rows_without_a_grid():
    door = DoorPlate.objects.filter(grid_code__startswith=A).first()
    DoorPlate.objects.filter(pk=door.pk).update(grid_code="", region_code=door.region_code)
    assert door.pk in ids(apply(RangeFilter(region=A)))
    assert door.pk in ids(apply(RangeFilter(region=door.region_code)))
    assert door.pk not in ids(apply(RangeFilter(region=B)))


def test_region_spatially_against_the_boundary(doors):
    boundary = to_shapely(Region.objects.get(code=A + "000000").geom)
    truth = {d.pk for d in doors if boundary.covers(shapely.Point(d.lon, d.lat))}
    assert truth
    assert ids(apply(RangeFilter(region=A, region_match="spatial"))) == truth
    assert ids(apply(RangeFilter(region="5105", region_match="spatial"))) == {d.pk for d in doors}
    # a city without a boundary of its own: the union of its mapped districts stands in
    Region.objects.filter(code="510500000000").update(geom=None)
    assert ids(apply(RangeFilter(region="5105", region_match="spatial"))) == {d.pk for d in doors}


def test_grid(doors):
    grid = doors[0].grid_code
    assert ids(apply(RangeFilter(grid=grid))) == {d.pk for d in doors if d.grid_code == grid}


def test_time_window_is_beijing_time_and_a_bare_to_date_includes_the_day():
    first, second, third = DoorPlate.objects.order_by("pk").values_list("pk", flat=True)[:3]
    DoorPlate.objects.update(updated_at=datetime(2020, 1, 1, tzinfo=UTC))
    DoorPlate.objects.filter(pk=first).update(updated_at=datetime(2024, 5, 31, 15, 59, tzinfo=UTC))  # 23:59
    DoorPlate.objects.filter(pk=second).update(
        updated_at=datetime(2024, 5, 31, 16, 0, tzinfo=UTC)
    )  # 6/1 0:00
    DoorPlate.objects.filter(pk=third).update(updated_at=datetime(2024, 5, 1, 0, 0, tzinfo=UTC))
    window = lambda **p: ids(apply(RangeFilter.from_params(p)))  # noqa: E731
    assert window(**{"from": "2024-05-01", "to": "2024-05-31"}) == {first, third}
    assert window(**{"from": "2024-06-01"}) == {second}
    assert window(**{"from": "2024-05-31T23:59", "to": "2024-06-01T00:00:00+08:00"}) == {first}
    assert window(**{"to": "2024-05-01T08:00"}) == set(ids(DoorPlate.objects.all())) - {first, second, third}


def test_parts_are_anded(doors):
    lon, lat = centre(doors)
    circle = Circle(lon, lat, 1500)
    both = ids(apply(RangeFilter(circle=circle, region=A)))
    assert both == ids(apply(RangeFilter(circle=circle))) & ids(apply(RangeFilter(region=A)))


def test_an_empty_filter_changes_nothing():
    rf = RangeFilter.from_params({})
    assert rf.is_empty and ids(apply(rf)) == ids(DoorPlate.objects.all())


# ------------------------------------------------------------------ bad input


BOW_TIE = "POLYGON((105.43 28.86, 105.45 28.88, 105.45 28.86, 105.43 28.88, 105.43 28.86))"
HUGE = "POLYGON((100 25, 110 25, 110 33, 100 33, 100 25))"


@pytest.mark.parametrize(
    ("params", "fragment", "code"),
    [
        ({"polygon": BOW_TIE}, "自相交（Self-intersection[105.44 28.87]）", "invalid_geometry"),
        (
            {"polygon": "POLYGON((105.43 28.86, 105.44 28.86, 105.43 28.86))"},
            "点数过少",
            "invalid_geometry",
        ),
        ({"polygon": HUGE}, "超过上限 20,000 km²", "area_too_large"),
        ({"polygon": "POLYGON((105.43 28.86, 105.44"}, "不是有效的 WKT 或 GeoJSON", "invalid"),
        ({"polygon": "CIRCLE(1 2)"}, "不是有效的 WKT 或 GeoJSON", "invalid"),
        ({"polygon": '{"type": "Polygon"'}, "不是有效的 GeoJSON", "invalid"),
        ({"polygon": '{"type": "Polygon", "coordinates": [[1, 2]]}'}, "不是有效的 GeoJSON 几何", "invalid"),
        (
            {"polygon": '{"type": "Point", "coordinates": [105.4, 28.8]}'},
            "应为 Polygon 或 MultiPolygon",
            "invalid",
        ),
        ({"polygon": "POLYGON EMPTY"}, "为空几何", "invalid"),
        ({"polygon": "POLYGON((200 10, 201 10, 201 11, 200 10))"}, "超出经纬度范围", "invalid"),
        ({"lon": "105.44", "lat": "28.87", "radius": "-5"}, "radius 应在 (0, 50000] 米之间", "bad_radius"),
        ({"lon": "105.44", "lat": "28.87", "radius": "0"}, "radius 应在 (0, 50000] 米之间", "bad_radius"),
        ({"lon": "105.44", "lat": "28.87", "radius": "1e7"}, "实际为 10000000", "bad_radius"),
        ({"lon": "105.44", "lat": "28.87", "radius": "nan"}, "不是有限数值", "invalid"),
        ({"lon": "105.44", "lat": "28.87", "radius": "far"}, "参数 radius 应为数字", "invalid"),
        ({"lon": "105.44", "lat": "28.87"}, "缺少 radius", "invalid"),
        ({"lon": "305.44", "lat": "28.87", "radius": "10"}, "经度 305.44 超出范围", "invalid"),
        ({"line": "LINESTRING(105.43 28.86, 105.44 28.87)"}, "需要 line 和 buffer", "invalid"),
        (
            {"line": "LINESTRING(105.43 28.86, 105.44 28.87)", "buffer": "0"},
            "buffer 应在 (0, 5000]",
            "bad_buffer",
        ),
        ({"line": "POINT(105.43 28.86)", "buffer": "10"}, "应为 LineString 或 MultiLineString", "invalid"),
        ({"from": "2024-06-01", "to": "2024-05-01"}, "起点应早于终点", "bad_time_window"),
        ({"from": "2024-13-01"}, "应为 ISO 8601 日期或时间", "invalid"),
        ({"region": "5105x"}, "不是行政区划代码", "invalid"),
        ({"grid": "510502"}, "不是单元网格代码", "invalid"),
        ({"region": "5105", "region_match": "near"}, "region_match 应为 code 或 spatial", "invalid"),
        ({"bbox": "105.45,28.86,105.44,28.87"}, "bbox 的最小值应小于最大值", "invalid"),
        ({"crs": "utm"}, "Unknown CRS", "unknown_crs"),
    ],
)
def test_bad_input_is_a_clear_400(params, fragment, code):
    with pytest.raises(InvalidInput) as caught:
        RangeFilter.from_params(params)
    assert fragment in caught.value.message, caught.value.message
    assert caught.value.code == code and caught.value.status == 400


def test_bad_input_built_in_python_is_refused_too():
    with pytest.raises(InvalidInput, match="radius"):
        Circle(105.44, 28.87, -1)
    with pytest.raises(InvalidInput, match="自相交"):
        RangeFilter(polygon=shapely.from_wkt(BOW_TIE))
    with pytest.raises(InvalidInput, match="应带时区"):
        RangeFilter(since=datetime(2024, 1, 1))


def test_the_area_limit_is_a_setting_and_covers_line_buffers(settings):
    settings.CIVGRID = {**settings.CIVGRID, "RANGE_MAX_AREA_KM2": 1.0}
    with pytest.raises(InvalidInput) as caught:
        RangeFilter.from_params({"line": "LINESTRING(105.40 28.86, 105.46 28.86)", "buffer": "2000"})
    assert caught.value.code == "area_too_large" and "line 缓冲区面积" in caught.value.message


def test_time_needs_a_time_field():
    rf = RangeFilter.from_params({"from": "2024-01-01"})
    with pytest.raises(InvalidInput, match="没有时间字段"):
        rf.apply(DoorPlate.objects.all())


def test_spatial_match_needs_a_boundary():
    with pytest.raises(InvalidInput, match="没有边界数据"):
        apply(RangeFilter(region="110101001000", region_match="spatial"))


# ------------------------------------------------------------------ jurisdiction


def test_a_scoped_queryset_stays_scoped_through_every_shape(doors):
    scoped = scope_queryset(DoorPlate.objects.all(), Jurisdiction(region_code=A))
    in_a = ids(scoped)
    assert in_a and ids(DoorPlate.objects.filter(grid_code__startswith=B))
    lon, lat = centre(doors)
    everything = shapely.box(105.40, 28.84, 105.48, 28.90)
    filters = [
        RangeFilter(),
        RangeFilter(region="5105"),
        RangeFilter(region=B),
        RangeFilter(region=B, region_match="spatial"),
        RangeFilter(bbox=everything.bounds),
        RangeFilter(circle=Circle(lon, lat, 5000)),
        RangeFilter(polygon=everything),
        RangeFilter(line=LineBuffer(shapely.LineString([(105.40, lat), (105.48, lat)]), 4000)),
        RangeFilter(since=datetime(2000, 1, 1, tzinfo=UTC)),
    ]
    for rf in filters:
        got = apply(rf, scoped)
        assert not got.filter(grid_code__startswith=B).exists(), rf
        assert ids(got) == ids(apply(rf)) & in_a, rf
    assert not ids(apply(RangeFilter(region=B), scoped))


# ------------------------------------------------------------------ from a request


def test_from_request_reads_the_query_or_a_json_body(doors):
    from rest_framework.parsers import JSONParser
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    factory = APIRequestFactory()
    polygon = _pentagon(doors)
    get = Request(factory.get("/x", {"polygon": polygon.wkt, "from": "2024-01-01"}))
    post = Request(
        factory.post(
            "/x?crs=wgs84",
            {"polygon": shapely.geometry.mapping(polygon), "from": "2024-01-01"},
            format="json",
        ),
        parsers=[JSONParser()],
    )
    a, b = RangeFilter.from_request(get), RangeFilter.from_request(post)
    assert a.since == b.since and a.polygon.equals(b.polygon)
    with pytest.raises(InvalidInput, match="请求体应为 JSON 对象"):
        RangeFilter.from_request(Request(factory.post("/x", [1, 2], format="json"), parsers=[JSONParser()]))
