"""HTTP caching (ETag, Cache-Control, 304) and the Redis tile cache with area-precise invalidation."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection

from events.models import Event
from grids.models import UnitGrid
from tiles.tilemath import lonlat_to_tile

from .conftest import decode, tile_url

pytestmark = pytest.mark.django_db


def _event_tile(z: int = 17, prefix: str = "510502"):
    event = Event.objects.filter(grid_code__startswith=prefix).order_by("id").first()
    return event, lonlat_to_tile(event.geom.x, event.geom.y, z)


def test_second_request_is_a_cache_hit_with_the_same_etag(api):
    _, tile = _event_tile()
    first = api.get(tile_url("events", tile))
    second = api.get(tile_url("events", tile))
    assert (first["X-Tile-Cache"], second["X-Tile-Cache"]) == ("miss", "hit")
    assert first["ETag"] == second["ETag"] and first.content == second.content
    assert first["Cache-Control"] == "private, max-age=30"
    assert "Authorization" in first["Vary"]


def test_if_none_match_answers_304_without_a_body(api):
    _, tile = _event_tile()
    etag = api.get(tile_url("events", tile))["ETag"]
    response = api.get(tile_url("events", tile), HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304 and response.content == b""
    assert response["ETag"] == etag
    assert api.get(tile_url("events", tile), HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_a_write_in_the_tile_invalidates_it_and_moves_the_etag(api):
    event, tile = _event_tile()
    before = api.get(tile_url("events", tile))
    Event.objects.filter(pk=event.pk).update(state="closed" if event.state != "closed" else "reported")
    after = api.get(tile_url("events", tile), HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200 and after["X-Tile-Cache"] == "miss"
    assert after["ETag"] != before["ETag"]
    state = {f["properties"]["id"]: f["properties"]["state"] for f in decode(after.content)["events"]}
    assert state[event.pk] == Event.objects.get(pk=event.pk).state


def test_a_write_elsewhere_keeps_the_cached_tile(api):
    from django.contrib.gis.geos import Polygon

    from tiles.selectors.mvt import BUFFER, EXTENT

    _, tile = _event_tile(prefix="510502")
    box = Polygon.from_bbox(tile.bounds_4326(BUFFER / EXTENT))
    box.srid = 4326
    far = Event.objects.exclude(geom__intersects=box).order_by("id").first()
    first = api.get(tile_url("events", tile))
    Event.objects.filter(pk=far.pk).update(description="改写")
    again = api.get(tile_url("events", tile))
    assert again["X-Tile-Cache"] == "hit" and again["ETag"] == first["ETag"]
    # while the tile that holds it is rebuilt
    far_tile = lonlat_to_tile(far.geom.x, far.geom.y, 17)
    assert far_tile != tile


def test_bulk_and_raw_sql_writes_invalidate_too(api):
    """Statement triggers see what signals would not: raw SQL."""
    grid = UnitGrid.objects.filter(code__startswith="510502").order_by("code").first()
    p = grid.geom.point_on_surface
    tile = lonlat_to_tile(p.x, p.y, 16)
    before = api.get(tile_url("grids", tile))
    with connection.cursor() as cur:
        cur.execute("UPDATE grids_unitgrid SET name = name || '（改）' WHERE code = %s", [grid.code])
    after = api.get(tile_url("grids", tile))
    assert after["X-Tile-Cache"] == "miss" and after["ETag"] != before["ETag"]
    names = {f["properties"]["code"]: f["properties"]["name"] for f in decode(after.content)["grids"]}
    assert names[grid.code].endswith("（改）")


def test_a_joined_table_change_invalidates_the_whole_layer(api):
    event, tile = _event_tile()
    before = api.get(tile_url("events", tile))
    event.category.__class__.objects.filter(pk=event.category_id).update(name="改名")
    assert api.get(tile_url("events", tile))["ETag"] != before["ETag"]


def test_clock_dependent_filters_are_not_kept(api):
    _, tile = _event_tile()
    first = api.get(tile_url("events", tile, "overdue=true"))
    second = api.get(tile_url("events", tile, "overdue=true"))
    assert second["X-Tile-Cache"] == "miss"
    assert first["Cache-Control"] == "private, max-age=0"


def test_redis_down_still_serves_tiles(api, monkeypatch):
    from django.core.cache.backends.redis import RedisCache

    from tiles import cache as tile_cache

    monkeypatch.setattr(tile_cache, "cache", RedisCache("redis://127.0.0.1:1/0", {}))
    _, tile = _event_tile()
    for _ in range(2):
        response = api.get(tile_url("events", tile))
        assert response.status_code == 200 and decode(response.content)["events"]
        assert response["X-Tile-Cache"] == "miss"


def test_a_tile_built_within_the_second_of_its_turn_is_not_kept_and_has_its_own_etag():
    from tiles import cache as tile_cache
    from tiles.selectors.mvt import RenderedTile

    key = "tile:test-turn"
    # turns are whole seconds: one at second 1000 happens within [1000, 1001)
    before = RenderedTile(b"green", "1:1", False, at=1000.2, expires=1000)
    after = RenderedTile(b"yellow", "1:1", False, at=1000.7, expires=1000)
    assert before.expired and after.expired
    assert tile_cache.rendered_etag(key, before) != tile_cache.rendered_etag(key, after)
    tile_cache.cache_put(key, before, 3600)
    assert tile_cache.cache_entry(key) is None
    # otherwise kept until its turn only (at least a second), and served only before it
    kept = RenderedTile(b"green", "1:1", False, at=999.5, expires=1000)
    assert tile_cache.rendered_etag(key, kept) == tile_cache.etag_of(key, "1:1", 1000)
    tile_cache.cache_put(key, kept, 3600)
    entry = tile_cache.cache_entry(key)
    assert entry == ("1:1", 1000, b"green")
    assert 0 < cache._cache.get_client(key).ttl(cache.make_and_validate_key(key)) <= 1  # Redis's own
    assert tile_cache.servable(entry, "1:1", 999.9) == (b"green", 1000)
    assert tile_cache.servable(entry, "1:1", 1000.0) is None
    assert tile_cache.servable(entry, "1:2", 999.9) is None
