"""The lean path of cached tiles (:mod:`tiles.fastpath`): it answers only what the full DRF
path would answer the same way — never across jurisdictions, never to a caller the full path
has not verified, within the same rate limit — and leaves every other answer to the full path."""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from unittest import mock

import pytest
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.services import apikey_issue, apikey_revoke, user_create
from civilization.models import CivilizationUnit
from events import flow
from events.models import Event
from tiles import fastpath
from tiles.selectors import mvt
from tiles.tilemath import lonlat_to_tile
from tiles.views import TileView

from .conftest import A_PREFIX, B_PREFIX, PASSWORD, decode, grid_tile, tile_url

pytestmark = pytest.mark.django_db

RUNNING = sorted(flow.OPEN_STATES - {"suspended"})
SCOPES = ["regions:read", "grids:read", "events:read", "geocode:read", "civilization:read"]


@pytest.fixture(autouse=True)
def fresh_principals():
    fastpath.forget_all()
    yield
    fastpath.forget_all()


def key_client(region: str, **kwargs) -> tuple[Client, str]:
    issued = apikey_issue(name=f"lean-{region}-{kwargs}", scopes=SCOPES, region_code=region, **kwargs)
    return Client(HTTP_AUTHORIZATION=f"Bearer {issued.token}"), issued.token


def session_client(username: str, role: str, region: str) -> Client:
    client = Client()
    client.force_login(user_create(username=username, password=PASSWORD, roles=[role], region_code=region))
    return client


def full_path_forbidden():
    """Any request reaching the DRF view fails the test: what follows must be the lean path."""
    return mock.patch.object(TileView, "get", side_effect=AssertionError("reached the full path"))


def _a_tile():
    event = Event.objects.filter(grid_code__startswith=A_PREFIX).order_by("id").first()
    return event, lonlat_to_tile(event.geom.x, event.geom.y, 17)


def test_a_cached_tile_is_answered_by_the_lean_path_with_the_same_headers():
    client, _ = key_client("510502")
    _, tile = _a_tile()
    url = tile_url("events", tile)
    assert client.get(url)["X-Tile-Cache"] == "miss"
    fastpath.forget_all()
    full = client.get(url)  # a hit of the full path (the lean one has forgotten the caller)
    assert full["X-Tile-Cache"] == "hit"
    with full_path_forbidden():
        lean = client.get(url)
    assert lean.status_code == 200 and lean["X-Tile-Cache"] == "hit"
    assert lean.content == full.content
    for header in ("Content-Type", "ETag", "Cache-Control"):
        assert lean[header] == full[header], header
    # a tile's bytes do not depend on the language (the full path's LocaleMiddleware adds it)
    assert lean["Vary"] == full["Vary"].replace(", Accept-Language", "")
    with full_path_forbidden():
        not_modified = client.get(url, HTTP_IF_NONE_MATCH=lean["ETag"])
    assert not_modified.status_code == 304 and not_modified["ETag"] == lean["ETag"]


def test_a_cached_tile_is_never_served_across_jurisdictions():
    a, _ = key_client("510502")
    b, _ = key_client("510504")
    event, tile = _a_tile()
    url = tile_url("events", tile)
    assert event.pk in {f["properties"]["id"] for f in decode(a.get(url).content)["events"]}
    a.get(url)
    b.get(tile_url("events", lonlat_to_tile(0, 0, 17)))  # B is remembered by the lean path too
    with full_path_forbidden():  # the lean path builds B's own, from B's prepared queryset
        response = b.get(url)
    assert response.status_code == 200 and response["X-Tile-Cache"] == "miss"
    assert event.pk not in {f["properties"]["id"] for f in decode(response.content).get("events", [])}
    # and B's own entry is B's: a district-B tile of grids, cached for B, is not A's
    _, b_tile = grid_tile(B_PREFIX, 15)
    b.get(tile_url("grids", b_tile))
    a_view = a.get(tile_url("grids", b_tile))
    assert a_view["X-Tile-Cache"] == "miss"
    assert not any(
        f["properties"]["code"].startswith(B_PREFIX) for f in decode(a_view.content).get("grids", [])
    )


def test_anonymous_and_forged_callers_never_get_a_cached_tile():
    a, token = key_client("510502")
    _, tile = _a_tile()
    url = tile_url("events", tile)
    a.get(url)
    assert a.get(url)["X-Tile-Cache"] == "hit"
    anonymous = Client().get(url)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "not_authenticated"
    forged = Client(HTTP_AUTHORIZATION=f"Bearer {token[:-4]}AAAA").get(url)
    assert forged.status_code == 401 and "error" in forged.json()
    # a session cookie that is not a session, with the key's header: not the key's credentials
    odd = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    odd.cookies["sessionid"] = "nonsense"
    with full_path_forbidden(), pytest.raises(AssertionError):
        odd.get(url)


def test_a_revoked_key_is_refused_once_the_lean_path_forgets_it(monkeypatch):
    a, token = key_client("510502")
    _, tile = _a_tile()
    url = tile_url("events", tile)
    a.get(url)
    apikey_revoke(prefix=token.split("_")[1])
    monkeypatch.setattr(fastpath, "PRINCIPAL_CACHE_SECONDS", 0.0)
    from accounts import authentication

    monkeypatch.setattr(authentication, "KEY_CACHE_SECONDS", 0.0)
    response = a.get(url)
    assert response.status_code == 401 and response.json()["error"]["code"] == "revoked_key"


def test_the_rate_limit_holds_on_the_lean_path():
    a, _ = key_client("510502", rate_limit_per_minute=3)
    _, tile = _a_tile()
    url = tile_url("events", tile)
    assert [a.get(url).status_code for _ in range(3)] == [200, 200, 200]  # miss, then lean hits
    over = a.get(url)
    assert over.status_code == 429 and over.json()["error"]["code"] == "throttled"


def test_filters_the_full_path_refuses_are_still_refused():
    a, _ = key_client("510502")
    _, tile = _a_tile()
    a.get(tile_url("events", tile))
    bad = a.get(tile_url("events", tile, "colour_of=blue"))
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "unknown_filter"
    out_of_range = a.get("/tiles/events/3/9/9.mvt")
    assert out_of_range.status_code == 400 and out_of_range.json()["error"]["code"] == "bad_tile"
    assert a.get("/tiles/nothing/3/1/1.mvt").status_code == 404


def test_sessions_of_one_district_do_not_share_families_exact_points():
    unit = (
        CivilizationUnit.objects.filter(unit_type="family", grid_code__startswith=A_PREFIX)
        .order_by("id")
        .first()
    )
    tile = lonlat_to_tile(unit.geom.x, unit.geom.y, 18)
    url = tile_url("civilization", tile)
    planner = session_client("tl_lean_plan", "planner", "510502")
    operator = session_client("tl_lean_op", "operator", "510502")
    planner.get(url)
    assert planner.get(url)["X-Tile-Cache"] == "hit"
    operator.get(tile_url("civilization", lonlat_to_tile(0, 0, 18)))  # remembered
    seen = operator.get(url)
    assert seen["X-Tile-Cache"] == "miss"
    if unit.public_geom.distance(unit.geom) > 0:
        exact = [f for f in decode(seen.content).get("civilization", []) if f["properties"]["id"] == unit.pk]
        assert all(f["properties"]["coarse"] for f in exact)
    with full_path_forbidden():
        assert operator.get(url)["X-Tile-Cache"] == "hit"  # its own entry, from the lean path


def test_a_failure_on_the_lean_path_falls_through_to_the_full_path():
    from django.db import OperationalError

    a, _ = key_client("510502")
    _, tile = _a_tile()
    url = tile_url("events", tile)
    a.get(url)
    broken = mock.patch.object(fastpath.tile_cache, "tile_stamp", side_effect=OperationalError("gone"))
    full = mock.patch.object(TileView, "get", side_effect=lambda *args, **kw: HttpResponse(b"full"))
    with broken as stamp, full:
        response = a.get(url)
    assert stamp.called and response.content == b"full"
    assert a.get(url)["X-Tile-Cache"] == "hit"


def test_a_host_outside_allowed_hosts_is_the_full_paths_400():
    a, _ = key_client("510502")
    _, tile = _a_tile()
    url = tile_url("events", tile)
    a.get(url)
    assert a.get(url, HTTP_HOST="evil.example").status_code == 400


def test_the_lean_path_can_be_switched_off(settings):
    a, _ = key_client("510502")
    _, tile = _a_tile()
    url = tile_url("events", tile)
    a.get(url)
    settings.CIVGRID = {**settings.CIVGRID, "TILE_LEAN_PATH": False}
    with full_path_forbidden(), pytest.raises(AssertionError):
        a.get(url)


def test_the_lean_path_serves_a_tile_only_until_its_next_turn():
    """An event turning yellow, with no write: the lean path stops answering the cached tile
    at the turn, and the full path builds the new colour."""
    client, _ = key_client("510502")
    event = Event.objects.filter(grid_code__startswith=A_PREFIX, state__in=RUNNING).order_by("id").first()
    soon = timezone.now() + dt.timedelta(seconds=3)
    # a write, before any tile is built: what follows is the clock alone
    Event.objects.filter(pk=event.pk).update(warn_at=soon, due_at=soon + dt.timedelta(hours=1))
    url = tile_url("events", lonlat_to_tile(event.geom.x, event.geom.y, 18))
    first = client.get(url)
    assert first["X-Tile-Cache"] == "miss"
    with full_path_forbidden():
        assert client.get(url)["X-Tile-Cache"] == "hit"
        assert client.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    time.sleep(max(0.0, math.floor(soon.timestamp()) + 1.1 - time.time()))
    later = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])  # past the turn: the old one is not served
    assert later.status_code == 200 and later["X-Tile-Cache"] == "miss"
    colour = {f["properties"]["id"]: f["properties"].get("colour") for f in decode(later.content)["events"]}
    assert colour[event.pk] == "yellow"
    with full_path_forbidden():
        assert client.get(url)["ETag"] == later["ETag"]  # kept again, until the limit


def test_a_cached_hit_runs_one_query_the_stamp_and_never_counts_events():
    client, _ = key_client("510502")
    _, tile = _a_tile()
    url = tile_url("events", tile)
    client.get(url)
    with full_path_forbidden(), CaptureQueriesContext(connection) as lean:
        assert client.get(url)["X-Tile-Cache"] == "hit"
    counts_events = re.compile(r'FROM\s+"?events_event\b')  # what the clock part of a stamp once did
    ((stamp,),) = [[q["sql"]] for q in lean.captured_queries]
    assert "tiles_tilechange" in stamp and not counts_events.search(stamp)
    fastpath.forget_all()
    with CaptureQueriesContext(connection) as full:
        assert client.get(url)["X-Tile-Cache"] == "hit"
    reads = [q["sql"] for q in full.captured_queries]
    assert sum("tiles_tilechange" in sql for sql in reads) == 1
    assert not any(counts_events.search(sql) for sql in reads), reads


def test_a_miss_the_lean_path_saw_is_not_looked_up_again_by_the_full_path():
    """The lean path found nothing servable: the full path builds the tile without reading the
    cache or the stamp a second time — and only for the key the lean path looked at."""
    client, _ = key_client("510502")
    _, tile = _a_tile()
    client.get(tile_url("events", lonlat_to_tile(0, 0, 17)))  # the caller is now known to the lean path
    with (
        mock.patch("tiles.cache.cache_entry", side_effect=AssertionError("read again")),
        mock.patch("tiles.cache.tile_stamp", wraps=fastpath.tile_cache.tile_stamp) as stamps,
    ):
        response = client.get(tile_url("events", tile), HTTP_IF_NONE_MATCH='"stale"')
    assert response.status_code == 200 and response["X-Tile-Cache"] == "miss"
    assert stamps.call_count == 1  # no entry: the lean path read no stamp, the full path one
    request = mock.Mock(tile_unservable=("key-a", "3:17", 1.5))
    assert fastpath.seen_by_lean_path(request, "key-a") == ("3:17", 1.5)
    assert fastpath.seen_by_lean_path(request, "key-b") is None
    assert fastpath.seen_by_lean_path(mock.Mock(spec=[]), "key-a") is None


def test_a_stale_entry_the_lean_path_saw_is_checked_with_its_stamp_once():
    client, _ = key_client("510502")
    _, tile = _a_tile()
    url = tile_url("events", tile)
    first = client.get(url)
    event = Event.objects.filter(grid_code__startswith=A_PREFIX).order_by("id").first()
    Event.objects.filter(pk=event.pk).update(description="changed")  # the stamp moves
    with mock.patch("tiles.cache.tile_stamp", wraps=fastpath.tile_cache.tile_stamp) as stamps:
        again = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 200 and again["X-Tile-Cache"] == "miss" and again["ETag"] != first["ETag"]
    assert stamps.call_count == 1  # the lean path's, reused by the full path


def _full_path_build(client, url):
    """The tile as the full path builds it, from an empty cache."""
    from django.core.cache import cache

    fastpath.forget_all()
    cache.clear()
    response = client.get(url)
    assert response["X-Tile-Cache"] == "miss"
    return response


@pytest.mark.parametrize("zoom", [17, 12])  # a tile of features; one of counted cells
def test_a_callers_next_tiles_are_built_by_the_lean_path_as_the_full_path_builds_them(zoom):
    client, _ = key_client("510502")
    event, _ = _a_tile()
    tile = lonlat_to_tile(event.geom.x, event.geom.y, zoom)
    client.get(tile_url("events", lonlat_to_tile(0, 0, zoom)))  # the caller's first tile: the full path
    url = tile_url("events", tile)
    with full_path_forbidden(), CaptureQueriesContext(connection) as lean:
        built = client.get(url)
    assert built.status_code == 200 and built["X-Tile-Cache"] == "miss"
    ((statement,),) = [[q["sql"]] for q in lean.captured_queries]  # the tile's one statement
    assert "ST_AsMVT" in statement and "tiles_tilechange" in statement
    features = decode(built.content)["events"]
    assert features and all(f["properties"].get("count", 1) >= 1 for f in features)
    if zoom == 17:
        assert event.pk in {f["properties"]["id"] for f in features}
    with full_path_forbidden():
        hit = client.get(url)
    assert hit["X-Tile-Cache"] == "hit" and hit["ETag"] == built["ETag"] and hit.content == built.content
    full = _full_path_build(client, url)
    assert full.content == built.content and full["ETag"] == built["ETag"]
    for header in ("Content-Type", "Cache-Control"):
        assert built[header] == full[header], header


def test_the_lean_path_builds_only_with_filters_the_full_path_checked_for_that_caller():
    client, _ = key_client("510502")
    _, tile = _a_tile()
    client.get(tile_url("events", lonlat_to_tile(0, 0, 17)))
    with full_path_forbidden(), pytest.raises(AssertionError):
        client.get(tile_url("events", tile, "state=reported"))  # filters not seen yet: the full path
    assert client.get(tile_url("events", tile, "state=reported"))["X-Tile-Cache"] == "miss"
    bad = client.get(tile_url("events", tile, "state=nonsense"))
    assert bad.status_code == 400
    with full_path_forbidden():
        other = client.get(tile_url("events", lonlat_to_tile(0.1, 0, 17), "state=reported"))
    assert other["X-Tile-Cache"] == "miss"
    # a revalidation without an entry, and a caller seen longer ago than the memo: the full path
    with full_path_forbidden(), pytest.raises(AssertionError):
        client.get(tile_url("events", lonlat_to_tile(0.2, 0, 17)), HTTP_IF_NONE_MATCH='"old"')
    mvt.forget_statements()
    with full_path_forbidden(), pytest.raises(AssertionError):
        client.get(tile_url("events", lonlat_to_tile(0.3, 0, 17)))


def test_a_tile_the_lean_path_builds_is_counted_once_against_the_rate_limit():
    client, _ = key_client("510502", rate_limit_per_minute=3)
    codes = [client.get(tile_url("events", lonlat_to_tile(0.01 * k, 0, 17))).status_code for k in range(4)]
    assert codes == [200, 200, 200, 429]


def test_a_failure_building_on_the_lean_path_falls_through_uncounted():
    from django.db import OperationalError

    client, _ = key_client("510502", rate_limit_per_minute=3)
    client.get(tile_url("events", lonlat_to_tile(0, 0, 17)))  # 1
    _, tile = _a_tile()
    real, calls = fastpath.tile_cache.tile_render, []

    def fails_first(*args, **kwargs):  # the lean path's build fails; the full path's, after it, works
        calls.append(args)
        if len(calls) == 1:
            raise OperationalError("gone")
        return real(*args, **kwargs)

    with mock.patch.object(fastpath.tile_cache, "tile_render", side_effect=fails_first):
        response = client.get(tile_url("events", tile))  # 2: counted by the full path only
    assert len(calls) == 2 and response.status_code == 200 and response["X-Tile-Cache"] == "miss"
    assert client.get(tile_url("events", lonlat_to_tile(0.01, 0, 17))).status_code == 200  # 3
    assert client.get(tile_url("events", lonlat_to_tile(0.02, 0, 17))).status_code == 429
