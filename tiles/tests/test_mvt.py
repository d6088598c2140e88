"""Vector tiles: features and attributes, clipping, low-zoom aggregation, filters, bad input."""

from __future__ import annotations

import math

import pytest
from django.contrib.gis.geos import Polygon

from events.models import Event
from geocoding.models import DoorPlate
from grids.models import UnitGrid
from tiles.registry import get_layer, layer_names
from tiles.selectors.mvt import BUFFER, EXTENT
from tiles.tilemath import Tile, lonlat_to_tile

from .conftest import decode, grid_tile, tile_url

pytestmark = pytest.mark.django_db


def _box(tile: Tile) -> Polygon:
    box = Polygon.from_bbox(tile.bounds_4326())
    box.srid = 4326
    return box


def _coords(geometry) -> list[tuple[float, float]]:
    out, stack = [], [geometry["coordinates"]]
    while stack:
        item = stack.pop()
        if item and isinstance(item[0], int | float):
            out.append(tuple(item))
        else:
            stack.extend(item)
    return out


def test_layers_are_registered_with_tilejson(api):
    assert {"events", "doors", "grids", "regions-district", "regions-community"} <= set(layer_names())
    listed = api.get("/tiles/").json()["layers"]
    assert {entry["name"] for entry in listed} == set(layer_names())
    body = api.get("/tiles/events.json?state=reported").json()
    assert body["tilejson"] == "3.0.0"
    assert body["tiles"][0].endswith("/tiles/events/{z}/{x}/{y}.mvt?state=reported")
    fields = body["vector_layers"][0]["fields"]
    assert {"id", "category", "state", "kind", "source", "grid", "count"} <= set(fields)
    assert len(body["bounds"]) == 4 and body["bounds"][0] < body["bounds"][2]


def test_grid_tile_has_every_grid_of_the_tile_with_attributes(api):
    grid, tile = grid_tile("510502", 15)
    response = api.get(tile_url("grids", tile))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.mapbox-vector-tile"
    features = decode(response.content)["grids"]
    expected = set(UnitGrid.objects.filter(geom__intersects=_box(tile)).values_list("code", flat=True))
    got = {f["properties"]["code"] for f in features}
    assert grid.code in got
    assert expected <= got  # and the buffer may add neighbours just outside
    props = next(f["properties"] for f in features if f["properties"]["code"] == grid.code)
    assert props == {
        "code": grid.code, "name": grid.name, "kind": grid.kind, "community": grid.community_code,
        "households": grid.households, "population": grid.population,
    }  # fmt: skip


def test_polygons_are_clipped_to_the_tile_and_its_buffer(api):
    # at z18 a grid of 100–300 m is wider than the tile (~150 m): it must be cut at the buffer
    _, tile = grid_tile("510502", 18)
    features = decode(api.get(tile_url("grids", tile)).content)["grids"]
    assert features
    points = [p for f in features for p in _coords(f["geometry"])]
    assert all(-BUFFER <= x <= EXTENT + BUFFER and -BUFFER <= y <= EXTENT + BUFFER for x, y in points)
    assert any(x in (-BUFFER, EXTENT + BUFFER) or y in (-BUFFER, EXTENT + BUFFER) for x, y in points)


def test_event_points_carry_their_attributes(api):
    event = Event.objects.select_related("category").order_by("id").first()
    tile = lonlat_to_tile(event.geom.x, event.geom.y, 17)
    features = decode(api.get(tile_url("events", tile)).content)["events"]
    mine = [f for f in features if f["properties"]["id"] == event.pk]
    assert len(mine) == 1
    assert mine[0]["id"] == event.pk  # the MVT feature id as well
    props = mine[0]["properties"]
    assert props["category"] == event.category.code
    assert (props["state"], props["kind"], props["source"], props["grid"]) == (
        event.state,
        event.kind,
        event.source,
        event.grid_code,
    )
    assert props["reported_at"] == int(event.reported_at.timestamp())
    # the point is where the event is: its tile pixel matches
    (x, y) = mine[0]["geometry"]["coordinates"]
    x0, y0, x1, y1 = tile.bounds_3857()
    from tiles.tilemath import mercator

    mx, my = mercator(event.geom.x, event.geom.y)
    assert abs(x - (mx - x0) / (x1 - x0) * EXTENT) <= 1
    assert abs(y - (my - y0) / (y1 - y0) * EXTENT) <= 1  # decoded with y up


def test_low_zoom_events_are_aggregated_and_add_up(api):
    layer = get_layer("events")
    z = layer.aggregate_below - 6  # a city-wide view
    event = Event.objects.order_by("id").first()
    tile = lonlat_to_tile(event.geom.x, event.geom.y, z)
    features = decode(api.get(tile_url("events", tile)).content)["events"]
    assert features and all(set(f["properties"]) == {"count"} for f in features)
    inside = Event.objects.filter(geom__intersects=_box(tile)).count()
    assert sum(f["properties"]["count"] for f in features) == inside
    assert len(features) < inside  # cells, not points
    # the four children of the tile count the same events between them, none twice
    children = [Tile(z + 1, 2 * tile.x + dx, 2 * tile.y + dy) for dx in (0, 1) for dy in (0, 1)]
    total = 0
    for child in children:
        decoded = decode(api.get(tile_url("events", child)).content)
        total += sum(f["properties"]["count"] for f in decoded.get("events", []))
    assert total == inside


def test_event_filters_are_the_event_queries_filters(api):
    event = Event.objects.order_by("id").first()
    tile = lonlat_to_tile(event.geom.x, event.geom.y, 17)
    others = "reported" if event.state != "reported" else "closed"
    got = decode(api.get(tile_url("events", tile, f"state={event.state}")).content)["events"]
    assert event.pk in {f["properties"]["id"] for f in got}
    assert {f["properties"]["state"] for f in got} == {event.state}
    got = decode(api.get(tile_url("events", tile, f"state={others}")).content).get("events", [])
    assert event.pk not in {f["properties"]["id"] for f in got}
    # the shared range filter: a time window that ends before the event
    before = event.reported_at.isoformat().replace("+", "%2B")
    got = decode(api.get(tile_url("events", tile, f"to={before}")).content).get("events", [])
    assert event.pk not in {f["properties"]["id"] for f in got}


def test_door_plates_aggregate_below_their_threshold_and_show_numbers_above(api):
    door = DoorPlate.objects.select_related("street").order_by("id").first()
    layer = get_layer("doors")
    high = lonlat_to_tile(door.geom.x, door.geom.y, layer.aggregate_below + 2)
    features = decode(api.get(tile_url("doors", high)).content)["doors"]
    mine = next(f for f in features if f["properties"]["id"] == door.pk)
    assert mine["properties"]["street"] == door.street.name
    assert mine["properties"]["number"] == door.number
    low = lonlat_to_tile(door.geom.x, door.geom.y, layer.aggregate_below - 1)
    features = decode(api.get(tile_url("doors", low)).content)["doors"]
    assert (
        sum(f["properties"]["count"] for f in features)
        == DoorPlate.objects.filter(geom__intersects=_box(low)).count()
    )


def test_an_empty_tile_is_an_empty_body(api):
    response = api.get(tile_url("grids", Tile(10, 0, 0)))
    assert response.status_code == 200 and response.content == b""


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("/tiles/grids/3/8/1.mvt", "bad_tile"),  # x beyond 2^z - 1
        ("/tiles/grids/3/1/-1.mvt", "bad_tile"),
        ("/tiles/grids/25/0/0.mvt", "bad_tile"),
        ("/tiles/grids/a/0/0.mvt", "bad_tile"),
        ("/tiles/grids/12/3300/1700.mvt?colour=red", "unknown_filter"),
        ("/tiles/events/12/3300/1700.mvt?state=nonsense", "invalid"),
        ("/tiles/events/12/3300/1700.mvt?kind=thing", "invalid"),
        ("/tiles/events/12/3300/1700.mvt?from=yesterday", "invalid"),
        ("/tiles/events/12/3300/1700.mvt?overdue=maybe", "invalid"),
        ("/tiles/events.json?state=nonsense", "invalid"),
    ],
)
def test_bad_input_is_a_4xx_json_error(api, url, code):
    response = api.get(url)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_unknown_layer_is_404_json(api):
    for url in ("/tiles/nothing/1/0/0.mvt", "/tiles/nothing.json"):
        response = api.get(url)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "unknown_layer"
    response = api.get("/tiles/grids/1/0.mvt")  # not a tile address at all
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_anonymous_callers_get_401_and_missing_scopes_403(anon_api, db):
    from accounts.services import user_create

    from .conftest import PASSWORD, client_for

    for url in ("/tiles/grids/12/3300/1700.mvt", "/tiles/grids.json", "/tiles/nothing/1/0/0.mvt"):
        response = anon_api.get(url)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"
    auditor = client_for(
        user_create(username="tl_aud", password=PASSWORD, roles=["auditor"], region_code="510502")
    )
    response = auditor.get("/tiles/events/12/3300/1700.mvt")
    assert response.status_code == 403
    planner = client_for(
        user_create(username="tl_plan", password=PASSWORD, roles=["planner"], region_code="510502")
    )
    assert planner.get("/tiles/doors/12/3300/1700.mvt").status_code == 200  # geocode:read


def test_point_tiles_stop_at_the_feature_cap(api, tile_namespace):
    layer = get_layer("doors")
    door = DoorPlate.objects.order_by("id").first()
    tile = lonlat_to_tile(door.geom.x, door.geom.y, layer.aggregate_below)
    assert DoorPlate.objects.filter(geom__intersects=_box(tile)).count() > 3
    tile_namespace["TILE_MAX_FEATURES"] = 3
    assert len(decode(api.get(tile_url("doors", tile)).content)["doors"]) == 3


def test_polygons_below_the_minimum_size_are_left_out(api):
    """A grid narrower and lower than ``min_size_px`` of the tile is not drawn; the others are."""
    layer = get_layer("grids")
    _, tile = grid_tile("510502", 9)
    lon0, lat0, lon1, lat1 = bounds = tile.bounds_4326(BUFFER / EXTENT)
    deg = layer.min_size_px * (lon1 - lon0) / 256 / (1 + 2 * BUFFER / EXTENT)
    box = Polygon.from_bbox(bounds)
    box.srid = 4326
    big, small = set(), set()
    for code, geom in UnitGrid.objects.filter(geom__bboverlaps=box).values_list("code", "geom"):
        x0, y0, x1, y1 = geom.extent
        wide = x1 - x0 >= deg or y1 - y0 >= deg * math.cos(math.radians((lat0 + lat1) / 2))
        (big if wide else small).add(code)
    assert big and small  # the test means something: both kinds lie in the tile
    drawn = {f["properties"]["code"] for f in decode(api.get(tile_url("grids", tile)).content)["grids"]}
    assert drawn and drawn <= big
    assert not drawn & small
