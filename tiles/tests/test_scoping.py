"""Tile routes are outside /api/v1/, so the scope walk does not see them: this is their walk.

A caller of district A (江阳区, 510502) must never get a feature of district B
(龙马潭区, 510504) from any layer at any zoom — aggregated low zooms included,
where nothing names a district and only the counts can leak — by session or key.
"""

from __future__ import annotations

import pytest
from django.contrib.gis.geos import Polygon

from civilization.models import CivilizationUnit
from events.models import Event
from geocoding.models import DoorPlate
from grids.models import Camera, CityComponent, GridStaff, UnitGrid
from tiles.registry import get_layer, layer_names
from tiles.tilemath import Tile, lonlat_to_tile

from .conftest import A_PREFIX, B_PREFIX, decode, grid_tile, tile_url

pytestmark = pytest.mark.django_db

ZOOMS = (6, 8, 10, 12, 13, 14, 15, 16, 17, 18)


def _box(tile: Tile) -> Polygon:
    box = Polygon.from_bbox(tile.bounds_4326())
    box.srid = 4326
    return box


def _tiles_with_b_data() -> list[Tile]:
    """Per zoom, the tiles of a B grid, event, door plate, component, camera and civilization
    unit (and at low zooms they hold A too)."""
    points = [
        Event.objects.filter(grid_code__startswith=B_PREFIX).order_by("id").first().geom,
        DoorPlate.objects.filter(grid_code__startswith=B_PREFIX).order_by("id").first().geom,
        CityComponent.objects.filter(grid_code__startswith=B_PREFIX).order_by("id").first().point,
        Camera.objects.filter(grid_code__startswith=B_PREFIX).order_by("id").first().geom,
        CivilizationUnit.objects.filter(grid_code__startswith=B_PREFIX).order_by("id").first().public_geom,
    ]
    tiles = set()
    for z in ZOOMS:
        tiles.add(grid_tile(B_PREFIX, z)[1])
        tiles.update(lonlat_to_tile(p.x, p.y, z) for p in points)
    return sorted(tiles)


def _b_leaks(layer_name: str, features: list[dict]) -> list[dict]:
    if layer_name == "staff":  # people: by the person's district
        b_people = set(
            GridStaff.objects.filter(region_code__startswith=B_PREFIX).values_list("pk", flat=True)
        )
        return [f for f in features if f["properties"]["person"] in b_people]
    key = "code" if layer_name == "grids" or layer_name.startswith("regions-") else "grid"
    return [f for f in features if str(f["properties"].get(key, "")).startswith(B_PREFIX)]


def _a_count(layer_name: str, tile: Tile) -> int:
    """A's rows of a point layer in the tile, by the model's grid code and the layer's point."""
    layer = get_layer(layer_name)
    model = layer.queryset().model
    grid_field = model.Scope.grid_field
    return model.objects.filter(
        **{f"{grid_field}__startswith": A_PREFIX, f"{layer.geom_field}__intersects": _box(tile)}
    ).count()


@pytest.mark.parametrize("client_name", ["a_api", "a_key_api"])
def test_district_a_never_gets_a_b_feature_in_any_layer_or_zoom(request, client_name):
    client = request.getfixturevalue(client_name)
    tiles = _tiles_with_b_data()
    # the test means something: B data lies in these tiles (and the nationwide view shows it)
    assert any(
        UnitGrid.objects.filter(code__startswith=B_PREFIX, geom__intersects=_box(t)).exists() for t in tiles
    )
    checked_aggregates = 0
    for name in layer_names():
        layer = get_layer(name)
        for tile in tiles:
            response = client.get(tile_url(name, tile))
            assert response.status_code == 200, (name, tile, response.content[:200])
            features = decode(response.content).get(name, [])
            if layer.aggregate_below is not None and tile.z < layer.aggregate_below:
                # cells carry only counts: they must add up to A's rows in the tile, not A's and B's
                assert sum(f["properties"]["count"] for f in features) == _a_count(name, tile), (name, tile)
                checked_aggregates += 1
                continue
            assert not _b_leaks(name, features), (name, tile)
            if name.startswith("regions-"):
                assert all(f["properties"]["code"].startswith(A_PREFIX) for f in features), (name, tile)
    assert checked_aggregates


def test_the_nationwide_view_of_the_same_tiles_does_show_b(api):
    """The control: B's features are in these tiles, so their absence above is the scoping."""
    tiles = _tiles_with_b_data()
    seen = set()
    for name in ("grids", "events", "doors", "regions-district"):
        for tile in tiles:
            features = decode(api.get(tile_url(name, tile)).content).get(name, [])
            if _b_leaks(name, features):
                seen.add(name)
    assert seen == {"grids", "events", "doors", "regions-district"}


def test_a_and_b_callers_do_not_share_cached_tiles(a_api, b_api):
    event = Event.objects.filter(grid_code__startswith=B_PREFIX).order_by("id").first()
    tile = lonlat_to_tile(event.geom.x, event.geom.y, 17)
    b_features = decode(b_api.get(tile_url("events", tile)).content)["events"]
    assert event.pk in {f["properties"]["id"] for f in b_features}
    response = a_api.get(tile_url("events", tile))  # same layer/z/x/y, another jurisdiction
    assert response["X-Tile-Cache"] == "miss"
    assert event.pk not in {f["properties"]["id"] for f in decode(response.content).get("events", [])}


def test_field_staff_see_only_their_grids(db):
    from accounts.services import user_create

    from .conftest import PASSWORD, client_for

    grids = list(UnitGrid.objects.filter(code__startswith=A_PREFIX).order_by("code")[:2])
    staff = client_for(
        user_create(
            username="tl_staff", password=PASSWORD, roles=["field_staff"], grid_codes=[g.code for g in grids]
        )
    )
    _, tile = grid_tile(A_PREFIX, 13)
    features = decode(staff.get(tile_url("grids", tile)).content).get("grids", [])
    assert features and {f["properties"]["code"] for f in features} <= {g.code for g in grids}
    events = decode(staff.get(tile_url("events", tile)).content).get("events", [])
    assert (
        sum(f["properties"]["count"] for f in events)
        == Event.objects.filter(grid_code__in=[g.code for g in grids], geom__intersects=_box(tile)).count()
    )
