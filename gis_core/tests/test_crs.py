"""Tests for gis_core.crs (pure functions: no database)."""

import math

import numpy as np
import pytest
import shapely
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gis_core import crs

# The inverses are documented as better than 1e-9 degree inside China.
ROUND_TRIP_TOL = 1e-9

# Mainland-China test region for properties (well inside the rough out-of-china box).
china_lon = st.floats(min_value=73.0, max_value=135.0, allow_nan=False)
china_lat = st.floats(min_value=18.0, max_value=53.0, allow_nan=False)
china_points = st.tuples(china_lon, china_lat)

anywhere = st.tuples(
    st.floats(min_value=-180.0, max_value=180.0, allow_nan=False),
    st.floats(min_value=-90.0, max_value=90.0, allow_nan=False),
)
outside_points = anywhere.filter(lambda p: crs.out_of_china(*p))


# --------------------------------------------------------------------------- scalar reference
# A plain-math, one-point-at-a-time transcription of the widely published algorithms
# (e.g. wandergis/coordtransform, googollee/eviltransform), to cross-check the numpy version.


def _ref_transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _ref_transform_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def _ref_wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    a = 6378245.0
    ee = 0.00669342162296594323
    dlat = _ref_transform_lat(lon - 105.0, lat - 35.0)
    dlon = _ref_transform_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = 1 - ee * math.sin(radlat) ** 2
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((a * (1 - ee)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (a / sqrtmagic * math.cos(radlat) * math.pi)
    return lon + dlon, lat + dlat


def _ref_gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    x_pi = math.pi * 3000.0 / 180.0
    z = math.sqrt(lon * lon + lat * lat) + 0.00002 * math.sin(lat * x_pi)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * x_pi)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def _offset_m(lon0: np.ndarray, lat0: np.ndarray, lon1: np.ndarray, lat1: np.ndarray) -> np.ndarray:
    """Approximate metric distance (fine for offsets of a few hundred metres)."""
    dx = (lon1 - lon0) * 111_320.0 * np.cos(np.radians(lat0))
    dy = (lat1 - lat0) * 110_574.0
    return np.hypot(dx, dy)


# --------------------------------------------------------------------------- known reference pairs

# googollee/eviltransform python/test.py: (wgsLat, wgsLng, gcjLat, gcjLng)
EVILTRANSFORM_PAIRS = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]


@pytest.mark.parametrize(("wgs_lat", "wgs_lon", "gcj_lat", "gcj_lon"), EVILTRANSFORM_PAIRS)
def test_wgs84_to_gcj02_published_pairs(wgs_lat, wgs_lon, gcj_lat, gcj_lon):
    lon, lat = crs.wgs84_to_gcj02(wgs_lon, wgs_lat)
    assert lon == pytest.approx(gcj_lon, abs=1e-9)
    assert lat == pytest.approx(gcj_lat, abs=1e-9)


@pytest.mark.parametrize(("wgs_lat", "wgs_lon", "gcj_lat", "gcj_lon"), EVILTRANSFORM_PAIRS)
def test_gcj02_to_wgs84_published_pairs(wgs_lat, wgs_lon, gcj_lat, gcj_lon):
    lon, lat = crs.gcj02_to_wgs84(gcj_lon, gcj_lat)
    assert abs(lon - wgs_lon) < ROUND_TRIP_TOL
    assert abs(lat - wgs_lat) < ROUND_TRIP_TOL


def test_tiananmen_wgs84_to_gcj02():
    lon, lat = crs.wgs84_to_gcj02(116.397455, 39.909187)
    assert lon == pytest.approx(116.403701, abs=1e-5)
    assert lat == pytest.approx(39.910591, abs=1e-5)


def test_wandergis_reference_values():
    # wandergis/coordtransform test/app.js, all with input (116.404, 39.915).
    assert crs.wgs84_to_gcj02(116.404, 39.915) == pytest.approx(
        (116.41024449916938, 39.91640428150164), abs=1e-9
    )
    assert crs.gcj02_to_bd09(116.404, 39.915) == pytest.approx(
        (116.41036949371029, 39.92133699351021), abs=1e-9
    )
    # Its inverses are the crude one-step approximations (~5e-7 degree off); ours agree
    # to that level but are exact inverses of the forward formulas.
    gcj = crs.bd09_to_gcj02(116.404, 39.915)
    assert gcj == pytest.approx((116.39762729119315, 39.90865673957631), abs=1e-5)
    assert crs.gcj02_to_bd09(*gcj) == pytest.approx((116.404, 39.915), abs=ROUND_TRIP_TOL)
    wgs = crs.gcj02_to_wgs84(116.404, 39.915)
    assert wgs == pytest.approx((116.39775550083061, 39.91359571849836), abs=1e-5)
    assert crs.wgs84_to_gcj02(*wgs) == pytest.approx((116.404, 39.915), abs=ROUND_TRIP_TOL)


def test_bd09_of_tiananmen_gcj02():
    lon, lat = crs.gcj02_to_bd09(116.403701, 39.910591)
    assert (lon, lat) == pytest.approx(_ref_gcj02_to_bd09(116.403701, 39.910591), abs=1e-12)
    assert lon == pytest.approx(116.41007, abs=1e-4)
    assert lat == pytest.approx(39.91693, abs=1e-4)


# --------------------------------------------------------------------------- properties


@settings(max_examples=200)
@given(china_points)
@example((105.0, 35.0))  # the sqrt(|lon - 105|) cusp of the offset formula
def test_forward_matches_scalar_reference(p):
    assert crs.wgs84_to_gcj02(*p) == pytest.approx(_ref_wgs84_to_gcj02(*p), abs=1e-11)
    assert crs.gcj02_to_bd09(*p) == pytest.approx(_ref_gcj02_to_bd09(*p), abs=1e-11)


@settings(max_examples=300)
@given(china_points)
@example((105.0, 35.0))
@example((73.0, 18.0))
@example((135.0, 53.0))
def test_round_trip_wgs84_gcj02(p):
    lon, lat = crs.gcj02_to_wgs84(*crs.wgs84_to_gcj02(*p))
    assert abs(lon - p[0]) < ROUND_TRIP_TOL
    assert abs(lat - p[1]) < ROUND_TRIP_TOL
    # and the other way round: the inverse is an exact inverse of the forward function
    lon, lat = crs.wgs84_to_gcj02(*crs.gcj02_to_wgs84(*p))
    assert abs(lon - p[0]) < ROUND_TRIP_TOL
    assert abs(lat - p[1]) < ROUND_TRIP_TOL


@settings(max_examples=300)
@given(china_points)
@example((105.0, 35.0))
def test_round_trip_wgs84_bd09(p):
    lon, lat = crs.bd09_to_wgs84(*crs.wgs84_to_bd09(*p))
    assert abs(lon - p[0]) < ROUND_TRIP_TOL
    assert abs(lat - p[1]) < ROUND_TRIP_TOL


@settings(max_examples=300)
@given(china_points)
def test_round_trip_gcj02_bd09(p):
    lon, lat = crs.bd09_to_gcj02(*crs.gcj02_to_bd09(*p))
    assert abs(lon - p[0]) < ROUND_TRIP_TOL
    assert abs(lat - p[1]) < ROUND_TRIP_TOL
    lon, lat = crs.gcj02_to_bd09(*crs.bd09_to_gcj02(*p))
    assert abs(lon - p[0]) < ROUND_TRIP_TOL
    assert abs(lat - p[1]) < ROUND_TRIP_TOL


def test_round_trips_on_dense_grid():
    lon, lat = np.meshgrid(np.linspace(73, 135, 249), np.linspace(18, 53, 141))
    for forward, inverse in [
        (crs.wgs84_to_gcj02, crs.gcj02_to_wgs84),
        (crs.wgs84_to_bd09, crs.bd09_to_wgs84),
        (crs.gcj02_to_bd09, crs.bd09_to_gcj02),
    ]:
        back_lon, back_lat = inverse(*forward(lon, lat))
        assert back_lon.shape == lon.shape
        assert np.abs(back_lon - lon).max() < ROUND_TRIP_TOL
        assert np.abs(back_lat - lat).max() < ROUND_TRIP_TOL


ALL_CONVERSIONS = [
    crs.wgs84_to_gcj02,
    crs.gcj02_to_wgs84,
    crs.gcj02_to_bd09,
    crs.bd09_to_gcj02,
    crs.wgs84_to_bd09,
    crs.bd09_to_wgs84,
]


@settings(max_examples=100)
@given(outside_points)
@example((0.0, 0.0))
@example((72.0, 30.0))
@example((138.0, 30.0))
@example((116.0, 0.8))
@example((116.0, 56.0))
@example((-0.1276, 51.5072))  # London
def test_out_of_china_points_unchanged(p):
    assert crs.out_of_china(*p) is True
    for convert in ALL_CONVERSIONS:
        assert convert(*p) == p, convert.__name__
    for name in crs.SUPPORTED_CRS:
        if name != "cgcs2000":
            assert crs.to_wgs84(*p, name) == p
            assert crs.from_wgs84(*p, name) == p


def test_out_of_china_box():
    assert crs.out_of_china(116.4, 39.9) is False
    assert crs.out_of_china(72.004, 0.8293) is False  # edges are inside
    assert crs.out_of_china(137.8347, 55.8271) is False
    result = crs.out_of_china(np.array([0.0, 116.4, 140.0]), np.array([0.0, 39.9, 30.0]))
    assert isinstance(result, np.ndarray)
    assert result.tolist() == [True, False, True]


@settings(max_examples=50)
@given(st.lists(st.one_of(china_points, outside_points), min_size=1, max_size=40))
def test_vectorized_equals_scalar(points):
    lons = np.array([p[0] for p in points])
    lats = np.array([p[1] for p in points])
    for convert in ALL_CONVERSIONS:
        vec_lon, vec_lat = convert(lons, lats)
        assert isinstance(vec_lon, np.ndarray)
        assert vec_lon.shape == lons.shape
        scalar = [convert(lon, lat) for lon, lat in points]
        np.testing.assert_allclose(vec_lon, [s[0] for s in scalar], rtol=0, atol=1e-12)
        np.testing.assert_allclose(vec_lat, [s[1] for s in scalar], rtol=0, atol=1e-12)


@settings(max_examples=200)
@given(china_points)
def test_offsets_in_plausible_range(p):
    lon, lat = p
    g_lon, g_lat = crs.wgs84_to_gcj02(lon, lat)
    gcj_offset = _offset_m(np.float64(lon), np.float64(lat), g_lon, g_lat)
    # The published formula's offset dips to ~17.5 m along a band near 96.6°E (Qinghai/Gansu);
    # across populated eastern China it is a few hundred metres.
    assert 10.0 < gcj_offset < 1000.0
    if lon >= 100.0:
        assert 50.0 < gcj_offset < 1000.0
    b_lon, b_lat = crs.gcj02_to_bd09(g_lon, g_lat)
    assert 500.0 < _offset_m(np.float64(g_lon), np.float64(g_lat), b_lon, b_lat) < 1200.0


def test_offset_range_on_grid():
    lon, lat = np.meshgrid(np.linspace(73, 135, 311), np.linspace(18, 53, 176))
    offset = _offset_m(lon, lat, *crs.wgs84_to_gcj02(lon, lat))
    assert 10.0 < offset.min() < 50.0  # the ~97°E low band
    assert 600.0 < offset.max() < 1000.0
    east = lon >= 100.0
    assert offset[east].min() > 50.0


# --------------------------------------------------------------------------- input/output kinds


def test_scalar_inputs_give_floats():
    for convert in ALL_CONVERSIONS:
        lon, lat = convert(116.4, 39.9)
        assert type(lon) is float and type(lat) is float
        lon, lat = convert(116, 40)  # ints
        assert type(lon) is float and type(lat) is float
        lon, lat = convert(np.float64(116.4), np.float32(39.9))
        assert type(lon) is float and type(lat) is float


def test_array_inputs_give_arrays_and_broadcast():
    lons = np.array([[116.4, 121.5], [113.9, 104.1]])
    lon, lat = crs.wgs84_to_gcj02(lons, 30.0)
    assert isinstance(lon, np.ndarray) and lon.shape == (2, 2) and lon.dtype == np.float64
    assert lat.shape == (2, 2)
    assert lon[1, 0] == pytest.approx(crs.wgs84_to_gcj02(113.9, 30.0)[0], abs=1e-12)
    lon, lat = crs.bd09_to_wgs84([116.4, 121.5], [39.9, 31.2])  # lists count as arrays
    assert isinstance(lon, np.ndarray) and lon.shape == (2,)
    empty_lon, empty_lat = crs.gcj02_to_wgs84(np.array([]), np.array([]))
    assert empty_lon.shape == (0,) and empty_lat.shape == (0,)


def test_inputs_not_mutated():
    lons = np.array([116.4, 121.5])
    lats = np.array([39.9, 31.2])
    crs.gcj02_to_wgs84(lons, lats)
    out_lon, _ = crs.to_wgs84(lons, lats, "wgs84")
    out_lon[0] = 0.0
    assert lons.tolist() == [116.4, 121.5]
    assert lats.tolist() == [39.9, 31.2]


def test_nan_propagates():
    lon, lat = crs.gcj02_to_wgs84(np.array([np.nan, 116.4]), np.array([30.0, 39.9]))
    assert np.isnan(lon[0])
    assert np.isfinite(lon[1]) and np.isfinite(lat[1])


# --------------------------------------------------------------------------- CRS names


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (None, "wgs84"),
        ("", "wgs84"),
        ("wgs84", "wgs84"),
        ("WGS84", "wgs84"),
        ("epsg:4326", "wgs84"),
        ("EPSG:4326", "wgs84"),
        ("4326", "wgs84"),
        ("cgcs2000", "cgcs2000"),
        ("CGCS2000", "cgcs2000"),
        ("epsg:4490", "cgcs2000"),
        ("4490", "cgcs2000"),
        ("gcj02", "gcj02"),
        ("GCJ-02", "gcj02"),
        ("gcj-02", "gcj02"),
        ("mars", "gcj02"),
        ("Mars", "gcj02"),
        ("bd09", "bd09"),
        ("BD-09", "bd09"),
        ("bd-09", "bd09"),
        ("baidu", "bd09"),
        ("BAIDU", "bd09"),
        (" gcj02 ", "gcj02"),
    ],
)
def test_normalize_crs(name, expected):
    assert crs.normalize_crs(name) == expected
    assert expected in crs.SUPPORTED_CRS


@pytest.mark.parametrize("name", ["utm", "epsg:3857", "3857", "gcj", "bd", "wgs", "epsg:", 4326])
def test_normalize_crs_unknown(name):
    with pytest.raises(crs.UnknownCRS) as excinfo:
        crs.normalize_crs(name)
    message = str(excinfo.value)
    for supported in crs.SUPPORTED_CRS:
        assert supported in message


def test_unknown_crs_is_value_error():
    assert issubclass(crs.UnknownCRS, ValueError)
    with pytest.raises(ValueError):
        crs.to_wgs84(116.4, 39.9, "web-mercator")
    with pytest.raises(crs.UnknownCRS):
        crs.from_wgs84(116.4, 39.9, "osgb36")
    with pytest.raises(crs.UnknownCRS):
        crs.transform_geometry(shapely.Point(116.4, 39.9), "nope")


def test_supported_crs_and_all():
    assert crs.SUPPORTED_CRS == ("wgs84", "cgcs2000", "gcj02", "bd09")
    for name in crs.__all__:
        assert hasattr(crs, name)


# --------------------------------------------------------------------------- dispatch


@settings(max_examples=50)
@given(china_points)
def test_to_from_wgs84_dispatch(p):
    assert crs.to_wgs84(*p, "gcj02") == crs.gcj02_to_wgs84(*p)
    assert crs.to_wgs84(*p, "Baidu") == crs.bd09_to_wgs84(*p)
    assert crs.from_wgs84(*p, "mars") == crs.wgs84_to_gcj02(*p)
    assert crs.from_wgs84(*p, "bd-09") == crs.wgs84_to_bd09(*p)
    assert crs.to_wgs84(*p, None) == p
    assert crs.from_wgs84(*p, "EPSG:4326") == p


@settings(max_examples=50)
@given(china_points)
def test_cgcs2000_is_identity_at_map_scale(p):
    # CGCS2000 and WGS84 differ by centimetres: ~1e-7 degree at most.
    for convert in (crs.to_wgs84, crs.from_wgs84):
        lon, lat = convert(*p, "cgcs2000")
        assert type(lon) is float
        assert abs(lon - p[0]) < 1e-6
        assert abs(lat - p[1]) < 1e-6
    lon, lat = crs.to_wgs84(*crs.from_wgs84(*p, "epsg:4490"), "4490")
    assert (lon, lat) == pytest.approx(p, abs=1e-9)


def test_cgcs2000_arrays():
    lon, lat = crs.to_wgs84(np.array([116.4, 121.5]), np.array([39.9, 31.2]), "cgcs2000")
    assert isinstance(lon, np.ndarray) and lon.shape == (2,)
    np.testing.assert_allclose(lon, [116.4, 121.5], atol=1e-6)
    np.testing.assert_allclose(lat, [39.9, 31.2], atol=1e-6)


# --------------------------------------------------------------------------- geometries

POLYGON = shapely.Polygon(
    [(116.30, 39.85), (116.50, 39.85), (116.50, 40.00), (116.30, 40.00)],
    holes=[[(116.35, 39.90), (116.45, 39.90), (116.45, 39.95), (116.35, 39.95)]],
)
GEOMETRIES = [
    shapely.Point(116.397455, 39.909187),
    POLYGON,
    shapely.MultiPolygon([POLYGON, shapely.box(121.40, 31.15, 121.55, 31.30)]),
    shapely.LineString([(113.90, 22.50), (114.10, 22.55), (114.20, 22.60)]),
]


@pytest.mark.parametrize("geom", GEOMETRIES, ids=lambda g: g.geom_type)
@pytest.mark.parametrize("name", ["gcj02", "bd09", "cgcs2000"])
def test_transform_geometry_preserves_type_and_round_trips(geom, name):
    converted = crs.transform_geometry(geom, name, inverse=True)  # WGS84 -> name
    assert converted.geom_type == geom.geom_type
    assert shapely.get_num_coordinates(converted) == shapely.get_num_coordinates(geom)
    if geom.geom_type == "MultiPolygon":
        assert len(converted.geoms) == len(geom.geoms)
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        assert converted.is_valid

    coords = shapely.get_coordinates(geom)
    new_coords = shapely.get_coordinates(converted)
    exp_lon, exp_lat = crs.from_wgs84(coords[:, 0], coords[:, 1], name)
    np.testing.assert_allclose(new_coords[:, 0], exp_lon, rtol=0, atol=1e-12)
    np.testing.assert_allclose(new_coords[:, 1], exp_lat, rtol=0, atol=1e-12)
    if name != "cgcs2000":
        assert not shapely.equals_exact(converted, geom, tolerance=1e-4)  # it really moved

    back = crs.transform_geometry(converted, name)  # name -> WGS84
    assert back.geom_type == geom.geom_type
    np.testing.assert_allclose(shapely.get_coordinates(back), coords, rtol=0, atol=ROUND_TRIP_TOL)


def test_transform_geometry_wgs84_is_identity():
    for geom in GEOMETRIES:
        assert crs.transform_geometry(geom, "wgs84") is geom
        assert crs.transform_geometry(geom, None, inverse=True) is geom
        assert crs.transform_geometry(geom, "EPSG:4326") is geom


def test_transform_geometry_keeps_z():
    point = shapely.Point(116.4, 39.9, 42.0)
    converted = crs.transform_geometry(point, "gcj02")
    assert converted.has_z
    assert converted.z == 42.0
    assert (converted.x, converted.y) == pytest.approx(crs.gcj02_to_wgs84(116.4, 39.9), abs=1e-12)


def test_transform_geometry_empty():
    assert crs.transform_geometry(shapely.Point(), "bd09").is_empty
