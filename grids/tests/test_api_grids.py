"""Tests for grids.api: the unit grid GeoJSON endpoints and the topology check endpoint."""

from __future__ import annotations

import math

import pytest
import shapely
from shapely.geometry import shape

from gis_core import crs as crs_mod
from gis_core.tests.test_imports import TEST_COMMUNITY, carve_community, local_polygon
from grids.models import UnitGrid
from grids.selectors.topology import topology_check
from grids.services.grids import GridInput, grids_upsert
from grids.tests.test_topology import build_faulty_community

GRIDS = "/api/v1/grids"
DISTRICT, STREET, COMMUNITY = "510502", "510502001", "510502001001"  # 江阳区 / 南城街道 / 白湖社区
GRID = "510502001001001"


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()["error"]
    assert body["code"] == code and body["message"]
    return body


def _stored(code: str):
    return shapely.from_wkb(bytes(UnitGrid.objects.get(code=code).geom.wkb))


@pytest.mark.parametrize(
    ("region", "field"),
    [
        (DISTRICT, "district_code"),
        (STREET, "street_code"),
        (COMMUNITY, "community_code"),
        (f"{STREET}000", "street_code"),
    ],
)
def test_list_by_region(api, region, field):
    response = api.get(GRIDS, {"region": region, "page_size": 1000})

    assert response.status_code == 200, response.content
    body = response.json()
    expected = UnitGrid.objects.filter(**{field: region.ljust(12, "0")})
    assert body["type"] == "FeatureCollection"
    assert body["count"] == len(body["features"]) == expected.count() > 0
    assert sorted(f["id"] for f in body["features"]) == sorted(expected.values_list("code", flat=True))
    assert all(f["properties"][field] == region.ljust(12, "0") for f in body["features"])


def test_list_by_kind(api):
    key = api.get(GRIDS, {"region": DISTRICT, "kind": "key"}).json()
    general = api.get(GRIDS, {"region": DISTRICT, "kind": "general"}).json()
    assert {f["properties"]["kind"] for f in key["features"]} == {"key"}
    assert key["count"] + general["count"] == UnitGrid.objects.in_region(DISTRICT).count()
    assert key["features"][0]["properties"]["kind_name"] == "重点网格"

    body = _error(api.get(GRIDS, {"kind": "urgent"}), 400, "invalid")
    assert body["details"] == {"kind": "urgent"}
    _error(api.get(GRIDS, {"region": "51x"}), 400, "invalid")


def test_list_by_bbox(api):
    grid = UnitGrid.objects.get(code=GRID)
    x0, y0, x1, y1 = grid.geom.extent
    body = api.get(GRIDS, {"bbox": f"{x0},{y0},{x1},{y1}", "page_size": 1000}).json()
    codes = {f["id"] for f in body["features"]}
    assert GRID in codes and len(codes) < UnitGrid.objects.count()
    assert codes == set(
        UnitGrid.objects.filter(geom__intersects=grid.geom.envelope).values_list("code", flat=True)
    )
    _error(api.get(GRIDS, {"bbox": "1,2,3"}), 400, "invalid")


def test_crs_gcj02_output(api):
    body = api.get(GRIDS, {"region": COMMUNITY, "crs": "gcj02"}).json()
    feature = next(f for f in body["features"] if f["id"] == GRID)
    expected = crs_mod.transform_geometry(_stored(GRID), "gcj02", inverse=True)
    assert shapely.hausdorff_distance(shape(feature["geometry"]), expected) < 1e-6
    assert shapely.hausdorff_distance(shape(feature["geometry"]), _stored(GRID)) > 1e-3
    _error(api.get(GRIDS, {"crs": "mars-2"}), 400, "unknown_crs")


def test_simplify(api):
    carve_community()
    wavy = local_polygon(
        [
            (
                200 + 150 * math.cos(t / 100 * math.tau) + 2 * math.sin(t),
                150 + 100 * math.sin(t / 100 * math.tau),
            )
            for t in range(100)
        ]
    )
    grids_upsert(items=[GridInput(code=f"{TEST_COMMUNITY}001", name="椭圆网格", geom=wavy)])

    full = api.get(GRIDS, {"region": TEST_COMMUNITY}).json()["features"][0]
    simple = api.get(GRIDS, {"region": TEST_COMMUNITY, "simplify": 10}).json()["features"][0]

    n_full = len(shapely.get_coordinates(shape(full["geometry"])))
    n_simple = len(shapely.get_coordinates(shape(simple["geometry"])))
    assert n_full == 101 and 4 <= n_simple < n_full / 2
    # display simplification only: the stored boundary and its area are untouched
    assert simple["properties"]["area_m2"] == full["properties"]["area_m2"]
    assert shapely.hausdorff_distance(shape(simple["geometry"]), wavy) < 10 / 97_000 * 1.5
    _error(api.get(GRIDS, {"simplify": "5000"}), 400, "invalid")


def test_detail_with_chain(api):
    response = api.get(f"{GRIDS}/{GRID}")
    assert response.status_code == 200
    feature = response.json()
    assert feature["id"] == GRID and feature["properties"]["name"] == "白湖社区第1网格"
    assert [r["code"] for r in feature["properties"]["chain"]] == [
        "510000000000",
        "510500000000",
        "510502000000",
        "510502001000",
        "510502001001",
    ]
    assert shapely.hausdorff_distance(shape(feature["geometry"]), _stored(GRID)) < 1e-7


@pytest.mark.parametrize("path", [f"{GRIDS}/510502001001999", f"{GRIDS}/5105"])
def test_detail_not_found_is_json(api, path):
    _error(api.get(path), 404, "not_found")


# --------------------------------------------------------------------------- topology


def test_topology_endpoint_matches_selector(api):
    build_faulty_community()

    response = api.get(f"{GRIDS}/topology", {"region": TEST_COMMUNITY[:9]})

    assert response.status_code == 200, response.content
    body = response.json()
    [report] = topology_check(region_code=TEST_COMMUNITY[:9])
    assert (body["region"], body["communities"], body["issues"]) == ("510502003000", 1, 5)
    [result] = body["results"]
    assert result == {"community": report.community, "grids": 4, "ok": False, "issues": report.issues}
    assert all(i["location"]["type"] == "Point" for i in result["issues"])


def test_topology_endpoint_clean_demo_district(api):
    body = api.get(f"{GRIDS}/topology", {"region": DISTRICT}).json()
    assert body["communities"] > 0 and body["issues"] == 0
    assert all(r["ok"] for r in body["results"])


@pytest.mark.parametrize("params", [{}, {"region": ""}, {"region": "51x"}, {"region": "510599"}])
def test_topology_endpoint_bad_region(api, params):
    _error(api.get(f"{GRIDS}/topology", params), 400, "invalid")
