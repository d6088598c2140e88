"""grids.sector (pure), grids.services.cameras / selectors.cameras and the camera endpoints:
sectors on the ground, "cameras that see this point" (any crs), "cameras near this event",
the stream URL kept from callers without cameras:stream, jurisdiction, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from rest_framework.test import APIClient
from shapely.geometry import Point

from accounts.permissions import SCOPES, Principal
from accounts.scoping import Jurisdiction
from accounts.services import user_create
from gis_core import crs as crs_mod
from gis_core.errors import InvalidInput, NotFound
from gis_core.ground import GEOD
from grids.assets import Camera
from grids.models import UnitGrid
from grids.sector import camera_sector
from grids.selectors.cameras import camera_get, cameras_near_event, cameras_seeing
from grids.services.cameras import CameraInput, camera_create, camera_update

A = Jurisdiction(region_code="510502000000")  # 江阳区
B = Jurisdiction(region_code="510504000000")  # 龙马潭区
PASSWORD = "Civgrid-Test-2024"


def _at(lon: float, lat: float, azimuth: float, metres: float) -> tuple[float, float]:
    x, y, _ = GEOD.fwd(lon, lat, azimuth, metres)
    return float(x), float(y)


# ------------------------------------------------------------------ the sector (pure)


@pytest.mark.parametrize(
    ("azimuth", "metres", "inside"),
    [
        (90, 50, True),
        (90, 99, True),
        (90, 101, False),
        (0, 50, False),
        (125, 50, False),
        (61, 80, True),
        (270, 50, False),
    ],
)
def test_sector_looking_east_with_a_60_degree_view(azimuth, metres, inside):
    lon, lat = 105.44, 28.87
    sector = camera_sector(lon, lat, direction=90, angle=60, range_m=100)
    assert sector.is_valid
    assert sector.covers(Point(*_at(lon, lat, azimuth, metres))) is inside


def test_sector_of_360_degrees_is_a_circle_and_wraps_through_north():
    lon, lat = 105.44, 28.87
    circle = camera_sector(lon, lat, direction=0, angle=360, range_m=100)
    assert all(circle.covers(Point(*_at(lon, lat, az, 95))) for az in range(0, 360, 15))
    assert not circle.covers(Point(*_at(lon, lat, 45, 105)))
    north = camera_sector(lon, lat, direction=350, angle=40, range_m=100)  # 330°–10°
    assert north.covers(Point(*_at(lon, lat, 5, 50))) and not north.covers(Point(*_at(lon, lat, 20, 50)))
    with pytest.raises(ValueError):
        camera_sector(lon, lat, direction=0, angle=361, range_m=100)


# ------------------------------------------------------------------ service and selectors


def _grid_point(prefix: str) -> tuple[float, float]:
    grid = UnitGrid.objects.filter(code__startswith=prefix).order_by("code").first()
    p = grid.geom.point_on_surface
    return p.x, p.y


def _camera(lon, lat, *, jurisdiction=A, **kw) -> Camera:
    data = {"name": "测试枪机", "category": "public_security", "lon": lon, "lat": lat, "direction": 90.0,
            "angle": 60.0, "range_m": 100.0, **kw}  # fmt: skip
    return camera_create(data=CameraInput(**data), jurisdiction=jurisdiction)


@pytest.fixture
def a_point(db) -> tuple[float, float]:
    return _grid_point("510502")


@pytest.fixture
def b_point(db) -> tuple[float, float]:
    return _grid_point("510504")


def test_create_places_the_camera_and_stores_its_sector(a_point):
    camera = _camera(*a_point)
    assert len(camera.code) == 20 and camera.code.startswith("510502")
    assert camera.grid_code.startswith("510502") and camera.district_code == "510502000000"
    stored = shapely.from_wkb(bytes(Camera.objects.get(pk=camera.pk).sector.wkb))
    assert stored.equals_exact(camera_sector(*a_point, direction=90, angle=60, range_m=100), 1e-9)
    moved = camera_update(camera_id=camera.pk, jurisdiction=A, direction=270.0)
    assert shapely.from_wkb(bytes(moved.sector.wkb)).covers(Point(*_at(*a_point, 270, 50)))


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"angle": 400.0}, "视角"),
        ({"angle": 0.0}, "视角"),
        ({"direction": -5.0}, "朝向"),
        ({"direction": 361.0}, "朝向"),
        ({"range_m": 0.0}, "可视距离"),
        ({"range_m": float("nan")}, "range_m"),
        ({"category": "military"}, "类别"),
        ({"stream_url": "javascript:alert(1)"}, "stream_url"),
        ({"code": "12345"}, "20 位"),
        ({"code": "51050400001320000001"}, "区县代码"),
    ],
)
def test_bad_cameras_are_refused_and_nothing_is_written(a_point, change, fragment):
    before = Camera.objects.count()
    with pytest.raises(InvalidInput) as exc:
        _camera(*a_point, **change)
    assert fragment in exc.value.message
    assert Camera.objects.count() == before


def test_outside_grids_or_jurisdiction_is_refused(a_point, b_point):
    with pytest.raises(InvalidInput) as exc:
        _camera(*b_point)
    assert exc.value.code == "outside_jurisdiction"
    with pytest.raises(InvalidInput) as exc:
        _camera(a_point[0] + 30, a_point[1])
    assert exc.value.code == "outside_grids"


def test_cameras_seeing_a_point_are_the_ones_whose_sector_covers_it(a_point):
    lon, lat = a_point
    east = _camera(lon, lat, direction=90.0)
    west = _camera(lon, lat, direction=270.0)
    dome = _camera(*_at(lon, lat, 0, 30), angle=360.0, range_m=80.0)
    target = _at(lon, lat, 90, 40)
    seeing = {c.pk for c in cameras_seeing(lon=target[0], lat=target[1], jurisdiction=A)}
    assert east.pk in seeing and dome.pk in seeing and west.pk not in seeing
    assert not {c.pk for c in cameras_seeing(lon=target[0], lat=target[1], jurisdiction=B)} & {
        east.pk,
        dome.pk,
    }
    with pytest.raises(NotFound):
        camera_get(camera_id=east.pk, jurisdiction=B)


@pytest.fixture
def event_near(db, a_point, b_point):
    from events.models import EventCategory
    from events.services.categories import categories_load
    from events.services.reporting import ReportInput, event_report

    if not EventCategory.objects.filter(code="E0102").exists():
        categories_load()
    system = Principal("system:test", frozenset(SCOPES), Jurisdiction(nationwide=True))

    def report(point):
        return event_report(
            principal=system, data=ReportInput(category="E0102", description="暴露垃圾", point=point)
        ).event

    return report(_at(*a_point, 90, 40)), report(b_point)


def test_cameras_near_an_event_with_distance_and_whether_each_sees_it(a_point, event_near):
    a_event, b_event = event_near
    lon, lat = a_point
    east, west = _camera(lon, lat, direction=90.0), _camera(lon, lat, direction=270.0)
    far = _camera(*_at(lon, lat, 90, 40 + 150), direction=0.0)  # 150 m beyond the event
    near = cameras_near_event(event_id=a_event.pk, jurisdiction=A, radius_m=100)
    found = {c.pk: c for c in near.cameras}
    assert east.pk in found and west.pk in found and far.pk not in found
    assert found[east.pk].sees and not found[west.pk].sees
    assert found[east.pk].distance.m == pytest.approx(40, abs=0.5)
    assert far.pk in {
        c.pk for c in cameras_near_event(event_id=a_event.pk, jurisdiction=A, radius_m=200).cameras
    }
    with pytest.raises(NotFound):
        cameras_near_event(event_id=b_event.pk, jurisdiction=A)
    with pytest.raises(InvalidInput):
        cameras_near_event(event_id=a_event.pk, jurisdiction=A, radius_m=1e6)


# ------------------------------------------------------------------ API


def _client(username: str, role: str) -> APIClient:
    user = user_create(username=username, password=PASSWORD, roles=[role], region_code="510502")
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_api_stream_url_only_with_the_right_and_seeing_in_gcj02(db, a_point, event_near):
    operator, planner = _client("cam_operator", "operator"), _client("cam_planner", "planner")
    lon, lat = a_point
    body = {"name": "路口枪机", "category": "traffic", "lon": lon, "lat": lat, "direction": 90, "angle": 60,
            "range_m": 100, "stream_url": "rtsp://10.0.0.1/live/1"}  # fmt: skip
    assert planner.post("/api/v1/cameras", body, format="json").status_code == 403
    response = operator.post("/api/v1/cameras", body, format="json")
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    assert response.json()["properties"]["stream_url"] == "rtsp://10.0.0.1/live/1"
    assert "stream_url" not in planner.get(f"/api/v1/cameras/{pk}").json()["properties"]
    listed = planner.get("/api/v1/cameras", {"page_size": 1000}).json()
    assert pk in {f["id"] for f in listed["features"]}
    assert not any("stream_url" in f["properties"] for f in listed["features"])
    assert "rtsp://" not in planner.get("/api/v1/cameras", {"export": "csv"}).content.decode("utf-8-sig")
    # the point 40 m east, sent in GCJ-02
    x, y = _at(lon, lat, 90, 40)
    gx, gy = crs_mod.from_wgs84(np.array([x]), np.array([y]), "gcj02")
    seeing = planner.get(
        "/api/v1/cameras/seeing", {"lon": float(gx[0]), "lat": float(gy[0]), "crs": "gcj02"}
    ).json()
    assert pk in {f["id"] for f in seeing["features"]}
    north = planner.get("/api/v1/cameras/seeing", {"lon": lon, "lat": lat + 0.0005}).json()  # 55 m north
    assert pk not in {f["id"] for f in north["features"]}
    a_event, b_event = event_near
    near = planner.get(f"/api/v1/cameras/near-event/{a_event.pk}", {"radius": 100}).json()
    assert near["seeing"] >= 1 and any(f["id"] == pk and f["properties"]["sees"] for f in near["features"])
    assert planner.get(f"/api/v1/cameras/near-event/{b_event.pk}").status_code == 404


def test_api_bad_camera_input_is_a_clear_400(db, a_point):
    operator = _client("cam_operator2", "operator")
    lon, lat = a_point
    body = {
        "name": "枪机",
        "category": "traffic",
        "lon": lon,
        "lat": lat,
        "direction": 90,
        "angle": 400,
        "range_m": 100,
    }
    before = Camera.objects.count()
    for change in ({}, {"angle": "NaN"}, {"direction": 400}, {"lon": lon + 40}):
        response = operator.post("/api/v1/cameras", {**body, **change}, format="json")
        assert response.status_code == 400, response.content
        assert "error" in response.json()
    response = operator.post("/api/v1/cameras", body, format="json")
    assert "视角" in response.json()["error"]["message"]
    assert Camera.objects.count() == before
    assert operator.get("/api/v1/cameras/seeing", {"lon": "abc", "lat": 1}).status_code == 400


def test_api_category_filter_takes_several_and_refuses_unknown_ones(db, a_point):
    """The list and the camera tile layer share one filter (grids.selectors.cameras.camera_filter)."""
    planner = _client("cam_planner3", "planner")
    traffic = _camera(*a_point, category="traffic")
    safety = _camera(*a_point, category="safety")
    _camera(*a_point, category="society")

    def ids(category: str) -> set[int]:
        response = planner.get("/api/v1/cameras", {"category": category, "page_size": 1000})
        assert response.status_code == 200, response.content
        return {f["id"] for f in response.json()["features"]}

    assert traffic.pk in ids("traffic") and safety.pk not in ids("traffic")
    both = ids("traffic,safety")
    assert {traffic.pk, safety.pk} <= both
    assert all(Camera.objects.get(pk=pk).category in ("traffic", "safety") for pk in both)
    bad = planner.get("/api/v1/cameras", {"category": "traffic,military"})
    assert bad.status_code == 400 and "military" in bad.json()["error"]["message"]


@pytest.mark.parametrize("body", ["null", "[1, 2]", '"text"'])
def test_a_body_that_is_not_an_object_is_a_400(db, body):
    client = _client("cam_operator", "operator")
    response = client.post("/api/v1/cameras", body, content_type="application/json")
    assert response.status_code == 400 and "JSON 对象" in response.json()["error"]["message"]
