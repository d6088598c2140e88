"""Tests for /api/v1/locate (GET one point, POST many) against the demo city."""

from __future__ import annotations

import math

import pytest
from django.conf import settings

from gis_core.codes import ancestor_codes
from gis_core.crs import from_wgs84
from grids.models import UnitGrid

from .factories import to_shapely

URL = "/api/v1/locate"
CRS = ["wgs84", "cgcs2000", "gcj02", "bd09"]
OUTSIDE = (105.30, 28.70)


@pytest.fixture
def grids(db) -> list[tuple[UnitGrid, float, float]]:
    """A few demo grids with a point well inside each (WGS84)."""
    result = []
    for grid in UnitGrid.objects.filter(code__startswith="5105").order_by("code")[:200:40]:
        p = to_shapely(grid.geom).representative_point()
        result.append((grid, p.x, p.y))
    assert len(result) == 5
    return result


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert {"code", "message", "details"} <= set(error)
    assert isinstance(error["message"], str) and error["message"]
    if code:
        assert error["code"] == code
    return error


# --------------------------------------------------------------------------- GET


def test_get_inside(api, grids):
    grid, lon, lat = grids[0]
    r = api.get(URL, {"lon": lon, "lat": lat})
    assert r.status_code == 200
    body = r.json()
    assert body["inside"] is True
    assert body["grid"] == {"code": grid.code, "name": grid.name}
    assert [x["code"] for x in body["regions"]] == ancestor_codes(grid.community_code)
    assert body["regions"][0]["name"] == "四川省"
    assert body["regions"][-1]["level_name"] == "村级（社区/村）"
    assert body["point"] == {
        "lon": pytest.approx(lon, abs=1e-12),
        "lat": pytest.approx(lat, abs=1e-12),
        "crs": "wgs84",
    }
    assert "message" not in body


def test_get_outside(api):
    r = api.get(URL, {"lon": OUTSIDE[0], "lat": OUTSIDE[1]})
    assert r.status_code == 200
    body = r.json()
    assert body["inside"] is False
    assert body["grid"] is None
    assert body["regions"] == []
    assert body["message"]


@pytest.mark.parametrize("crs", CRS)
def test_get_in_each_crs(api, grids, crs):
    for grid, lon, lat in grids:
        x, y = from_wgs84(lon, lat, crs)
        r = api.get(URL, {"lon": repr(x), "lat": repr(y), "crs": crs})
        assert r.status_code == 200, r.content
        body = r.json()
        assert body["grid"]["code"] == grid.code
        # the echoed point is the WGS84 one
        assert body["point"]["lon"] == pytest.approx(lon, abs=1e-8)
        assert body["point"]["lat"] == pytest.approx(lat, abs=1e-8)


def test_get_converts_shifted_systems(api, grids):
    """Coordinates are really converted: WGS84 numbers read as GCJ-02 or BD-09 land far away."""
    _, lon, lat = grids[0]
    for crs in ("gcj02", "bd09"):
        body = api.get(URL, {"lon": lon, "lat": lat, "crs": crs}).json()
        dx = (body["point"]["lon"] - lon) * 111_320 * math.cos(math.radians(lat))
        dy = (body["point"]["lat"] - lat) * 110_900
        assert 100 < math.hypot(dx, dy) < 2000, crs


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lat": "28.87"}, "lon"),
        ({"lon": "105.44"}, "lat"),
        ({"lon": "", "lat": "28.87"}, "lon"),
        ({"lon": "abc", "lat": "28.87"}, "lon"),
        ({"lon": "105.44", "lat": "28,87"}, "lat"),
        ({"lon": "nan", "lat": "28.87"}, "lon"),
        ({"lon": "105.44", "lat": "NaN"}, "lat"),
        ({"lon": "inf", "lat": "28.87"}, "lon"),
        ({"lon": "105.44", "lat": "-Infinity"}, "lat"),
        ({"lon": "200", "lat": "28.87"}, "lon"),
        ({"lon": "-180.5", "lat": "28.87"}, "lon"),
        ({"lon": "105.44", "lat": "-100"}, "lat"),
        ({"lon": "105.44", "lat": "90.0001"}, "lat"),
    ],
)
def test_get_bad_coordinates(api, params, field):
    error = assert_error(api.get(URL, params), 400)
    assert field in error["message"] or ("经度" if field == "lon" else "纬度") in error["message"]
    assert field in error["details"]


def test_get_unknown_crs(api):
    error = assert_error(api.get(URL, {"lon": 105.44, "lat": 28.87, "crs": "utm48"}), 400, "unknown_crs")
    assert "utm48" in error["message"]
    assert error["details"] == {"crs": "utm48"}


# --------------------------------------------------------------------------- POST


def test_post_pairs_in_input_order(api, grids):
    points = [[lon, lat] for _, lon, lat in grids]
    points.insert(2, list(OUTSIDE))
    r = api.post(URL, {"points": points}, format="json")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["count"] == len(points) == len(body["results"])
    expected = [g.code for g, _, _ in grids]
    expected.insert(2, None)
    assert [(x["grid"] or {}).get("code") for x in body["results"]] == expected
    assert [x["index"] for x in body["results"]] == list(range(len(points)))
    assert body["results"][2]["inside"] is False
    assert body["results"][2]["message"]
    assert all("id" not in x for x in body["results"])
    first = body["results"][0]
    assert first["inside"] is True
    assert [x["code"] for x in first["regions"]] == ancestor_codes(grids[0][0].community_code)


def test_post_objects_with_ids_echoed(api, grids):
    ids = ["事件-1", 42, "b", {"ref": 7}, None]
    points = [{"id": pid, "lon": lon, "lat": lat} for pid, (_, lon, lat) in zip(ids, grids, strict=True)]
    points.append({"id": "outside", "lon": OUTSIDE[0], "lat": OUTSIDE[1]})
    points.reverse()
    body = api.post(URL, {"points": points}, format="json").json()
    results = body["results"]
    assert [x.get("id") for x in results] == [p["id"] for p in points]
    assert "id" not in results[1]  # id None is not echoed
    codes = {str(p["id"]): (r["grid"] or {}).get("code") for p, r in zip(points, results, strict=True)}
    assert codes["outside"] is None
    assert codes["事件-1"] == grids[0][0].code
    assert codes["42"] == grids[1][0].code


def test_post_same_answer_as_get(api, grids):
    points = [[lon + d, lat + d] for _, lon, lat in grids for d in (0, 0.0007, -0.0011)]
    bulk = api.post(URL, {"points": points}, format="json").json()["results"]
    for (lon, lat), many in zip(points, bulk, strict=True):
        one = api.get(URL, {"lon": lon, "lat": lat}).json()
        assert {k: one[k] for k in ("inside", "grid", "regions")} == {
            k: many[k] for k in ("inside", "grid", "regions")
        }


@pytest.mark.parametrize("crs", CRS)
def test_post_in_each_crs(api, grids, crs):
    lons, lats = from_wgs84([g[1] for g in grids], [g[2] for g in grids], crs)
    points = [
        {"id": i, "lon": float(x), "lat": float(y)} for i, (x, y) in enumerate(zip(lons, lats, strict=True))
    ]
    body = api.post(URL, {"crs": crs, "points": points}, format="json").json()
    assert [r["grid"]["code"] for r in body["results"]] == [g.code for g, _, _ in grids]


def test_post_too_many_points(api):
    limit = settings.CIVGRID["LOCATE_MAX_POINTS"]
    assert limit == 10_000
    error = assert_error(
        api.post(URL, {"points": [[105.44, 28.87]] * (limit + 1)}, format="json"), 413, "too_large"
    )
    assert "10000" in error["message"] or "10,000" in error["message"]
    assert error["details"] == {"max": limit}


def test_post_at_the_limit(api):
    limit = settings.CIVGRID["LOCATE_MAX_POINTS"]
    r = api.post(URL, {"points": [list(OUTSIDE)] * limit}, format="json")
    assert r.status_code == 200
    assert r.json()["count"] == limit


@pytest.mark.parametrize(
    "data", [{"points": []}, {}, {"points": None}, {"points": "105.44,28.87"}, {"points": {}}]
)
def test_post_empty_or_missing_points(api, data):
    assert_error(api.post(URL, data, format="json"), 400)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ([105.44], "[lon, lat]"),
        ([105.44, 28.87, 0], "[lon, lat]"),
        ("105.44,28.87", "[lon, lat]"),
        (None, "[lon, lat]"),
        ({"lon": "x", "lat": 28.87}, "lon"),
        ({"lat": 28.87}, "lon"),
        ({"lon": 105.44}, "lat"),
        ({"lon": True, "lat": 28.87}, "lon"),
        ([200, 28.87], "经度"),
        ([105.44, -100], "纬度"),
        (["inf", 28.87], "lon"),
    ],
)
def test_post_malformed_item_names_its_index(api, bad, reason):
    points = [[105.44, 28.87], [105.45, 28.88], bad, [105.46, 28.86]]
    error = assert_error(api.post(URL, {"points": points}, format="json"), 400)
    assert "第 3 个点" in error["message"]
    assert reason in error["message"]
    assert error["details"] == {"index": 2}


@pytest.mark.parametrize(
    "body", ["[[105.44, 28.87]]", '"points"', "42", "null", '[{"lon": 105.44, "lat": 28.87}]']
)
def test_post_body_not_an_object(api, body):
    assert_error(api.post(URL, body, content_type="application/json"), 400)


@pytest.mark.parametrize("body", ["{", '{"points": [[NaN, 28.87]]}', '{"points": [[Infinity, 28.87]]}'])
def test_post_invalid_json(api, body):
    assert_error(api.post(URL, body, content_type="application/json"), 400)


def test_post_unknown_crs(api):
    assert_error(
        api.post(URL, {"crs": "mercator", "points": [[105.44, 28.87]]}, format="json"), 400, "unknown_crs"
    )
