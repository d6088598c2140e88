"""Area draws (services/areas.py) through the API: points inside a region's boundary, inside a
polygon drawn on the map (clipped to the caller's jurisdiction), along a district's road
centre lines; located on write, balanced, reproducible, verified, replaced and exported."""

from __future__ import annotations

import pytest
import shapely
from django.contrib.gis.measure import D

from civilization.models import AssessmentDraw, DrawReplacement
from geocoding.models import Street
from gis_core.models import Region

from .conftest import A_CODE, A_PREFIX, B_CODE

URL = "/api/v1/civilization/draws"


def _draw(client, *areas, **body):
    body.setdefault("title", "道路测评点位")
    return client.post(URL, {"areas": list(areas), **body}, format="json")


def _shape(code: str):
    return shapely.from_wkb(bytes(Region.objects.get(code=code).geom.wkb))


def _points(body) -> list[shapely.Point]:
    return [shapely.Point(s["lon"], s["lat"]) for s in body["sites"]]


def test_points_inside_a_region_located_balanced_and_verified(planner_a, db):
    area = {"type": "片区", "region": A_PREFIX, "n": 8, "reserves": 3}
    response = _draw(planner_a, area, seed=11)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "area" and body["region_code"] == A_CODE
    (stratum,) = body["strata"]
    assert (stratum["key"], stratum["source"], stratum["drawn"], stratum["reserves_drawn"]) == (
        f"片区|{A_CODE}",
        "region",
        8,
        3,
    )
    assert stratum["balance"] is not None and stratum["srs_balance_mean"] is not None
    assert [s["role"] for s in body["sites"]] == ["base"] * 8 + ["reserve"] * 3
    district = _shape(A_CODE).buffer(1e-6)
    assert all(district.contains(p) for p in _points(body))
    assert len({(s["lon"], s["lat"]) for s in body["sites"]}) == 11
    # located on write: grid and region chain of A
    assert all(s["district_code"] == A_CODE and s["grid_code"].startswith(A_PREFIX) for s in body["sites"])
    # reproducible, and the stored frame reruns to the same points
    again = _draw(planner_a, area, seed=11).json()
    assert [(s["key"], s["lon"], s["lat"]) for s in again["sites"]] == [
        (s["key"], s["lon"], s["lat"]) for s in body["sites"]
    ]
    other = _draw(planner_a, area, seed=12).json()
    assert {(s["lon"], s["lat"]) for s in other["sites"]} != {(s["lon"], s["lat"]) for s in body["sites"]}
    verified = planner_a.get(f"{URL}/{body['id']}/verify").json()
    assert verified["verified"] is True and verified["sites"] == 11
    stored = AssessmentDraw.objects.get(pk=body["id"])
    frame = stored.frame.sites
    frame[0] = {**frame[0], "geometry": shapely.geometry.mapping(shapely.affinity.translate(
        shapely.geometry.shape(frame[0]["geometry"]), 0.001))}  # fmt: skip
    stored.frame.sites = frame
    stored.frame.save()
    assert planner_a.get(f"{URL}/{body['id']}/verify").json()["verified"] is False


def test_points_along_roads_by_length_named_by_their_street(planner_a, db):
    response = _draw(planner_a, {"type": "背街小巷", "roads": A_PREFIX, "n": 6, "reserves": 2}, seed=5)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["strata"][0]["source"] == "roads"
    for site, point in zip(body["sites"], _points(body), strict=True):
        near = Street.objects.filter(district_code=A_CODE, geom__distance_lte=(point.wkt, D(m=1)))
        assert site["name"].split("（")[0] in set(near.values_list("name", flat=True)), site
        assert site["district_code"] == A_CODE


def test_a_drawn_polygon_is_clipped_to_the_callers_jurisdiction(planner_a, db):
    a, b = _shape(A_CODE), _shape(B_CODE)
    box = shapely.box(*shapely.union_all([a, b]).bounds)
    body = _draw(
        planner_a, {"type": "广场周边", "polygon": shapely.geometry.mapping(box), "n": 12}, seed=3
    ).json()
    assert body["strata"][0]["key"] == "广场周边|polygon-1" and len(body["sites"]) == 12
    inside_a = a.buffer(1e-6)
    assert all(inside_a.contains(p) for p in _points(body))
    assert {s["district_code"] for s in body["sites"]} == {A_CODE}
    assert body["region_code"] == A_CODE


def test_replacement_on_a_confirmed_area_draw_and_scope(planner_a, planner_b, db):
    body = _draw(planner_a, {"type": "片区", "region": A_PREFIX, "n": 3, "reserves": 1}, seed=9).json()
    draw_id = body["id"]
    assert planner_a.post(f"{URL}/{draw_id}/confirm").status_code == 200
    site = body["sites"][0]
    replaced = planner_a.post(
        f"{URL}/{draw_id}/replace", {"site": site["id"], "reason": "水域"}, format="json"
    )
    assert replaced.status_code == 200, replaced.content
    assert DrawReplacement.objects.get(draw_id=draw_id).replacement.role == "reserve"
    assert planner_b.get(f"{URL}/{draw_id}").status_code == 404
    page = planner_a.get(f"{URL}/{draw_id}/export", {"format": "html"})
    assert page.status_code == 200 and body["frame_sha256"] in page.content.decode("utf-8")


@pytest.mark.parametrize(
    ("area", "extra", "code"),
    [
        ({"type": "片区", "region": "510504", "n": 2}, {}, "area_out_of_scope"),
        ({"type": "道路", "roads": "510504", "n": 2}, {}, "area_out_of_scope"),
        ({"type": "片区", "region": A_PREFIX, "roads": A_PREFIX, "n": 2}, {}, "bad_area"),
        ({"type": "片区", "n": 2}, {}, "bad_area"),
        ({"type": "片区", "region": A_PREFIX, "n": 0}, {}, "bad_count"),
        ({"type": "片区", "region": A_PREFIX, "n": 2, "reserves": -1}, {}, "bad_count"),
        ({"type": "片区", "region": A_PREFIX, "n": 2}, {"counts": {"学校": 1}}, "mixed_frames"),
        ({"type": "片区", "region": A_PREFIX, "n": 30}, {"min_distance_m": 50_000}, "min_distance_unmet"),
        (
            {
                "type": "远处",
                "polygon": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
                "n": 2,
            },
            {},
            "area_out_of_scope",
        ),
        ({"type": "点", "polygon": {"type": "Point", "coordinates": [105.4, 28.9]}, "n": 2}, {}, "invalid"),
    ],
)
def test_bad_area_draws_are_4xx_and_write_nothing(planner_a, area, extra, code, db):
    before = AssessmentDraw.objects.count()
    response = _draw(planner_a, area, **extra)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert AssessmentDraw.objects.count() == before


def test_duplicate_strata_are_refused(planner_a, db):
    area = {"type": "片区", "region": A_PREFIX, "n": 2}
    assert _draw(planner_a, area, area).json()["error"]["code"] == "duplicate_stratum"


def test_a_nationwide_planner_draws_in_any_region(admin_api, db):
    """No jurisdiction of one's own (the whole country): the draw's region is the area's."""
    response = _draw(admin_api, {"type": "片区", "region": A_PREFIX, "n": 3, "reserves": 1}, seed=5)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["region_code"] == A_CODE
    assert all(s["district_code"] == A_CODE for s in body["sites"])
