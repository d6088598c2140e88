"""Units through the API and services/units.py: writes located on write, all-or-nothing, audited,
scoped; statistics, density, near me, due for review."""

from __future__ import annotations

import pytest

from accounts.models import AuditEntry
from civilization.models import CivilizationUnit, RegionPopulation
from civilization.services.units import UnitInput, units_upsert

from .conftest import A_CODE, A_PREFIX, A, make_unit

URL = "/api/v1/civilization/units"


def test_create_by_point_stores_grid_and_region_chain_and_is_audited(planner_a, points_a):
    p = points_a[0]
    response = planner_a.post(
        URL,
        {
            "name": "江阳测试小学",
            "unit_type": "文明校园",
            "level": "省级",
            "year_awarded": 2022,
            "term": 3,
            "review_year": 2025,
            "lon": p.lon,
            "lat": p.lat,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    props = response.json()["properties"]
    assert (props["unit_type"], props["level"], props["grid_code"]) == ("campus", "provincial", p.grid_code)
    unit = CivilizationUnit.objects.get(pk=response.json()["id"])
    assert unit.region_code == p.grid_code[:12] and unit.district_code == A_CODE
    assert unit.street_code == p.grid_code[:9].ljust(12, "0")
    entry = AuditEntry.objects.get(object_type="civilization.civilizationunit", object_id=str(unit.pk))
    assert entry.action == "create" and entry.actor == "user:planner_a" and entry.region_code == p.grid_code


def test_create_by_address_through_the_geocoder(planner_a, db):
    from geocoding.models import Poi

    poi = Poi.objects.filter(district_code=A_CODE).order_by("pk").first()
    response = planner_a.post(
        URL,
        {
            "name": poi.name,
            "unit_type": "unit",
            "level": "city",
            "year_awarded": 2020,
            "address": poi.name,
            "city": "泸州市",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["properties"]["grid_code"] == poi.grid_code


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"unit_type": "文明食堂"}, "unit_type"),
        ({"level": "乡级"}, "level"),
        ({"year_awarded": 1900}, "year_awarded"),
        ({"review_year": 2010}, "review_year"),
        ({"lon": None, "lat": None, "address": ""}, "point"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(planner_a, points_a, body, field):
    p = points_a[0]
    base = {
        "name": "坏数据",
        "unit_type": "unit",
        "level": "city",
        "year_awarded": 2020,
        "lon": p.lon,
        "lat": p.lat,
    }
    base.update(body)
    base = {k: v for k, v in base.items() if v is not None}
    response = planner_a.post(URL, base, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["details"]
    assert not CivilizationUnit.objects.filter(name="坏数据").exists()


def test_outside_the_jurisdiction_and_duplicates_are_refused(planner_a, points_a, points_b):
    b = points_b[0]
    body = {
        "name": "越界单位",
        "unit_type": "unit",
        "level": "city",
        "year_awarded": 2020,
        "lon": b.lon,
        "lat": b.lat,
    }
    response = planner_a.post(URL, body, format="json")
    assert response.status_code == 400 and "管辖范围" in response.json()["error"]["message"]
    a = points_a[0]
    body.update(lon=a.lon, lat=a.lat)
    assert planner_a.post(URL, body, format="json").status_code == 201
    assert planner_a.post(URL, body, format="json").status_code == 409


def test_update_relocates_and_delete_removes_within_the_jurisdiction(planner_a, planner_b, points_a):
    unit = make_unit("改动单位", "unit", points_a[0])
    assert planner_b.patch(f"{URL}/{unit.pk}", {"level": "national"}, format="json").status_code == 404
    q = points_a[3]
    response = planner_a.patch(
        f"{URL}/{unit.pk}", {"level": "全国", "lon": q.lon, "lat": q.lat}, format="json"
    )
    assert response.status_code == 200, response.content
    unit.refresh_from_db()
    assert unit.level == "national" and unit.grid_code == q.grid_code
    assert planner_a.patch(f"{URL}/{unit.pk}", {"colour": "red"}, format="json").status_code == 400
    assert planner_b.delete(f"{URL}/{unit.pk}").status_code == 404
    assert planner_a.delete(f"{URL}/{unit.pk}").status_code == 204
    assert not CivilizationUnit.objects.filter(pk=unit.pk).exists()
    assert AuditEntry.objects.filter(object_id=str(unit.pk), action="delete").exists()


def test_bulk_upsert_is_all_or_nothing_with_every_bad_row_named(points_a, points_b, db):
    good = UnitInput("批量一", "unit", "city", 2020, point=(points_a[0].lon, points_a[0].lat))
    outside = UnitInput("批量二", "unit", "city", 2020, point=(points_b[0].lon, points_b[0].lat))
    bad_year = UnitInput("批量三", "unit", "city", 1800, point=(points_a[1].lon, points_a[1].lat))
    from gis_core.errors import InvalidInput

    with pytest.raises(InvalidInput) as caught:
        units_upsert(items=[good, outside, bad_year], jurisdiction=A)
    assert [r["row"] for r in caught.value.details["rows"]] == [2, 3]
    assert not CivilizationUnit.objects.filter(name__startswith="批量").exists()
    assert units_upsert(items=[good], jurisdiction=A) == (1, 0)
    assert units_upsert(items=[good], jurisdiction=A) == (0, 1)


def test_list_is_scoped_and_filters_by_review_year(planner_a, points_a):
    make_unit("复查单位", "unit", points_a[0], review_year=2031)
    make_unit("撤销单位", "unit", points_a[1], review_year=2031, status="revoked")
    body = planner_a.get(URL, {"review_year": 2031}).json()
    assert [f["properties"]["name"] for f in body["features"]] == ["复查单位"]
    everything = planner_a.get(URL, {"page_size": 1000}).json()
    assert everything["count"] == CivilizationUnit.objects.filter(grid_code__startswith=A_PREFIX).count()
    assert all(f["properties"]["district_code"] == A_CODE for f in everything["features"])
    assert planner_a.get(URL, {"type": "文明食堂"}).status_code == 400


def test_stats_give_ring_and_bar_chart_data(planner_city, db):
    by_district = planner_city.get(f"{URL}/stats", {"by": "district"}).json()
    counts = [r["count"] for r in by_district["results"]]
    assert counts == sorted(counts, reverse=True) and sum(counts) == by_district["total"] > 0
    by_type = planner_city.get(f"{URL}/stats", {"by": "type"}).json()
    assert sum(r["count"] for r in by_type["results"]) == by_type["total"]
    assert {r["name"] for r in by_type["results"]} <= {
        "文明城市",
        "文明单位",
        "文明村镇",
        "文明校园",
        "文明社区",
        "文明家庭",
    }
    by_level = planner_city.get(f"{URL}/stats", {"by": "level", "export": "xlsx"})
    assert by_level.status_code == 200 and by_level.content[:2] == b"PK"


def test_density_per_10k_residents_and_per_km2(planner_city, db):
    body = planner_city.get("/api/v1/civilization/density", {"by": "district"}).json()
    rows = {r["code"]: r for r in body["results"]}
    a = rows[A_CODE]
    population = RegionPopulation.objects.filter(region_code=A_CODE).order_by("-year").first().population
    count = CivilizationUnit.objects.filter(grid_code__startswith=A_PREFIX).count()
    assert a["count"] == count and a["population"] == population
    assert a["per_10k"] == pytest.approx(count / population * 10_000, rel=1e-3)
    assert a["per_km2"] > 0 and a["area_km2"] > 0
    assert planner_city.get("/api/v1/civilization/density", {"by": "galaxy"}).status_code == 400


def test_near_me_names_the_city_its_figures_and_the_nearest_units(planner_a, points_a):
    p = points_a[2]
    body = planner_a.get("/api/v1/civilization/near", {"lon": p.lon, "lat": p.lat, "limit": 5}).json()
    assert body["city"]["code"] == "510500000000" and body["city"]["name"] == "泸州市"
    assert body["city"]["count"] == CivilizationUnit.objects.filter(grid_code__startswith=A_PREFIX).count()
    distances = [f["properties"]["distance_m"] for f in body["units"]["features"]]
    assert len(distances) == 5 and distances == sorted(distances)
    gcj = planner_a.get("/api/v1/civilization/near", {"lon": p.lon, "lat": p.lat, "crs": "gcj02", "limit": 1})
    assert gcj.status_code == 200
    assert planner_a.get("/api/v1/civilization/near", {"lon": 500, "lat": 0}).status_code == 400
