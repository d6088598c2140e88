"""The server-side tile cache (Redis) and how it learns that a tile went stale.

**Keys.** One entry per layer / z / x / y / filters (sorted query string) /
jurisdiction (nationwide, a region code, or a digest of a grid list — never the
user, so everyone of one district shares the entries) / database, hashed.

**Invalidation, area-precise.** Statement triggers on every table a registered
layer reads (:mod:`tiles.triggers`) append to ``tiles_tilechange`` the box of
the rows each statement touched (old and new, in ~5 km cells, so a city-wide
sweep records a few dozen boxes, not one box over everything); a table without
geometry (a joined category table) and TRUNCATE record a NULL box: everywhere.
A tile's *stamp* is ``count:sum(id)`` of the changes whose box meets the tile
(with its buffer). It is read in the same statement as the tile, so a cached
tile carries the stamp of exactly the data it was built from, and a cached
entry is used only while the stamp still matches — one indexed query on a
small table, never a rebuild. ``id`` comes from a sequence, never reused, so a
change committed late (a lower id than one seen already) still moves the sum.
Changes older than ``TILE_CACHE_TTL_S`` are pruned (beat task): no cached
entry older than that can exist, and pruning only ever moves a stamp, which
forces a rebuild, never hides one.

**The clock.** A layer whose attributes move with time (an event's timeliness colour) declares
them (``clock_attribute``, ``turns``: :class:`tiles.registry.TileLayer`). The statement that
builds one of its feature tiles also computes, over the very rows of the tile, the tile's *next
turn*: the earliest turn still ahead among its features whose clock runs (events: the warning
and limit times of those with a colour, i.e. open and not suspended) — at most a second early,
as the turns are whole seconds (one built within the second of a turn is not kept). The entry
keeps it, and is served only while the database's clock (read by the stamp query, the clock the
colours are computed with) is before it; Redis keeps it no longer than that (at least a second).
So a hit costs the stamp query and nothing more, and a tile goes stale exactly when a colour
turns, with no write and no timer. Anything else that changes a colour (a state change, a resume
from suspension, a new event, a moved limit) is a write, which the stamp catches.

**HTTP.** The ETag is a digest of the key, the stamp and the next turn, so an ETag issued
before a colour turned never earns a 304 after it. ``If-None-Match`` is answered (304) from the
stamp alone, without reading Redis, for a tile with no clock; a tile with one is checked against
its cached entry (without it, it is rebuilt).

Redis being down degrades to building every tile; it never fails a request.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Mapping

from django.conf import settings
from django.core.cache import cache
from django.db import connection

from .registry import TileLayer
from .selectors.mvt import NOW_SQL, RenderedTile, stamp_sql, tile_render
from .tilemath import Tile

__all__ = [
    "CacheEntry", "cache_entry", "cache_put", "etag_of", "jurisdiction_key", "rendered_etag", "servable",
    "tile_build", "tile_key", "tile_stamp",
]  # fmt: skip

logger = logging.getLogger(__name__)

#: what Redis holds under a tile's key: (stamp, next turn or None, tile)
CacheEntry = tuple[str, int | None, bytes]
#: the entries' layout: part of the key, so entries of another layout are never read
_LAYOUT = 2


def jurisdiction_key(jurisdiction) -> str:
    if jurisdiction.nationwide:
        return "all"
    if jurisdiction.grid_codes:
        grids = ",".join(sorted(jurisdiction.grid_codes))
        return "g" + hashlib.sha1(grids.encode()).hexdigest()[:16]
    return f"r{jurisdiction.region_code or ''}"


def tile_key(layer: TileLayer, tile: Tile, params: Mapping[str, str], jurisdiction) -> str:
    query = "&".join(f"{k}={params[k]}" for k in sorted(params))
    db = connection.settings_dict["NAME"]
    namespace = settings.CIVGRID["TILE_CACHE_NAMESPACE"]
    name = f"{layer.name}~{layer.variant}" if layer.variant else layer.name  # a personal variant: its own
    where = f"{tile.z}/{tile.x}/{tile.y}|{query}|{jurisdiction_key(jurisdiction)}"
    raw = f"{_LAYOUT}|{namespace}|{db}|{name}|{where}"
    return "tile:" + hashlib.sha1(raw.encode()).hexdigest()


def etag_of(key: str, stamp: str, expires: float | None) -> str:
    return '"' + hashlib.sha1(f"{key}|{stamp}|{expires}".encode()).hexdigest()[:20] + '"'


def rendered_etag(key: str, rendered: RenderedTile) -> str:
    """The ETag of a tile just built: :func:`etag_of` — but one built within the second of a turn
    holds for no time (not kept, never a 304) and gets its own, of its build time, so that no
    two bodies share an ETag."""
    return etag_of(key, rendered.stamp, rendered.at if rendered.expired else rendered.expires)


def tile_stamp(layer: TileLayer, tile: Tile) -> tuple[str, float]:
    """The tile's change stamp now, and now on the database's clock (epoch seconds) — one
    query (see the module docstring)."""
    sql, params = stamp_sql(layer, tile)
    with connection.cursor() as cur:
        cur.execute(f"SELECT {sql}, {NOW_SQL}", params)
        stamp, now = cur.fetchone()
    return stamp, now


def servable(entry: CacheEntry | None, stamp: str, now: float) -> tuple[bytes, int | None] | None:
    """The cached tile and its next turn, if ``entry`` still answers for the tile: built from
    the data as it is (``stamp``) and, if it has a next turn, before it (``now``)."""
    if entry is None:
        return None
    held_stamp, expires, data = entry
    if held_stamp != stamp or (expires is not None and now >= expires):
        return None
    return data, expires


def cache_entry(key: str) -> CacheEntry | None:
    """The cached entry under ``key``, whatever its stamp and expiry; None if absent."""
    try:
        return cache.get(key)
    except Exception:  # Redis down: build instead
        logger.warning("tile cache unavailable", exc_info=True)
        return None


def tile_build(
    layer: TileLayer, tile: Tile, qs, key: str, *, volatile: bool, memo=None
) -> tuple[RenderedTile, str]:
    """The tile built (:func:`tiles.selectors.mvt.tile_render`) and its ETag, kept under
    ``key`` — briefly if ``volatile`` (filters that move with the clock), otherwise until the
    data changes, its next turn or ``TILE_CACHE_TTL_S``; a live layer is never kept. The one
    way both the full view and the lean path build a tile."""
    rendered = tile_render(layer, tile, qs, memo)
    if not layer.live:
        cfg = settings.CIVGRID
        cache_put(key, rendered, cfg["TILE_VOLATILE_TTL_S"] if volatile else cfg["TILE_CACHE_TTL_S"])
    return rendered, rendered_etag(key, rendered)


def cache_put(key: str, rendered: RenderedTile, ttl: int) -> None:
    """Keep ``rendered`` for ``ttl`` seconds, or only until its next turn (at least a second,
    Redis's unit); one built within the second of a turn is not kept."""
    if rendered.expired:
        return
    if rendered.expires is not None:
        ttl = min(ttl, max(1, math.ceil(rendered.expires - rendered.at)))
    entry: CacheEntry = (rendered.stamp, rendered.expires, rendered.data)
    try:
        cache.set(key, entry, ttl)
    except Exception:
        logger.warning("tile cache unavailable", exc_info=True)
