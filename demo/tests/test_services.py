"""The demo city as written by demo.services into the test database (small, seed 1): its
address gazetteer matches the plan, every point carries its grid and region codes, and a
rebuild leaves nothing of the previous city behind."""

from __future__ import annotations

from django.db.models import F

from demo.services import demo_city_build, demo_city_plan
from geocoding.models import Building, DoorPlate, Place, PlaceKind, Poi

CITY = "5105"


def _door_keys():
    doors = DoorPlate.objects.filter(district_code__startswith=CITY).select_related("street")
    return {(d.street.name, d.number, d.suffix): d.grid_code for d in doors}


def test_demo_city_gazetteer_written_with_codes(db):
    plan = demo_city_plan(seed=1, scale="small")
    doors = DoorPlate.objects.filter(district_code__startswith=CITY)
    assert doors.count() == len(plan.doors) > 300
    assert Place.objects.filter(district_code__startswith=CITY).count() == len(plan.places) > 0
    assert Building.objects.filter(district_code__startswith=CITY).count() == len(plan.buildings) > 0
    assert Poi.objects.filter(district_code__startswith=CITY).count() == len(plan.pois) > 0
    for model in (DoorPlate, Place, Building, Poi):
        rows = model.objects.filter(district_code__startswith=CITY)
        assert not rows.filter(grid_code="").exists(), model
        for grid, region, district in rows.values_list("grid_code", "region_code", "district_code"):
            assert len(grid) == 15 and grid[:12] == region  # region: the community of the grid
            assert district == region[:6] + "000000"
    # the grid stored is the plan's own (each point lies well inside its grid)
    assert _door_keys() == {d.key: d.grid_code for d in plan.doors}


def test_demo_doors_lie_in_their_streets_district(db):
    mismatched = DoorPlate.objects.filter(district_code__startswith=CITY).exclude(
        street__district_code=F("district_code")
    )
    assert not mismatched.exists()


def test_demo_compounds_gates_and_buildings(db):
    places = Place.objects.filter(district_code__startswith=CITY).select_related("door")
    for place in places:
        assert place.kind == PlaceKind.COMPOUND
        assert place.door is not None and place.door.geom.equals_exact(place.geom, 1e-9)
        buildings = place.buildings.all()
        assert 3 <= buildings.count() <= 12
        assert all(place.outline.contains(b.geom) for b in buildings)
        assert {b.grid_code for b in buildings} == {place.grid_code}


def test_rebuild_replaces_the_gazetteer(db):
    plan = demo_city_build(seed=2, scale="small", force=True)
    assert _door_keys() == {d.key: d.grid_code for d in plan.doors}
    assert set(Place.objects.filter(district_code__startswith=CITY).values_list("name", flat=True)) == {
        p.name for p in plan.places
    }
    assert Poi.objects.filter(district_code__startswith=CITY).count() == len(plan.pois)
    assert Building.objects.filter(district_code__startswith=CITY).count() == len(plan.buildings)
