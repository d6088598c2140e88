"""Tests for geocoding.services.gazetteer (and streets): bulk upserts of the address gazetteer
against the real PostGIS test database, which holds the small demo city (泸州) with its door
plates, compounds, buildings and POIs written through these same services (checked in
demo/tests/test_services.py)."""

from __future__ import annotations

import pytest
import shapely
from django.contrib.gis.geos import Point as GEOSPoint
from pyproj import Geod
from shapely.geometry import LineString, Point

from accounts.audit import AUDITED
from geocoding.models import Building, DoorPlate, Place, Poi, Street
from geocoding.services.gazetteer import (
    BuildingInput,
    DoorInput,
    DoorRef,
    PlaceInput,
    PoiInput,
    buildings_upsert,
    door_suffix,
    doors_check,
    doors_upsert,
    places_upsert,
    points_locate,
    pois_upsert,
    row_locate,
)
from geocoding.services.streets import StreetInput, street_kind_of, streets_upsert
from gis_core.errors import InvalidInput
from gis_core.selectors.locate import locate_point
from gis_core.signals import rows_written

CITY = "5105"
JIANGYANG = "510502000000"  # 江阳区
AT_SEA = Point(124.0, 25.0)  # outside every district


def _point(obj) -> Point:
    return Point(obj.geom.x, obj.geom.y)


@pytest.fixture
def door(db) -> DoorPlate:
    """A demo door plate in 江阳区."""
    return DoorPlate.objects.select_related("street").filter(district_code=JIANGYANG, suffix="").first()


@pytest.fixture
def written():
    """What ``rows_written`` carried during the test: [(sender, changes)]."""
    seen = []

    def receiver(sender, changes, **kwargs):
        seen.append((sender, changes))

    rows_written.connect(receiver, dispatch_uid="test-gazetteer-rows-written")
    yield seen
    rows_written.disconnect(dispatch_uid="test-gazetteer-rows-written")


# --------------------------------------------------------------------------- location


def test_points_locate_fills_grid_region_and_district(door):
    where = points_locate([_point(door), AT_SEA, LineString([(0, 0), (1, 1)]), None])
    loc = locate_point(door.geom.x, door.geom.y)
    assert where[0].grid_code == loc.grid["code"]
    assert where[0].region_code == loc.regions[-1]["code"] and loc.regions[-1]["level"] == 5
    assert where[0].district_code == JIANGYANG
    assert where[1:] == [None, None, None]


# --------------------------------------------------------------------------- door plates


def test_doors_upsert_creates_then_updates(door, written):
    point = _point(door)
    created, updated = doors_upsert(
        items=[DoorInput(street=door.street.name, number=9001, suffix="之2", point=point)]
    )
    assert (created, updated) == (1, 0)
    new = DoorPlate.objects.get(street=door.street, number=9001)
    assert new.suffix == "-2" and new.label == "9001-2号"
    assert (new.grid_code, new.region_code, new.district_code) == (
        door.grid_code,
        door.region_code,
        door.district_code,
    )
    sender, changes = written[-1]
    assert sender is DoorPlate and changes[0][0] == new.pk and changes[0][2] is None
    assert changes[0][1] == new.grid_code and changes[0][3]["number"] == 9001

    moved = Point(point.x + 0.00005, point.y)
    assert doors_upsert(items=[DoorInput(door.street.name, 9001, moved, "-2")]) == (0, 1)
    new.refresh_from_db()
    assert new.geom.x == pytest.approx(moved.x)
    assert written[-1][1][0][2]["geom"]["coordinates"][0] == pytest.approx(point.x)  # before


def test_unknown_street_is_an_error_and_writes_nothing(door):
    before = DoorPlate.objects.count()
    items = [
        DoorInput(street=door.street.name, number=9002, point=_point(door)),
        DoorInput(street="不存在路", number=1, point=_point(door)),
    ]
    with pytest.raises(InvalidInput) as exc:
        doors_upsert(items=items)
    assert "第 2 行" in exc.value.message and "不存在路" in exc.value.message
    assert exc.value.details["rows"] == [{"row": 2, "field": "street", "message": "江阳区没有道路“不存在路”"}]
    assert DoorPlate.objects.count() == before


def test_street_of_another_district_is_unknown_here(door):
    other = Street.objects.filter(district_code__startswith=CITY).exclude(district_code=JIANGYANG)
    other = other.exclude(name__in=Street.objects.filter(district_code=JIANGYANG).values("name")).first()
    problems = doors_check(items=[DoorInput(street=other.name, number=1, point=_point(door))])
    assert [(p.index, p.field) for p in problems] == [(0, "street")]


def test_point_outside_every_district_names_the_row(door):
    items = [
        DoorInput(street=door.street.name, number=9003, point=_point(door)),
        DoorInput(street=door.street.name, number=9004, point=_point(door)),
        DoorInput(street=door.street.name, number=9005, point=AT_SEA),
    ]
    with pytest.raises(InvalidInput) as exc:
        doors_upsert(items=items)
    assert exc.value.message.startswith("第 3 行：位置 (124.000000, 25.000000) 不在任何区县内")
    assert not DoorPlate.objects.filter(number__in=[9003, 9004, 9005]).exists()


def test_bad_rows_all_reported(door):
    items = [
        DoorInput(street="", number=1, point=_point(door)),
        DoorInput(street=door.street.name, number=0, point=_point(door)),
        DoorInput(street=door.street.name, number=9006, point=LineString([(105.4, 28.8), (105.5, 28.9)])),
        DoorInput(street=door.street.name, number=door.number, point=_point(door), suffix=""),
        DoorInput(street=door.street.name, number=door.number, point=_point(door), suffix=""),
    ]
    problems = doors_check(items=items)
    assert [(p.index, p.field) for p in problems] == [
        (0, "street"),
        (1, "number"),
        (2, "geometry"),
        (4, "number"),  # the same door twice in one batch
    ]
    assert "与第 4 行重复" in problems[-1].message


def test_street_aliases_resolve_doors(door):
    street = door.street
    line = shapely.from_wkb(bytes(street.geom.wkb))
    streets_upsert(
        items=[
            StreetInput(name=street.name, kind="", geom=line, aliases=("老街名", street.name, " 老街名 "))
        ],
        city_code=CITY,
    )
    street.refresh_from_db()
    assert street.aliases == ["老街名"] and street.kind == street_kind_of(street.name)
    doors_upsert(items=[DoorInput(street="老街名", number=9007, point=_point(door))])
    assert DoorPlate.objects.get(number=9007).street == street


def test_streets_cut_by_district_and_merged_by_name(db):
    jiangyang = Street.objects.filter(district_code=JIANGYANG).first()
    other = Street.objects.filter(district_code__startswith=CITY).exclude(district_code=JIANGYANG).first()
    a = shapely.from_wkb(bytes(jiangyang.geom.wkb)).interpolate(0.5, normalized=True)
    b = shapely.from_wkb(bytes(other.geom.wkb)).interpolate(0.5, normalized=True)
    half = LineString([a, ((a.x + b.x) / 2, (a.y + b.y) / 2)])
    rest = LineString([((a.x + b.x) / 2, (a.y + b.y) / 2), b])
    created, updated = streets_upsert(
        items=[StreetInput("试验大道", "", half), StreetInput("试验大道", "avenue", rest)], city_code=CITY
    )
    rows = Street.objects.filter(name="试验大道")
    assert created == rows.count() >= 2 and updated == 0
    assert {r.district_code for r in rows} >= {JIANGYANG, other.district_code}
    assert all(r.kind == "avenue" for r in rows)
    # the pieces add up to the line (less whatever runs outside the city)
    whole = Geod(ellps="WGS84").geometry_length(LineString([a, b]))
    assert 0.5 * whole < sum(r.length_m for r in rows) <= whole * (1 + 1e-6)
    with pytest.raises(InvalidInput):
        streets_upsert(items=[StreetInput("海上路", "road", LineString([(124, 25), (124.1, 25)]))])


# --------------------------------------------------------------------------- places, buildings, POIs


def test_places_buildings_and_pois(door, written):
    gate = DoorRef(door.street.name, door.number, door.suffix)
    assert places_upsert(
        items=[PlaceInput(name="试验花园", point=_point(door), aliases=("试验小区", "试验小区"), door=gate)]
    ) == (1, 0)
    place = Place.objects.get(name="试验花园")
    assert place.door == door and place.aliases == ["试验小区"] and place.grid_code == door.grid_code

    near = Point(door.geom.x + 0.0001, door.geom.y)
    items = [
        BuildingInput(number="1", point=near, place="试验花园"),
        BuildingInput(number="2", point=near, place="试验小区"),  # by alias
        BuildingInput(number="1", point=near, door=gate),  # behind the door plate
    ]
    assert buildings_upsert(items=items) == (3, 0)
    assert buildings_upsert(items=items[:1]) == (0, 1)
    assert place.buildings.count() == 2 and door.buildings.count() == 1
    assert written[-1][0] is Building

    poi = PoiInput(name="试验小学", category="学校", point=near, aliases=("试验学校",), door=gate)
    assert pois_upsert(items=[poi]) == (1, 0)
    stored = Poi.objects.get(name="试验小学")
    assert stored.door == door and stored.district_code == JIANGYANG and stored.grid_code


def test_place_and_building_references_must_exist(door):
    near = _point(door)
    with pytest.raises(InvalidInput) as exc:
        places_upsert(items=[PlaceInput(name="甲苑", point=near, door=DoorRef(door.street.name, 99999))])
    assert exc.value.details["rows"][0]["field"] == "door"
    with pytest.raises(InvalidInput) as exc:
        buildings_upsert(
            items=[BuildingInput(number="1", point=near, place="没有这个小区"), BuildingInput("2", near)]
        )
    assert [r["row"] for r in exc.value.details["rows"]] == [1, 2]
    assert not Place.objects.filter(name="甲苑").exists()


def test_duplicate_names_in_one_district(door):
    items = [PoiInput("同名超市", "商场", _point(door)), PoiInput("同名超市", "商场", _point(door))]
    with pytest.raises(InvalidInput) as exc:
        pois_upsert(items=items)
    assert exc.value.details["rows"][0]["row"] == 2


def test_row_locate_for_hand_edits(door):
    other_district = DoorPlate.objects.filter(district_code__startswith=CITY).exclude(district_code=JIANGYANG)
    far = other_district.first()
    edited = DoorPlate(street=door.street, number=9010, suffix="1", geom=far.geom)
    with pytest.raises(InvalidInput):
        row_locate(obj=edited)
    edited.geom = door.geom
    row_locate(obj=edited)
    assert edited.suffix == "-1" and edited.grid_code == door.grid_code
    poi = Poi(name="x", category="y", geom=GEOSPoint(124.0, 25.0, srid=4326))
    with pytest.raises(InvalidInput):
        row_locate(obj=poi)


def test_door_suffix_forms():
    assert [door_suffix(s) for s in ("", " ", "1", "-1", "之1", "附1", "－1")] == [""] * 2 + ["-1"] * 5


def test_gazetteer_models_are_audited(db):
    assert {"geocoding.place", "geocoding.doorplate", "geocoding.building", "geocoding.poi"} <= AUDITED
