"""The door-plate layer endpoints (geocoding/api_layers.py) end to end through HTTP: the shared range
filter, GeoJSON pages and counts, heatmap, clusters, statistics and exports, bad input, and a
district-level caller who must see nothing of the neighbouring district."""

from __future__ import annotations

import csv
import io
import json

import pytest
import shapely
from openpyxl import load_workbook
from rest_framework.test import APIClient

from accounts.services import user_create
from geocoding.models import DoorPlate
from gis_core.crs import wgs84_to_gcj02
from gis_core.selectors.ranges import Circle, RangeFilter

pytestmark = pytest.mark.django_db

URL = "/api/v1/doors"
A, B = "510502", "510504"
CENTRE = (105.44, 28.87)
POLYGON = shapely.box(105.430, 28.860, 105.446, 28.876)


def circle_count(radius: float) -> int:
    return RangeFilter(circle=Circle(*CENTRE, radius)).apply(DoorPlate.objects.all()).count()


@pytest.fixture
def operator_a(db) -> APIClient:
    user = user_create(username="doors_a", password="Civgrid-Test-2024", roles=["operator"], region_code=A)
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_count_and_pages(api):
    lon, lat = CENTRE
    params = {"lon": lon, "lat": lat, "radius": 800}
    body = api.get(URL, {**params, "count": "true"}).json()
    assert body["count"] == circle_count(800) > 0
    assert body["range"]["circle"] == {"lon": lon, "lat": lat, "radius_m": 800.0}
    page = api.get(URL, {**params, "page_size": 10}).json()
    assert page["type"] == "FeatureCollection" and page["count"] == body["count"]
    assert len(page["features"]) == min(10, body["count"])
    feature = page["features"][0]
    assert feature["geometry"]["type"] == "Point"
    assert {"street", "label", "grid_code", "region_code"} <= set(feature["properties"])
    second = api.get(URL, {**params, "page_size": 10, "page": 2}).json()
    assert {f["id"] for f in second["features"]}.isdisjoint(f["id"] for f in page["features"])


def test_output_follows_crs(api):
    door = DoorPlate.objects.order_by("pk").first()
    gx, gy = wgs84_to_gcj02(door.geom.x, door.geom.y)
    body = api.get(URL, {"crs": "gcj02", "lon": gx, "lat": gy, "radius": 1, "count": "false"}).json()
    assert [f["id"] for f in body["features"]] == [door.pk]
    assert body["features"][0]["geometry"]["coordinates"] == pytest.approx([gx, gy], abs=1e-7)


def test_post_a_drawn_polygon_as_geojson(api):
    truth = RangeFilter(polygon=POLYGON).apply(DoorPlate.objects.all()).count()
    geometry = shapely.geometry.mapping(POLYGON)
    body = api.post(URL + "?page_size=1000", {"polygon": geometry}, format="json").json()
    assert body["count"] == truth == len(body["features"])
    body = api.post(URL, {"polygon": json.dumps(geometry), "count": True}, format="json").json()
    assert body["count"] == truth


@pytest.mark.parametrize(
    ("params", "code"),
    [
        (
            {"polygon": "POLYGON((105.43 28.86, 105.45 28.88, 105.45 28.86, 105.43 28.88, 105.43 28.86))"},
            "invalid_geometry",
        ),
        ({"polygon": "POLYGON((100 25, 110 25, 110 33, 100 33, 100 25))"}, "area_too_large"),
        ({"lon": 105.44, "lat": 28.87, "radius": -1}, "bad_radius"),
        ({"lon": 105.44, "lat": 28.87, "radius": 1e9}, "bad_radius"),
        ({"polygon": "POLYGON((1 2"}, "invalid"),
        ({"count": "maybe"}, "invalid"),
    ],
)
def test_bad_input_is_a_400_in_the_error_shape(api, params, code):
    response = api.get(URL, params)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == code and error["message"]


@pytest.mark.parametrize("shape", ["square", "hex"])
def test_heatmap_bins_add_up(api, shape):
    lon, lat = CENTRE
    body = api.get(
        URL + "/heatmap", {"zoom": 15, "shape": shape, "lon": lon, "lat": lat, "radius": 800}
    ).json()
    assert body["shape"] == shape and body["zoom"] == 15 and body["cell_px"] == 32
    assert body["count"] == sum(b["count"] for b in body["bins"]) == circle_count(800)
    body = api.get(
        URL + "/heatmap", {"size": 300, "shape": shape, "polygons": "true", "weight": "number"}
    ).json()
    assert body["size_m"] == pytest.approx(300, rel=0.01)
    assert body["count"] == DoorPlate.objects.count()
    assert body["weight"] == sum(DoorPlate.objects.values_list("number", flat=True))
    bin0 = body["bins"][0]
    assert bin0["geometry"]["type"] == "Polygon" and "weight" in bin0
    assert shapely.geometry.shape(bin0["geometry"]).contains(shapely.Point(bin0["lon"], bin0["lat"]))


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"zoom": 15, "size": 100},
        {"zoom": 40},
        {"size": 1},
        {"zoom": 15, "shape": "tri"},
        {"zoom": 15, "weight": "x"},
    ],
)
def test_heatmap_bad_input(api, params):
    response = api.get(URL + "/heatmap", params)
    assert response.status_code == 400, response.content


def test_clusters_add_up(api):
    body = api.get(URL + "/clusters", {"zoom": 14}).json()
    assert body["count"] == sum(c["count"] for c in body["clusters"]) == DoorPlate.objects.count()
    lone = [c for c in body["clusters"] if c["count"] == 1]
    assert all("id" in c for c in lone)
    assert all(c["bbox"][0] <= c["lon"] <= c["bbox"][2] for c in body["clusters"])


@pytest.mark.parametrize("by", ["district", "subdistrict", "community", "grid", "road", "month"])
def test_stats_add_up(api, by):
    body = api.get(URL + "/stats", {"by": by}).json()
    assert body["total"] == DoorPlate.objects.count() == sum(r["count"] for r in body["results"])


def test_stats_top_and_bad_by(api):
    body = api.get(URL + "/stats", {"by": "road", "top": 3}).json()
    assert len(body["results"]) == 3
    error = api.get(URL + "/stats", {"by": "colour"}).json()["error"]
    assert "district" in error["message"] and "road" in error["message"]
    assert api.get(URL + "/stats", {"by": "month", "top": 3}).status_code == 400
    assert api.get(URL + "/stats", {"by": "grid", "top": "x"}).status_code == 400


def test_stats_export(api):
    response = api.get(URL + "/stats", {"by": "district", "export": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert 'filename="stats-district.csv"' in response["Content-Disposition"]
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert lines[0] == ["区划代码", "名称", "数量"]
    assert sum(int(r[2]) for r in lines[1:]) == DoorPlate.objects.count()
    response = api.get(URL + "/stats", {"by": "grid", "export": "xlsx"})
    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert sum(r[2] for r in rows[1:]) == DoorPlate.objects.count()
    assert api.get(URL + "/stats", {"by": "grid", "export": "pdf"}).status_code == 400


def test_a_district_caller_sees_only_the_district(operator_a):
    a_count = DoorPlate.objects.filter(grid_code__startswith=A).count()
    everything = {"bbox": "105.40,28.84,105.48,28.90"}
    assert operator_a.get(URL, {**everything, "count": "true"}).json()["count"] == a_count
    assert operator_a.get(URL, {"region": B, "count": "true"}).json()["count"] == 0
    page = operator_a.get(URL, {**everything, "page_size": 1000}).json()
    assert all(f["properties"]["grid_code"].startswith(A) for f in page["features"])
    assert (
        operator_a.get(URL + "/heatmap", {**everything, "zoom": 16, "shape": "hex"}).json()["count"]
        == a_count
    )
    assert operator_a.get(URL + "/clusters", {**everything, "zoom": 16}).json()["count"] == a_count
    for by in ("district", "community", "grid"):
        body = operator_a.get(URL + "/stats", {"by": by}).json()
        assert body["total"] == a_count and all(r["code"].startswith(A) for r in body["results"])
        assert B not in json.dumps(body)


def test_needs_the_geocode_scope(db):
    user = user_create(username="auditor_x", password="Civgrid-Test-2024", roles=["auditor"], region_code=A)
    client = APIClient()
    client.force_authenticate(user)
    assert client.get(URL).status_code == 403
    assert APIClient().get(URL + "/heatmap", {"zoom": 12}).status_code in (401, 403)
