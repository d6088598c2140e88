"""Tests for /api/v1/regions (GeoJSON list and detail), API-wide errors, schema and docs."""

from __future__ import annotations

import math
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
import shapely
from django.contrib.gis.geos import Polygon
from django.contrib.staticfiles import finders
from django.urls import include, path
from drf_spectacular.generators import SchemaGenerator

from gis_core.crs import from_wgs84, wgs84_to_gcj02
from gis_core.models import Region, RegionLevel

from .factories import to_shapely
from .test_api_locate import assert_error

URL = "/api/v1/regions"
CITY = "510500000000"
DISTRICT = "510502000000"


@pytest.fixture
def community(db) -> Region:
    return (
        Region.objects.filter(code__startswith="5105", level=RegionLevel.COMMUNITY).order_by("code").first()
    )


def _codes(body: dict) -> list[str]:
    return [f["id"] for f in body["features"]]


def _vertices(geometry: dict) -> int:
    return len(shapely.get_coordinates(shapely.geometry.shape(geometry)))


# --------------------------------------------------------------------------- list filters


def test_list_is_a_feature_collection(api):
    r = api.get(URL, {"level": 1})
    assert r.status_code == 200
    body = r.json()
    assert body["type"] == "FeatureCollection"
    assert body["count"] == 31
    assert body["next"] is None
    feature = body["features"][0]
    assert feature["type"] == "Feature"
    assert feature["id"] == "110000000000"
    assert feature["properties"]["name"] == "北京市"
    assert feature["properties"]["level_name"] == "省级"
    assert feature["properties"]["parent_code"] is None
    assert {f["properties"]["level"] for f in body["features"]} == {1}


def test_list_by_parent(api):
    expected = list(Region.objects.filter(parent__code=CITY).order_by("code").values_list("code", flat=True))
    assert len(expected) == 7
    for parent in ("5105", "510500", CITY):
        body = api.get(URL, {"parent": parent}).json()
        assert _codes(body) == expected
        assert {f["properties"]["parent_code"] for f in body["features"]} == {CITY}


def test_list_by_parent_and_level(api):
    body = api.get(URL, {"parent": DISTRICT, "level": 4, "page_size": 1000}).json()
    assert body["count"] == Region.objects.filter(parent__code=DISTRICT).count() > 5
    assert body["count"] == len(body["features"])
    assert api.get(URL, {"parent": DISTRICT, "level": 5}).json()["count"] == 0


def test_list_by_name(api):
    body = api.get(URL, {"q": "鼓楼", "level": 3}).json()
    assert body["count"] >= 4
    assert {f["properties"]["name"] for f in body["features"]} == {"鼓楼区"}
    parents = {f["properties"]["parent_code"] for f in body["features"]}
    assert {"320100000000", "350100000000"} <= parents
    body = api.get(URL, {"q": " 鼓楼 ", "page_size": 1000}).json()
    assert body["count"] > 4  # streets named 鼓楼街道 too
    assert all("鼓楼" in f["properties"]["name"] for f in body["features"])


@pytest.mark.parametrize("flag", ["true", "1"])
def test_list_has_geometry(api, flag):
    body = api.get(URL, {"has_geometry": flag, "page_size": 1000}).json()
    assert body["count"] == Region.objects.with_geometry().count() > 30
    assert all(f["geometry"]["type"] == "MultiPolygon" for f in body["features"])
    assert all(f["properties"]["area_m2"] > 0 for f in body["features"])
    assert api.get(URL, {"has_geometry": "false"}).json()["count"] == Region.objects.count()


def _small_bbox(region: Region, half: float = 0.0003) -> tuple[float, float, float, float]:
    p = to_shapely(region.geom).representative_point()
    return p.x - half, p.y - half, p.x + half, p.y + half


def _expected_in_bbox(bbox, level: int) -> list[str]:
    qs = Region.objects.filter(level=level, geom__intersects=Polygon.from_bbox(bbox)).order_by("code")
    return list(qs.values_list("code", flat=True))


def test_list_bbox(api, community):
    bbox = _small_bbox(community)
    body = api.get(URL, {"bbox": ",".join(map(repr, bbox)), "level": 5}).json()
    assert community.code in _codes(body)
    assert _codes(body) == _expected_in_bbox(bbox, 5)
    # the city, its district and street all intersect; nothing of another province does
    body = api.get(URL, {"bbox": ",".join(map(repr, bbox)), "page_size": 1000}).json()
    assert {CITY, community.code} <= set(_codes(body))
    assert all(code.startswith("5105") for code in _codes(body))
    far = api.get(URL, {"bbox": "100,30,100.1,30.1"}).json()
    assert far["count"] == 0


def test_list_bbox_in_gcj02(api, community):
    bbox = _small_bbox(community)
    (x0, x1), (y0, y1) = from_wgs84(np.array([bbox[0], bbox[2]]), np.array([bbox[1], bbox[3]]), "gcj02")
    gcj = ",".join(repr(float(v)) for v in (x0, y0, x1, y1))
    body = api.get(URL, {"bbox": gcj, "crs": "gcj02", "level": 5}).json()
    assert _codes(body) == _expected_in_bbox(bbox, 5)
    assert community.code in _codes(body)
    # the same numbers read as WGS84 select the regions ~500 m away instead
    shifted = (float(x0), float(y0), float(x1), float(y1))
    body = api.get(URL, {"bbox": gcj, "level": 5}).json()
    assert _codes(body) == _expected_in_bbox(shifted, 5)


@pytest.mark.parametrize(
    "bbox",
    [
        "1,2,3",
        "1,2,3,4,5",
        "a,b,c,d",
        "105.5,28.8,105.4,28.9",
        "105.4,28.9,105.5,28.8",
        "105,28,nan,29",
        "105,28,200,29",
    ],
)
def test_list_bad_bbox(api, bbox):
    assert_error(api.get(URL, {"bbox": bbox}), 400)


def test_list_simplify(api):
    full = api.get(URL, {"has_geometry": "true", "level": 2}).json()["features"][0]
    simple = api.get(URL, {"has_geometry": "true", "level": 2, "simplify": 100}).json()["features"][0]
    assert full["id"] == simple["id"] == CITY
    assert simple["geometry"]["type"] == "MultiPolygon"
    geom = shapely.geometry.shape(simple["geometry"])
    assert geom.is_valid
    assert _vertices(simple["geometry"]) < _vertices(full["geometry"]) / 2
    # still the same city, within the tolerance
    assert geom.symmetric_difference(shapely.geometry.shape(full["geometry"])).area < 0.05 * geom.area


def test_detail_simplify(api):
    full = api.get(f"{URL}/{DISTRICT}").json()
    simple = api.get(f"{URL}/{DISTRICT}", {"simplify": "50"}).json()
    assert _vertices(simple["geometry"]) < _vertices(full["geometry"])
    assert simple["geometry"]["type"] == full["geometry"]["type"] == "MultiPolygon"
    assert shapely.geometry.shape(simple["geometry"]).is_valid
    assert simple["properties"]["chain"] == full["properties"]["chain"]
    # simplify=0 means no simplification
    assert api.get(f"{URL}/{DISTRICT}", {"simplify": "0"}).json()["geometry"] == full["geometry"]


@pytest.mark.parametrize("value", ["-1", "1001", "abc", "nan"])
def test_bad_simplify(api, value):
    assert_error(api.get(URL, {"simplify": value}), 400)


@pytest.mark.parametrize(
    "params", [{"level": "9"}, {"level": "abc"}, {"level": "0"}, {"parent": "abc"}, {"parent": "123"}]
)
def test_bad_filters(api, params):
    assert_error(api.get(URL, params), 400)


# --------------------------------------------------------------------------- pagination


def test_pagination(api):
    total = Region.objects.filter(level=RegionLevel.DISTRICT).count()
    first = api.get(URL, {"level": 3}).json()
    assert first["count"] == total > 2000
    assert len(first["features"]) == 100
    assert first["previous"] is None
    query = parse_qs(urlparse(first["next"]).query)
    assert query["page"] == ["2"]
    assert query["level"] == ["3"]
    second = api.get(URL, {"level": 3, "page": 2}).json()
    codes = _codes(first) + _codes(second)
    assert codes == sorted(codes)
    assert len(set(codes)) == 200
    assert second["previous"] is not None


def test_page_size(api):
    body = api.get(URL, {"level": 3, "page_size": 5}).json()
    assert len(body["features"]) == 5
    assert parse_qs(urlparse(body["next"]).query)["page_size"] == ["5"]
    assert len(api.get(URL, {"level": 4, "page_size": 5000}).json()["features"]) == 1000


def test_page_out_of_range(api):
    assert_error(api.get(URL, {"level": 1, "page": 99}), 404)


# --------------------------------------------------------------------------- output crs


def test_gcj02_output_is_shifted(api, community):
    wgs = api.get(f"{URL}/{community.code}").json()["geometry"]
    gcj = api.get(f"{URL}/{community.code}", {"crs": "gcj02"}).json()["geometry"]
    assert gcj["type"] == wgs["type"] == "MultiPolygon"
    a = shapely.get_coordinates(shapely.geometry.shape(wgs))
    b = shapely.get_coordinates(shapely.geometry.shape(gcj))
    assert a.shape == b.shape
    ex, ey = wgs84_to_gcj02(a[:, 0], a[:, 1])
    assert np.abs(b[:, 0] - ex).max() < 2e-7  # 7 decimals in the output
    assert np.abs(b[:, 1] - ey).max() < 2e-7
    lat = math.radians(a[0, 1])
    metres = np.hypot((b[:, 0] - a[:, 0]) * 111_320 * math.cos(lat), (b[:, 1] - a[:, 1]) * 110_900)
    assert (metres > 100).all()
    assert (metres < 1000).all()


def test_gcj02_output_in_the_list(api, community):
    params = {"parent": community.parent.code, "level": 5}
    wgs = api.get(URL, params).json()["features"]
    gcj = api.get(URL, {**params, "crs": "gcj02"}).json()["features"]
    assert [f["id"] for f in wgs] == [f["id"] for f in gcj]
    for a, b in zip(wgs, gcj, strict=True):
        dx = np.array(shapely.geometry.shape(b["geometry"]).centroid.coords) - np.array(
            shapely.geometry.shape(a["geometry"]).centroid.coords
        )
        assert 0.001 < np.abs(dx).max() < 0.01  # hundreds of metres


def test_unknown_output_crs(api):
    error = assert_error(api.get(URL, {"crs": "osgb36"}), 400, "unknown_crs")
    assert "osgb36" in error["message"]


# --------------------------------------------------------------------------- detail


@pytest.mark.parametrize("code", ["510502", DISTRICT, f"{DISTRICT}/"])
def test_detail_of_a_district(api, code):
    r = api.get(f"{URL}/{code}")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["id"] == DISTRICT
    assert body["geometry"]["type"] == "MultiPolygon"
    props = body["properties"]
    assert props["name"] == "江阳区"
    assert [c["name"] for c in props["chain"]] == ["四川省", "泸州市", "江阳区"]
    assert [c["code"] for c in props["chain"]] == ["510000000000", CITY, DISTRICT]
    assert props["children"] == Region.objects.filter(parent__code=DISTRICT).count() > 0


def test_detail_of_a_community(api, community):
    body = api.get(f"{URL}/{community.code}").json()
    assert body["id"] == community.code
    props = body["properties"]
    assert [c["level"] for c in props["chain"]] == [1, 2, 3, 4, 5]
    assert props["chain"][-1] == {
        "code": community.code,
        "name": community.name,
        "level": 5,
        "level_name": "村级（社区/村）",
    }
    assert props["children"] == 0
    assert props["area_m2"] == pytest.approx(community.area_m2)


def test_detail_of_a_province_without_geometry(api):
    body = api.get(f"{URL}/51").json()
    assert body["id"] == "510000000000"
    assert body["geometry"] is None
    assert body["properties"]["chain"] == [
        {"code": "510000000000", "name": "四川省", "level": 1, "level_name": "省级"}
    ]
    assert body["properties"]["children"] == Region.objects.filter(parent__code="510000000000").count() > 10


@pytest.mark.parametrize("code", ["510599", "999999999999", "0000"])
def test_detail_unknown_code(api, code):
    assert_error(api.get(f"{URL}/{code}"), 404, "not_found")


@pytest.mark.parametrize("code", ["abc", "123", "5105020010010", "51a", "５１０５", "51050200100"])
def test_detail_bad_code_is_a_json_error(api, code):
    r = api.get(f"{URL}/{code}")
    assert r.status_code in (400, 404)
    assert_error(r, r.status_code)


# --------------------------------------------------------------------------- API-wide


@pytest.mark.parametrize("url", ["/api/v1/nope", "/api/v1/regions/510502/nope", "/api/v2/regions"])
def test_unknown_api_path(api, url):
    error = assert_error(api.get(url), 404, "not_found")
    assert url in error["message"]


def test_schema_of_gis_core_endpoints():
    patterns = [path("api/v1/", include("gis_core.urls"))]
    schema = SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)
    assert "/api/v1/locate" in schema["paths"]
    assert {"get", "post"} <= set(schema["paths"]["/api/v1/locate"])
    assert {"/api/v1/regions/", "/api/v1/regions/{code}/"} <= set(schema["paths"])
    region = schema["components"]["schemas"]["Region"]
    assert region["properties"]["geometry"]["properties"]["type"]["enum"] == ["MultiPolygon"]


def test_schema_endpoint(api):
    r = api.get("/api/schema/", {"format": "json"})
    assert r.status_code == 200, r.content[:500]
    schema = r.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "civgrid API"
    assert "/api/v1/locate" in schema["paths"]
    assert {"/api/v1/regions/", "/api/v1/grids/", "/api/v1/grids/topology"} <= set(schema["paths"])


def test_schema_names_the_authentication_each_operation_accepts(api):
    schema = api.get("/api/schema/", {"format": "json"}).json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {**schemes["ApiKey"], "type": "http", "scheme": "bearer"}
    param = {"type": "apiKey", "in": "query", "name": "api_key"}
    assert schemes["ApiKeyParam"] == {**schemes["ApiKeyParam"], **param}

    def accepted(path: str) -> set[str]:
        return {name for item in schema["paths"][path]["get"]["security"] for name in item}

    assert {"ApiKey", "cookieAuth"} <= accepted("/api/v1/locate")
    assert "ApiKeyParam" not in accepted("/api/v1/locate")  # a key in a URL only where Open311 needs it
    open311 = [p for p in schema["paths"] if p.startswith("/api/v1/open311/v2/requests")]
    assert open311 and all("ApiKeyParam" in accepted(p) for p in open311)


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("src", "href"):
            if tag in ("script", "link", "img", "iframe") and attrs.get(name):
                self.urls.append(attrs[name])


def test_redoc_is_not_served(api):
    # drf-spectacular's ReDoc page links Google Fonts; deployments are offline, so only Swagger UI is served
    assert api.get("/api/redoc/").status_code == 404


def test_docs_use_only_local_assets(api):
    r = api.get("/api/docs/")
    assert r.status_code == 200
    assert r["Content-Type"].startswith("text/html")
    html = r.content.decode()
    parser = _Assets()
    parser.feed(html)
    assert any(u.endswith(".js") for u in parser.urls)
    for asset in parser.urls:
        assert asset.startswith("/static/"), asset
        assert finders.find(asset.removeprefix("/static/")), asset  # served by the project
    assert "http://" not in html.replace("http://testserver", "")
    assert "https://" not in html
