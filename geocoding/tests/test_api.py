"""The geocoding endpoints against the demo city in PostGIS: forward, batch, reverse, suggest, bad input."""

from __future__ import annotations

import math

import pytest

from geocoding.models import Building, DoorPlate, Place, Poi
from gis_core.crs import wgs84_to_gcj02

pytestmark = pytest.mark.django_db


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    dx = (a[0] - b[0]) * 111_320 * math.cos(math.radians(a[1]))
    return math.hypot(dx, (a[1] - b[1]) * 111_320)


def _door(**filters) -> DoorPlate:
    return DoorPlate.objects.select_related("street").filter(suffix="", **filters).order_by("id").first()


def _gap() -> tuple[DoorPlate, int]:
    """A door number missing from the gazetteer with neighbours on both sides (same parity)."""
    for door in DoorPlate.objects.select_related("street").filter(suffix="").order_by("street_id", "number"):
        same = set(
            DoorPlate.objects.filter(street__name=door.street.name, suffix="").values_list(
                "number", flat=True
            )
        )
        n = door.number + 2
        if n not in same and any(m > n and m % 2 == n % 2 for m in same):
            return door, n
    pytest.skip("the demo city has no gap in its door numbers")


def test_door_plate_to_point_grid_and_chain(api):
    door = _door()
    body = api.get("/api/v1/geocode", {"q": f"四川省泸州市{door.street.name}{door.label}"}).json()
    assert body["status"] == "ok"
    assert body["match_level"] == "door"
    assert body["confidence"] >= 0.9
    assert _metres((body["location"]["lon"], body["location"]["lat"]), door.geom.coords) < 0.01
    assert body["grid"]["code"] == door.grid_code
    assert [r["level"] for r in body["regions"]] == [1, 2, 3, 4, 5]
    assert body["regions"][-1]["code"] == door.region_code
    assert body["address"].startswith("四川省泸州市")
    assert body["address"].endswith(f"{door.street.name}{door.label}")
    assert body["components"]["road"] == door.street.name


def test_missing_number_is_interpolated(api):
    door, missing = _gap()
    body = api.get("/api/v1/geocode", {"q": f"泸州市{door.street.name}{missing}号"}).json()
    assert body["match_level"] == "interpolated"
    assert 0.5 < body["confidence"] < 0.95
    # between its neighbours: within ~the spacing of door plates from the lower one
    assert _metres((body["location"]["lon"], body["location"]["lat"]), door.geom.coords) < 150


def test_building_in_compound(api):
    building = Building.objects.select_related("place").filter(place__isnull=False).first()
    body = api.get(
        "/api/v1/geocode", {"q": f"泸州市{building.place.name}{building.number}栋2单元301室"}
    ).json()
    assert body["match_level"] == "building"
    assert _metres((body["location"]["lon"], body["location"]["lat"]), building.geom.coords) < 0.01
    assert body["address"].endswith(f"{building.place.name}{building.number}栋2单元301室")


def test_poi_and_compound(api):
    poi = Poi.objects.first()
    body = api.get("/api/v1/geocode", {"q": poi.name}).json()
    assert (body["match_level"], body["match_kind"]) == ("poi", "poi")
    place = Place.objects.first()
    body = api.get("/api/v1/geocode", {"q": f"泸州{place.name}"}).json()
    assert (body["match_level"], body["match_kind"]) == ("poi", "compound")


def test_output_crs(api):
    door = _door()
    q = f"泸州市{door.street.name}{door.label}"
    body = api.get("/api/v1/geocode", {"q": q, "crs": "gcj02"}).json()
    gx, gy = wgs84_to_gcj02(*door.geom.coords)
    assert body["location"]["crs"] == "gcj02"
    assert _metres((body["location"]["lon"], body["location"]["lat"]), (gx, gy)) < 0.05


def test_city_parameter_resolves_context(api):
    body = api.get("/api/v1/geocode", {"q": "鼓楼区"}).json()
    assert body["status"] == "ambiguous" and body["location"] is None and body["candidates"]
    body = api.get("/api/v1/geocode", {"q": "鼓楼区", "city": "南京"}).json()
    assert body["status"] == "ok" and body["regions"][-1]["code"] == "320106000000"
    body = api.get("/api/v1/geocode", {"q": "鼓楼区", "city": "350100"}).json()
    assert body["regions"][-1]["code"] == "350102000000"
    for bad in ("火星市", "999999"):
        response = api.get("/api/v1/geocode", {"q": "鼓楼区", "city": bad})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_city"


def test_batch_keeps_input_order_and_reports_bad_items(api):
    doors = list(DoorPlate.objects.select_related("street").filter(suffix="").order_by("-id")[:5])
    texts = [f"泸州市{d.street.name}{d.label}" for d in doors]
    items = [texts[0], "", {"id": "x1", "address": texts[1]}, 42, "x" * 600, texts[2], {"id": 7}, texts[3]]
    body = api.post("/api/v1/geocode/batch", {"addresses": items}, format="json").json()
    results = body["results"]
    assert body["count"] == len(items) == len(results)
    assert [r["index"] for r in results] == list(range(len(items)))
    assert [r["status"] for r in results] == [
        "ok",
        "invalid",
        "ok",
        "invalid",
        "invalid",
        "ok",
        "invalid",
        "ok",
    ]
    assert results[2]["id"] == "x1" and results[6]["id"] == 7
    for result, door in zip([results[0], results[2], results[5], results[7]], doors, strict=False):
        assert result["grid"]["code"] == door.grid_code
    assert "过长" in results[4]["message"]


def test_batch_limits(api, settings):
    settings.CIVGRID = {**settings.CIVGRID, "GEOCODE_BATCH_MAX": 3}
    response = api.post("/api/v1/geocode/batch", {"addresses": ["泸州"] * 4}, format="json")
    assert response.status_code == 413
    assert "3" in response.json()["error"]["message"]
    for payload in ({"addresses": []}, {"addresses": "泸州"}, {}, ["泸州"]):
        response = api.post("/api/v1/geocode/batch", payload, format="json")
        assert response.status_code == 400, payload
        assert response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("q", "fragment"),
    [("", "为空"), ("   ", "为空"), ("泸" * 501, "过长"), ("江阳区\x00\x01大山坪路", "控制字符")],
)
def test_bad_single_queries_are_400(api, q, fragment):
    response = api.get("/api/v1/geocode", {"q": q})
    assert response.status_code == 400
    assert fragment in response.json()["error"]["message"]


def test_missing_q_is_400(api):
    response = api.get("/api/v1/geocode")
    assert response.status_code == 400 and "q" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "q", ["'; DROP TABLE geocoding_doorplate; --", "1 OR 1=1", "😀😀😀", "🏠江阳区😀", "%%%___", "<script>"]
)
def test_hostile_text_gets_an_answer_not_an_error(api, q):
    response = api.get("/api/v1/geocode", {"q": q})
    assert response.status_code in (200, 400)
    body = response.json()
    if response.status_code == 400:
        assert "文字" in body["error"]["message"]
    else:
        assert body["status"] in ("ok", "not_found", "ambiguous")
        if body["status"] == "not_found":
            assert body["location"] is None
    assert DoorPlate.objects.exists()


def test_reverse_nearest_door(api):
    door = _door()
    lon, lat = door.geom.coords
    body = api.get("/api/v1/reverse", {"lon": lon + 0.00005, "lat": lat}).json()
    assert body["status"] == "ok"
    # 5 m east of the door: that door (door plates come first among points at the same spot)
    assert body["nearest"]["kind"] == "door"
    assert body["nearest"]["label"] == door.label
    assert 3 <= body["distance_m"] <= 7
    assert body["grid"]["code"] == door.grid_code and body["regions"][0]["name"] == "四川省"
    assert body["address"].endswith(door.street.name + door.label)
    assert body["road"]["name"] == door.street.name


def test_reverse_in_gcj02_and_batch_order(api):
    door = _door()
    gx, gy = wgs84_to_gcj02(*door.geom.coords)
    body = api.get("/api/v1/reverse", {"lon": gx, "lat": gy, "crs": "gcj02"}).json()
    assert body["distance_m"] < 1
    assert body["nearest"]["location"]["crs"] == "gcj02"
    points = [{"id": "far", "lon": 100.0, "lat": 30.0}, [door.geom.x, door.geom.y]]
    body = api.post("/api/v1/reverse", {"points": points}, format="json").json()
    far, near = body["results"]
    assert far["id"] == "far" and far["status"] == "not_found"
    assert near["status"] == "ok" and near["distance_m"] < 1


def test_reverse_radius(api):
    door = _door()
    # 300 m north of a door, with a radius of 10 m: only the region chain
    body = api.get("/api/v1/reverse", {"lon": door.geom.x, "lat": door.geom.y + 0.0027, "radius": 10}).json()
    assert "nearest" not in body
    for bad in ("0", "-5", "99999", "abc"):
        response = api.get("/api/v1/reverse", {"lon": door.geom.x, "lat": door.geom.y, "radius": bad})
        assert response.status_code == 400, bad
    assert api.get("/api/v1/reverse", {"lon": "x", "lat": 1}).status_code == 400


def test_suggest_completes_roads_places_and_doors(api):
    door = _door()
    road = door.street.name
    body = api.get("/api/v1/geocode/suggest", {"q": f"泸州市{road[:2]}"}).json()
    assert any(item["name"] == road for item in body["results"])
    body = api.get("/api/v1/geocode/suggest", {"q": f"{road}{str(door.number)[0]}"}).json()
    assert body["results"] and all(item["kind"] == "door" for item in body["results"])
    assert all(item["name"].startswith(f"{road}{str(door.number)[0]}") for item in body["results"])
    body = api.get("/api/v1/geocode/suggest", {"q": "四川省泸州市江"}).json()
    assert body["results"][0]["name"] == "江阳区"
    # a complete element: what comes below it
    body = api.get("/api/v1/geocode/suggest", {"q": "北京东城"}).json()
    assert body["results"] and all(item["text"].startswith("北京市东城区") for item in body["results"])
    assert all(item["level"] == 4 for item in body["results"])
    assert api.get("/api/v1/geocode/suggest", {"q": ""}).json()["results"] == []
    assert api.get("/api/v1/geocode/suggest", {"q": "泸", "limit": "0"}).status_code == 400
    assert api.get("/api/v1/geocode/suggest").status_code == 400


def test_gazetteer_edits_are_seen_at_once(api):
    door = _door()
    q = f"泸州市{door.street.name}{door.label}"
    assert api.get("/api/v1/geocode", {"q": q}).json()["match_level"] == "door"
    DoorPlate.objects.filter(pk=door.pk).delete()
    assert api.get("/api/v1/geocode", {"q": q}).json()["match_level"] != "door"


def test_region_fallback_answers_the_region_not_the_grid_of_its_centre(api):
    # 分水岭镇 is in the gazetteer but has no boundary in the demo city: its district's point, its chain
    body = api.get("/api/v1/geocode", {"q": "四川省泸州市江阳区分水岭镇"}).json()
    assert body["status"] == "ok"
    assert body["match_level"] == "district"
    assert body["grid"] is None
    assert body["regions"][-1]["name"] == "分水岭镇"
    assert body["address"] == "四川省泸州市江阳区分水岭镇"
    assert body["location"] is not None
    assert body["confidence"] < 0.6
