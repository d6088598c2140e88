"""The layers of :mod:`tiles.layers_field` (components, cameras, civilization units, staff now)
and the map attributes of the events layer: features and attributes decoded from real tiles,
scoping per district, and the privacy of families' points."""

from __future__ import annotations

import datetime as dt
import math
import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.gis.geos import Point, Polygon
from django.core.cache import cache
from django.utils import timezone

from accounts.permissions import principal_for_user
from accounts.services import user_create
from civilization.models import CivilizationUnit, PublicCivilizationUnit
from events import flow
from events.models import Event
from grids.models import Camera, CityComponent, GridStaff
from grids.services.tracks import positions_ingest
from tiles import cache as tile_cache
from tiles.registry import get_layer
from tiles.selectors.mvt import layer_queryset, tile_render
from tiles.tilemath import Tile, lonlat_to_tile

from .conftest import A_PREFIX, B_PREFIX, PASSWORD, client_for, decode, tile_url

pytestmark = pytest.mark.django_db

RUNNING = sorted(flow.OPEN_STATES - {"suspended"})


def _box(tile: Tile) -> Polygon:
    box = Polygon.from_bbox(tile.bounds_4326())
    box.srid = 4326
    return box


def _tile_lonlat(tile: Tile, feature: dict, extent: int = 4096) -> tuple[float, float]:
    """A point feature's position back in WGS84 (decode() gives tile units, y up)."""
    x, y = feature["geometry"]["coordinates"]
    lon0, lat0, lon1, lat1 = tile.bounds_4326()

    def lat_of(merc_y: float) -> float:
        return math.degrees(math.atan(math.sinh(merc_y)))

    y0, y1 = math.asinh(math.tan(math.radians(lat0))), math.asinh(math.tan(math.radians(lat1)))
    return lon0 + (lon1 - lon0) * x / extent, lat_of(y0 + (y1 - y0) * y / extent)


def _features(client, layer: str, tile: Tile, query: str = "") -> list[dict]:
    response = client.get(tile_url(layer, tile, query))
    assert response.status_code == 200, response.content[:300]
    return decode(response.content).get(layer, [])


# ------------------------------------------------------------------ components and cameras


def test_components_carry_class_major_status_and_are_scoped(a_api, b_api):
    component = CityComponent.objects.filter(grid_code__startswith=A_PREFIX).order_by("id").first()
    tile = lonlat_to_tile(component.point.x, component.point.y, 18)
    features = {f["properties"]["id"]: f["properties"] for f in _features(a_api, "components", tile)}
    got = features[component.pk]
    assert got["code"] == component.code
    assert got["class"] == component.component_class.code
    assert got["major"] == component.component_class.major.code
    assert got["status"] == component.status
    assert got["grid"] == component.grid_code
    assert component.pk not in {f["properties"]["id"] for f in _features(b_api, "components", tile)}
    # the filters are the API's: a major class code, statuses; bad ones are 400
    major = component.component_class.major.code
    assert component.pk in {
        f["properties"]["id"] for f in _features(a_api, "components", tile, f"class={major}")
    }
    other = "99" if major != "99" else "98"
    assert component.pk not in {
        f["properties"]["id"] for f in _features(a_api, "components", tile, f"class={other}")
    }
    bad = a_api.get(tile_url("components", tile, "status=broken"))
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid"


def test_cameras_carry_the_view_sector_and_never_the_stream(a_api, b_api):
    camera = Camera.objects.filter(grid_code__startswith=A_PREFIX).order_by("id").first()
    tile = lonlat_to_tile(camera.geom.x, camera.geom.y, 17)
    features = {f["properties"]["id"]: f["properties"] for f in _features(a_api, "cameras", tile)}
    got = features[camera.pk]
    assert (got["direction"], got["angle"], got["range"]) == pytest.approx(
        (camera.direction, camera.angle, camera.range_m)
    )
    assert got["category"] == camera.category
    assert not any("stream" in name for f in features.values() for name in f)
    assert camera.pk not in {f["properties"]["id"] for f in _features(b_api, "cameras", tile)}
    # below z14: counted cells of A's cameras only
    low = lonlat_to_tile(camera.geom.x, camera.geom.y, 11)
    counted = sum(f["properties"]["count"] for f in _features(a_api, "cameras", low))
    assert (
        counted == Camera.objects.filter(grid_code__startswith=A_PREFIX, geom__intersects=_box(low)).count()
    )


# ------------------------------------------------------------------ civilization units: privacy


@pytest.fixture
def family() -> CivilizationUnit:
    """A family of district A whose exact point is in another z18 tile than its public one."""
    for unit in CivilizationUnit.objects.filter(unit_type="family", grid_code__startswith=A_PREFIX).order_by(
        "id"
    ):
        if lonlat_to_tile(unit.geom.x, unit.geom.y, 18) != lonlat_to_tile(
            unit.public_geom.x, unit.public_geom.y, 18
        ):
            return unit
    pytest.skip("no family away from its community point in the demo city")


@pytest.fixture
def planner_a(db):
    """A planner of district A: civilization scopes and personal:read."""
    return client_for(
        user_create(username="tl_plan_a", password=PASSWORD, roles=["planner"], region_code="510502")
    )


def test_without_personal_read_a_family_is_only_at_its_community_point(a_api, family):
    exact_tile = lonlat_to_tile(family.geom.x, family.geom.y, 18)
    assert family.pk not in {f["properties"]["id"] for f in _features(a_api, "civilization", exact_tile)}
    public_tile = lonlat_to_tile(family.public_geom.x, family.public_geom.y, 18)
    (feature,) = [
        f for f in _features(a_api, "civilization", public_tile) if f["properties"]["id"] == family.pk
    ]
    assert feature["properties"]["coarse"] is True
    assert feature["properties"]["grid"] == family.public_grid_code
    lon, lat = _tile_lonlat(public_tile, feature)
    assert (lon, lat) == pytest.approx((family.public_geom.x, family.public_geom.y), abs=1e-5)


def test_with_personal_read_the_family_is_at_its_exact_point(planner_a, family):
    exact_tile = lonlat_to_tile(family.geom.x, family.geom.y, 18)
    (feature,) = [
        f for f in _features(planner_a, "civilization", exact_tile) if f["properties"]["id"] == family.pk
    ]
    assert feature["properties"]["coarse"] is False
    assert _tile_lonlat(exact_tile, feature) == pytest.approx((family.geom.x, family.geom.y), abs=1e-5)


def test_exact_tiles_are_never_served_from_cache_to_a_caller_without_personal_read(planner_a, a_api, family):
    exact_tile = lonlat_to_tile(family.geom.x, family.geom.y, 18)
    first = planner_a.get(tile_url("civilization", exact_tile))
    assert family.pk in {f["properties"]["id"] for f in decode(first.content)["civilization"]}
    again = planner_a.get(tile_url("civilization", exact_tile))
    assert again["X-Tile-Cache"] == "hit"
    # the same district, layer and tile: another cache entry and another ETag
    public = a_api.get(tile_url("civilization", exact_tile), HTTP_IF_NONE_MATCH=first["ETag"])
    assert public.status_code == 200 and public["X-Tile-Cache"] == "miss"
    assert public["ETag"] != first["ETag"]
    assert family.pk not in {f["properties"]["id"] for f in decode(public.content).get("civilization", [])}


def test_low_zoom_counts_without_personal_read_are_on_the_public_points(a_api, family):
    # the tile of the exact point at a zoom where the community point may lie elsewhere
    for z in (12, 13):
        tile = lonlat_to_tile(family.geom.x, family.geom.y, z)
        counted = sum(f["properties"]["count"] for f in _features(a_api, "civilization", tile))
        public = PublicCivilizationUnit.objects.filter(
            public_grid_code__startswith=A_PREFIX, public_geom__intersects=_box(tile)
        ).count()
        assert counted == public


def test_civilization_is_scoped_to_the_district(b_api, family):
    tile = lonlat_to_tile(family.public_geom.x, family.public_geom.y, 18)
    assert family.pk not in {f["properties"]["id"] for f in _features(b_api, "civilization", tile)}


def test_the_personal_variant_needs_its_scope():
    layer = get_layer("civilization")
    assert layer.for_scopes({"civilization:read"}) is layer and layer.geom_field == "public_geom"
    assert layer.for_scopes({"civilization:read", "personal:read"}).geom_field == "geom"


# ------------------------------------------------------------------ staff positions now


def _post_fixes(staff: GridStaff, fixes: list[tuple[dt.datetime, float, float]]) -> None:
    admin = user_create(username=f"tl_adm_{staff.pk}", password=PASSWORD, roles=["admin"], nationwide=True)
    result = positions_ingest(
        principal=principal_for_user(admin),
        items=[{"staff": staff.pk, "t": t.isoformat(), "lon": lon, "lat": lat} for t, lon, lat in fixes],
    )
    assert result.accepted == len(fixes), result.as_dict()


@pytest.fixture
def walkers() -> dict[str, tuple[GridStaff, Point]]:
    """One person of A and one of B, each with two fixes a minute apart (100 m: 6 km/h), now."""
    now = timezone.now().replace(microsecond=0)
    out = {}
    for prefix in (A_PREFIX, B_PREFIX):
        staff = GridStaff.objects.filter(region_code__startswith=prefix).order_by("id").first()
        from grids.models import UnitGrid

        grid = UnitGrid.objects.filter(code__startswith=prefix).order_by("code").first()
        p = grid.geom.point_on_surface
        step = 100 / 111_320  # 100 m north
        _post_fixes(staff, [(now - dt.timedelta(seconds=60), p.x, p.y), (now, p.x, p.y + step)])
        out[prefix] = (staff, Point(p.x, p.y + step, srid=4326))
    return out


def test_staff_layer_shows_each_persons_latest_fix_with_role_time_speed(a_api, walkers):
    staff, point = walkers[A_PREFIX]
    tile = lonlat_to_tile(point.x, point.y, 16)
    response = a_api.get(tile_url("staff", tile))
    assert response["X-Tile-Cache"] == "miss" and "max-age=0" in response["Cache-Control"]
    mine = [f for f in decode(response.content)["staff"] if f["properties"]["person"] == staff.pk]
    assert len(mine) == 1  # the latest fix only
    props = mine[0]["properties"]
    staff.refresh_from_db()
    assert props["role"] == staff.role and props["name"] == staff.name
    assert props["time"] == int(staff.last_position_at.timestamp())
    assert props["speed"] == pytest.approx(6.0, abs=0.2)
    assert _tile_lonlat(tile, mine[0]) == pytest.approx((point.x, point.y), abs=1e-4)
    # live: never a cached answer
    assert a_api.get(tile_url("staff", tile))["X-Tile-Cache"] == "miss"


def test_staff_layer_is_scoped_by_the_persons_district(a_api, b_api, api, walkers):
    b_staff, b_point = walkers[B_PREFIX]
    tile = lonlat_to_tile(b_point.x, b_point.y, 14)
    assert b_staff.pk in {f["properties"]["person"] for f in _features(api, "staff", tile)}  # the control
    assert b_staff.pk not in {f["properties"]["person"] for f in _features(a_api, "staff", tile)}
    assert b_staff.pk in {f["properties"]["person"] for f in _features(b_api, "staff", tile)}


def test_staff_layer_window_and_bad_params(a_api, walkers):
    staff, point = walkers[A_PREFIX]
    tile = lonlat_to_tile(point.x, point.y, 16)
    old = timezone.now() - dt.timedelta(minutes=30)
    GridStaff.objects.filter(pk=staff.pk).update(last_position_at=old)  # as if the newest fix were old
    assert staff.pk not in {f["properties"]["person"] for f in _features(a_api, "staff", tile)}
    assert a_api.get(tile_url("staff", tile, "minutes=0")).status_code == 400
    assert a_api.get(tile_url("staff", tile, "minutes=abc")).status_code == 400
    assert a_api.get(tile_url("staff", tile, "role=boss")).status_code == 400


# ------------------------------------------------------------------ events: what the map colours by


def test_event_features_carry_state_colour_and_major_class(a_api):
    event = (
        Event.objects.filter(
            grid_code__startswith=A_PREFIX, state__in=["dispatched", "handling"], due_at__isnull=False
        )
        .select_related("category__parent")
        .order_by("id")
        .first()
    ) or Event.objects.filter(grid_code__startswith=A_PREFIX).select_related("category__parent").first()
    tile = lonlat_to_tile(event.geom.x, event.geom.y, 17)
    features = _features(a_api, "events", tile)
    got = {f["properties"]["id"]: f["properties"] for f in features}[event.pk]
    assert got["state"] == event.state
    assert got["category"] == event.category.code and got["major"] == event.category.parent.code
    # the colour is the colour filter's: every feature a colour=red tile holds is red, and so on
    for colour in ("green", "yellow", "red"):
        ids = {f["properties"]["id"] for f in _features(a_api, "events", tile, f"colour={colour}")}
        assert ids == {f["properties"]["id"] for f in features if f["properties"].get("colour") == colour}


def _colours(response) -> dict[int, str | None]:
    return {f["properties"]["id"]: f["properties"].get("colour") for f in decode(response.content)["events"]}


def _running_event(prefix: str = A_PREFIX) -> Event:
    return Event.objects.filter(grid_code__startswith=prefix, state__in=RUNNING).order_by("id").first()


def _turning_soon(event: Event, seconds: float = 3) -> dt.datetime:
    """Give ``event`` a warning ``seconds`` from now (a write: done before any tile is built,
    so what follows is the clock alone)."""
    soon = timezone.now() + dt.timedelta(seconds=seconds)
    Event.objects.filter(pk=event.pk).update(warn_at=soon, due_at=soon + dt.timedelta(hours=1))
    return soon


def _a_jurisdiction():
    return principal_for_user(get_user_model().objects.get(username="tl_op_a")).jurisdiction


def _sleep_past(moment: dt.datetime) -> None:
    """Until the second after ``moment``'s (turns are whole seconds: a tile built within the
    second of a turn is not kept)."""
    time.sleep(max(0.0, math.floor(moment.timestamp()) + 1.1 - time.time()))


def test_an_event_tile_is_kept_until_its_next_turn_then_rebuilt_with_the_new_colour(a_api):
    """The colour moves with the clock: a cached tile holds only until a colour of it turns."""
    event = _running_event()
    soon = _turning_soon(event)
    tile = lonlat_to_tile(event.geom.x, event.geom.y, 18)
    first = a_api.get(tile_url("events", tile))
    assert first["X-Tile-Cache"] == "miss" and _colours(first)[event.pk] == "green"
    again = a_api.get(tile_url("events", tile))
    assert again["X-Tile-Cache"] == "hit" and again["ETag"] == first["ETag"]
    assert a_api.get(tile_url("events", tile), HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    _sleep_past(soon)
    # no write since: the stamp is the same, the clock alone turned the colour
    later = a_api.get(tile_url("events", tile), HTTP_IF_NONE_MATCH=first["ETag"])
    assert later.status_code == 200 and later["X-Tile-Cache"] == "miss" and later["ETag"] != first["ETag"]
    assert _colours(later)[event.pk] == "yellow"
    # and the new tile is kept until its own next turn (the limit, an hour on)
    assert a_api.get(tile_url("events", tile))["X-Tile-Cache"] == "hit"
    assert a_api.get(tile_url("events", tile), HTTP_IF_NONE_MATCH=later["ETag"]).status_code == 304


def test_an_etag_issued_before_a_turn_earns_no_304_after_it_even_without_the_cached_entry(a_api):
    event = _running_event()
    soon = _turning_soon(event)
    tile = lonlat_to_tile(event.geom.x, event.geom.y, 18)
    first = a_api.get(tile_url("events", tile))
    key = tile_cache.tile_key(get_layer("events"), tile, {}, _a_jurisdiction())
    assert tile_cache.cache_entry(key) is not None
    cache.delete(key)  # Redis lost it: the ETag alone cannot tell the tile's next turn
    assert a_api.get(tile_url("events", tile), HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 200
    _sleep_past(soon)
    late = a_api.get(tile_url("events", tile), HTTP_IF_NONE_MATCH=first["ETag"])
    assert late.status_code == 200 and _colours(late)[event.pk] == "yellow"


def test_the_next_turn_is_the_earliest_warning_or_limit_ahead_among_running_features(a_api):
    event = _running_event()
    tile = lonlat_to_tile(event.geom.x, event.geom.y, 16)
    layer = get_layer("events")
    now = timezone.now()
    in_tile = Event.objects.filter(geom__intersects=_box(tile))
    # every running event of the tile far ahead, ours the first to turn, and a suspended one
    # (its clock stands still) sooner still: its turn is not the tile's
    in_tile.filter(state__in=RUNNING).update(
        warn_at=now + dt.timedelta(days=1), due_at=now + dt.timedelta(days=2)
    )
    Event.objects.filter(pk=event.pk).update(
        warn_at=now - dt.timedelta(hours=1), due_at=now + dt.timedelta(seconds=600)
    )
    other = in_tile.filter(state__in=RUNNING).exclude(pk=event.pk).order_by("id").first()
    if other is not None:
        Event.objects.filter(pk=other.pk).update(
            state="suspended", warn_at=now + dt.timedelta(seconds=60), due_at=now + dt.timedelta(seconds=90)
        )
    qs = layer_queryset(layer, {}, _a_jurisdiction())
    rendered = tile_render(layer, tile, qs)
    assert rendered.expires == int((now + dt.timedelta(seconds=600)).timestamp())  # the limit, floored
    assert rendered.at == pytest.approx(time.time(), abs=5)  # the database's clock
    colours = {f["properties"]["id"]: f["properties"].get("colour") for f in decode(rendered.data)["events"]}
    assert colours[event.pk] == "yellow"
    if other is not None:
        assert colours[other.pk] is None
    # aggregated cells carry no colour, and no expiry
    low = lonlat_to_tile(event.geom.x, event.geom.y, 12)
    assert tile_render(layer, low, qs).expires is None


def test_aggregated_event_tiles_do_not_move_with_the_clock(a_api):
    event = _running_event()
    soon = _turning_soon(event)
    low = lonlat_to_tile(event.geom.x, event.geom.y, 12)
    first = a_api.get(tile_url("events", low))
    assert first["X-Tile-Cache"] == "miss"
    _sleep_past(soon)
    again = a_api.get(tile_url("events", low), HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert a_api.get(tile_url("events", low))["X-Tile-Cache"] == "hit"


def test_a_write_to_a_unit_invalidates_tiles_at_its_exact_and_its_public_point(planner_a, a_api, family):
    exact_tile = lonlat_to_tile(family.geom.x, family.geom.y, 18)
    public_tile = lonlat_to_tile(family.public_geom.x, family.public_geom.y, 18)
    planner_a.get(tile_url("civilization", exact_tile))
    a_api.get(tile_url("civilization", public_tile))
    assert planner_a.get(tile_url("civilization", exact_tile))["X-Tile-Cache"] == "hit"
    assert a_api.get(tile_url("civilization", public_tile))["X-Tile-Cache"] == "hit"
    CivilizationUnit.objects.filter(pk=family.pk).update(
        name="改名的文明家庭"
    )  # a statement: the trigger logs both points
    exact = planner_a.get(tile_url("civilization", exact_tile))
    public = a_api.get(tile_url("civilization", public_tile))
    assert exact["X-Tile-Cache"] == public["X-Tile-Cache"] == "miss"
    assert {
        f["properties"]["name"]
        for f in decode(public.content)["civilization"]
        if f["properties"]["id"] == family.pk
    } == {"改名的文明家庭"}


def test_the_new_layers_are_listed_by_scope_and_described(a_api, db):
    names = {x["name"] for x in a_api.get("/tiles/").json()["layers"]}
    assert {"components", "cameras", "civilization", "staff"} <= names
    field = user_create(
        username="tl_field_list", password=PASSWORD, roles=["field_staff"], region_code="510502"
    )
    assert "civilization" not in {x["name"] for x in client_for(field).get("/tiles/").json()["layers"]}
    for name in ("components", "cameras", "civilization", "staff"):
        doc = a_api.get(f"/tiles/{name}.json")
        assert doc.status_code == 200, (name, doc.content[:200])
        assert set(get_layer(name).attributes) <= set(doc.json()["vector_layers"][0]["fields"])
