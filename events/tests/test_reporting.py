"""Reporting (events/services/reporting.py, POST /api/v1/events): place, grid and region
chain stored once, idempotent re-send, possible duplicates, and every bad input a clear
4xx with nothing written."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone
from rest_framework.test import APIClient

from events.models import Event, EventTransition
from events.services.lifecycle import event_transition
from events.services.reporting import ReportInput, event_report
from gis_core import crs as crs_mod
from gis_core.errors import InvalidInput
from grids.models import UnitGrid

from .conftest import LIMITS, principal

URL = "/api/v1/events"


def body(category, place, **extra) -> dict:
    return {
        "category": category.code,
        "description": "人行道上有暴露垃圾",
        "lon": place.lon,
        "lat": place.lat,
        **extra,
    }


def offset(place, metres_east: float) -> tuple[float, float]:
    """A point ``metres_east`` metres east of the place (small offsets; spherical)."""
    import math

    return place.lon + metres_east / (111_320.0 * math.cos(math.radians(place.lat))), place.lat


def test_report_stores_grid_and_region_chain(operator_a_api, category, a_place):
    response = operator_a_api.post(URL, body(category, a_place, source="field"), format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["type"] == "Feature" and data["created"] is True and data["duplicates"] == []
    props = data["properties"]
    grid = UnitGrid.objects.get(code=a_place.grid_code)
    assert props["grid_code"] == grid.code
    assert props["region_code"] == grid.community_code
    assert props["street_code"] == grid.street_code
    assert props["district_code"] == grid.district_code == "510502000000"
    assert (props["state"], props["colour"], props["category"], props["kind"]) == (
        "reported", "green", "T0101", "event",
    )  # fmt: skip
    assert [t["action"] for t in props["transitions"]] == ["report"]
    assert props["transitions"][0]["actor"] == "user:ev_op_a"
    assert [a["action"] for a in props["allowed_actions"]] == ["verify", "merge"]
    event = Event.objects.get(pk=data["id"])
    assert event.geom.equals_exact(Point(a_place.lon, a_place.lat, srid=4326), 1e-9)
    assert event.reporter.username == "ev_op_a" and event.source == "field"
    # the verify clock: one working hour from the report
    assert event.due_at is not None and event.step_started_at == event.reported_at


@pytest.mark.parametrize("crs", ["gcj02", "bd09", "cgcs2000"])
def test_coordinates_in_any_crs_are_stored_in_wgs84(operator_a_api, category, a_place, crs):
    x, y = crs_mod.from_wgs84(a_place.lon, a_place.lat, crs)
    response = operator_a_api.post(
        URL, body(category, a_place, lon=float(x), lat=float(y), crs=crs), format="json"
    )

    assert response.status_code == 201, response.content
    event = Event.objects.get(pk=response.json()["id"])
    assert event.geom.x == pytest.approx(a_place.lon, abs=1e-7)
    assert event.geom.y == pytest.approx(a_place.lat, abs=1e-7)
    assert event.grid_code == a_place.grid_code
    # and read back in the same crs
    again = operator_a_api.get(f"{URL}/{event.pk}", {"crs": crs}).json()
    assert again["geometry"]["coordinates"] == pytest.approx([float(x), float(y)], abs=1e-6)


def test_a_resent_report_is_the_same_event(operator_a_api, category, a_place):
    client_id = str(uuid.uuid4())
    first = operator_a_api.post(URL, body(category, a_place, client_id=client_id), format="json")
    # the phone did not get the answer and sends again, even with edited text
    second = operator_a_api.post(
        URL, body(category, a_place, client_id=client_id, description="改过的描述"), format="json"
    )

    assert (first.status_code, second.status_code) == (201, 200), second.content
    assert first.json()["id"] == second.json()["id"]
    assert second.json()["created"] is False
    assert second.json()["properties"]["description"] == "人行道上有暴露垃圾"
    assert Event.objects.filter(client_id=client_id).count() == 1
    assert EventTransition.objects.filter(event_id=first.json()["id"]).count() == 1


def test_a_client_id_of_an_event_outside_the_jurisdiction_is_a_conflict(
    operator_a_api, operator_b_api, category, a_place, b_place
):
    client_id = str(uuid.uuid4())
    assert (
        operator_b_api.post(URL, body(category, b_place, client_id=client_id), format="json").status_code
        == 201
    )
    response = operator_a_api.post(URL, body(category, a_place, client_id=client_id), format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "client_id_taken"
    assert "510504" not in response.content.decode()


def test_possible_duplicates_are_listed(operator_a_api, category, a_place, root):
    other = category.__class__.objects.create(
        code="T0102", name="测试小类二", kind="event", parent=category.parent, time_limits=dict(LIMITS)
    )
    near = operator_a_api.post(URL, body(category, a_place), format="json").json()["id"]
    lon, lat = offset(a_place, 100)
    far = operator_a_api.post(URL, body(category, a_place, lon=lon, lat=lat), format="json").json()["id"]
    operator_a_api.post(URL, body(other, a_place), format="json")  # another category
    old = event_report(
        principal=root,
        data=ReportInput(category=category.code, description="旧的", point=(a_place.lon, a_place.lat),
                         reported_at=timezone.now() - dt.timedelta(days=8)),
    ).event  # fmt: skip
    closed = operator_a_api.post(URL, body(category, a_place), format="json").json()["id"]
    event_transition(principal=root, event_id=closed, action="verify", note="核实属实")
    event_transition(principal=root, event_id=closed, action="invalidate", note="重复上报，作废")

    lon, lat = offset(a_place, 30)
    response = operator_a_api.post(URL, body(category, a_place, lon=lon, lat=lat), format="json")

    assert response.status_code == 201
    duplicates = response.json()["duplicates"]
    assert [d["id"] for d in duplicates] == [near]
    assert duplicates[0]["distance_m"] == pytest.approx(30, abs=0.5)  # on the ground
    assert old.pk not in [d["id"] for d in duplicates]
    # the endpoint: a wider radius and window find more
    new = response.json()["id"]
    listed = operator_a_api.get(f"{URL}/{new}/duplicates").json()
    assert [d["id"] for d in listed["results"]] == [near] and listed["radius_m"] == 50
    wider = operator_a_api.get(f"{URL}/{new}/duplicates", {"radius": 100, "days": 10}).json()
    assert {d["id"] for d in wider["results"]} == {near, old.pk, far}
    assert wider["results"][-1]["id"] == far  # nearest first: 70 m
    for params in ({"radius": -5}, {"radius": 5000}, {"days": 0}, {"radius": "abc"}):
        bad = operator_a_api.get(f"{URL}/{new}/duplicates", params)
        assert bad.status_code == 400, params


def test_report_by_address(operator_a_api, category, seed_categories):
    from geocoding.models import DoorPlate

    door = DoorPlate.objects.filter(grid_code__startswith="510502").select_related("street").first()
    address = f"泸州市江阳区{door.street.name}{door.label}"
    response = operator_a_api.post(
        URL, {"category": category.code, "description": "井盖破损", "address": address}, format="json"
    )

    assert response.status_code == 201, response.content
    props = response.json()["properties"]
    assert props["grid_code"] == door.grid_code and props["address"] == address
    assert Event.objects.get(pk=response.json()["id"]).geom.distance(door.geom) < 1e-3


@pytest.mark.parametrize(
    ("address", "code"),
    [
        ("四川省泸州市江阳区", "address_too_coarse"),
        ("江阳区不存在路999号", "address_too_coarse"),
        ("asdfgh", "address_not_found"),
    ],
)
def test_unusable_addresses_are_refused(operator_a_api, category, address, code):
    response = operator_a_api.post(
        URL, {"category": category.code, "description": "x", "address": address}, format="json"
    )

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert not Event.objects.filter(category=category).exists()


def test_an_address_in_another_district_is_outside_the_jurisdiction(operator_a_api, category):
    from geocoding.models import DoorPlate

    door = DoorPlate.objects.filter(grid_code__startswith="510504").select_related("street").first()
    response = operator_a_api.post(
        URL,
        {
            "category": category.code,
            "description": "x",
            "address": f"泸州市龙马潭区{door.street.name}{door.label}",
        },
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "outside_jurisdiction"


def test_a_point_in_another_district_is_outside_the_jurisdiction(operator_a_api, category, b_place):
    response = operator_a_api.post(URL, body(category, b_place), format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "outside_jurisdiction" and "管辖范围" in error["message"]
    assert "510504" not in response.content.decode()
    assert not Event.objects.filter(category=category).exists()


@pytest.mark.parametrize(
    ("lon", "lat", "code"),
    [
        (116.39, 39.91, "outside_service_area"),  # Beijing: no grid there
        (0.0, 0.0, "outside_service_area"),
        (200, 28.9, "invalid"),
        (105.4, -91, "invalid"),
        ("abc", 28.9, "invalid"),
        ("NaN", 28.9, "invalid"),
        (105.4, None, "invalid"),
    ],
)
def test_bad_coordinates(operator_a_api, category, lon, lat, code):
    data = {"category": category.code, "description": "x", "lon": lon}
    if lat is not None:
        data["lat"] = lat
    response = operator_a_api.post(URL, data, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert not Event.objects.filter(category=category).exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"category": "NOPE"}, "unknown_category"),
        ({"category": "T01"}, "unknown_category"),  # a major class: report a minor one
        ({"description": "  "}, "invalid"),
        ({"source": "pigeon"}, "invalid"),
        ({"client_id": "not-a-uuid"}, "invalid"),
        ({"crs": "EPSG:3857"}, "unknown_crs"),
        ({"lon": None, "lat": None}, "invalid"),
        ({"reported_at": "2099-01-01T00:00:00+08:00"}, "invalid"),
        ({"reported_at": "2000-01-01T00:00:00+08:00"}, "invalid"),
    ],
)
def test_bad_reports(operator_a_api, category, a_place, change, field):
    data = {k: v for k, v in {**body(category, a_place), **change}.items() if v is not None}
    response = operator_a_api.post(URL, data, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == field
    assert not Event.objects.filter(category=category).exists()


def test_a_body_that_is_not_an_object(operator_a_api):
    response = operator_a_api.post(URL, [1, 2], format="json")
    assert response.status_code == 400


def test_reporting_needs_the_scope(db, category, a_place):
    from accounts.services import user_create

    from .conftest import PASSWORD, client_for

    planner = client_for(
        user_create(username="ev_pl", password=PASSWORD, roles=["planner"], region_code="510502")
    )
    response = planner.post(URL, body(category, a_place), format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "missing_scope"
    assert planner.get(URL).status_code == 200  # planners read


def test_field_staff_report_only_in_their_grids(category, a_place, a_place2):
    staff = principal("field_staff", grids=[a_place.grid_code])
    event = event_report(
        principal=staff,
        data=ReportInput(category=category.code, description="x", point=(a_place.lon, a_place.lat)),
    ).event
    assert event.grid_code == a_place.grid_code
    with pytest.raises(InvalidInput, match="管辖范围"):
        event_report(
            principal=staff,
            data=ReportInput(category=category.code, description="x", point=(a_place2.lon, a_place2.lat)),
        )


def test_list_is_scoped_and_filtered(operator_a_api, operator_b_api, category, a_place, b_place):
    mine = operator_a_api.post(URL, body(category, a_place), format="json").json()["id"]
    theirs = operator_b_api.post(URL, body(category, b_place), format="json").json()["id"]

    data = operator_a_api.get(URL, {"category": category.code}).json()
    assert data["type"] == "FeatureCollection"
    assert [f["id"] for f in data["features"]] == [mine]
    assert operator_a_api.get(URL, {"category": "T01", "state": "reported,verified"}).json()["count"] == 1
    assert operator_a_api.get(URL, {"category": "T01", "state": "closed"}).json()["count"] == 0
    assert operator_a_api.get(URL, {"state": "bogus"}).status_code == 400
    assert operator_a_api.get(f"{URL}/{theirs}").status_code == 404
    assert operator_b_api.get(f"{URL}/{theirs}").status_code == 200


def test_another_systems_report_records_its_key(db, category, a_place):
    from accounts.services import apikey_issue

    issued = apikey_issue(name="12345 热线", scopes=["events:read", "events:write"], region_code="510502")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.token}")
    response = client.post(URL, body(category, a_place, source="hotline"), format="json")

    assert response.status_code == 201, response.content
    event = Event.objects.get(pk=response.json()["id"])
    assert (event.api_key, event.reporter, event.source) == (issued.key, None, "hotline")
    assert response.json()["properties"]["transitions"][0]["actor"] == f"key:{issued.key.prefix}"
    assert response.json()["properties"]["allowed_actions"] == []  # reports, does not verify


def test_a_report_by_point_gets_the_address_the_reverse_geocoder_reads(operator_a_api, category):
    from geocoding.models import DoorPlate

    door = (
        DoorPlate.objects.filter(grid_code__startswith="510502")
        .select_related("street")
        .order_by("pk")
        .first()
    )
    place = type("P", (), {"lon": door.geom.x, "lat": door.geom.y})
    response = operator_a_api.post(URL, body(category, place), format="json")
    assert response.status_code == 201, response.content
    address = response.json()["properties"]["address"]
    assert (
        address.startswith("四川省泸州市江阳区")
        and door.street.name in address
        and address.endswith(door.label)
    )
    given = operator_a_api.post(URL, body(category, place, address="江阳区某小区门口"), format="json")
    assert given.json()["properties"]["address"] == "江阳区某小区门口"  # a given address is kept


def test_a_component_problem_names_a_component_the_caller_may_see(operator_a_api, category, a_place, b_place):
    from shapely.geometry import Point as ShapelyPoint

    from accounts.scoping import Jurisdiction
    from grids.services.components import ComponentInput, component_classes_load, component_create

    component_classes_load()
    nationwide = Jurisdiction(nationwide=True)
    a_lamp, b_lamp = (
        component_create(
            data=ComponentInput(class_code="0108", geom=ShapelyPoint(p.lon, p.lat)), jurisdiction=nationwide
        )
        for p in (a_place, b_place)
    )
    ok = operator_a_api.post(URL, body(category, a_place, component_code=a_lamp.code), format="json")
    assert ok.status_code == 201 and Event.objects.get(pk=ok.json()["id"]).component_code == a_lamp.code
    for code in (b_lamp.code, "5105020108999999"):  # another district's, and one that does not exist
        refused = operator_a_api.post(URL, body(category, a_place, component_code=code), format="json")
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "unknown_component"
