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

**The clock.** A layer whose attributes move with time (an event's timeliness colour)
declares ``clock_sql``: a text that changes when the clock changes a feature (the number of
events in the box past their warning and past their limit), appended to the stamp of its
feature tiles, so those go stale exactly when a colour turns, with no write and no timer.

**HTTP.** The ETag is a digest of the key and the stamp, so ``If-None-Match``
is answered (304) from the stamp alone, without reading Redis.

Redis being down degrades to building every tile; it never fails a request.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping

from django.conf import settings
from django.core.cache import cache
from django.db import connection

from .registry import TileLayer
from .selectors.mvt import RenderedTile, stamp_sql
from .tilemath import Tile

__all__ = ["cache_entry", "cache_put", "etag_of", "jurisdiction_key", "tile_key", "tile_stamp"]

logger = logging.getLogger(__name__)


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
    raw = f"{namespace}|{db}|{name}|{tile.z}/{tile.x}/{tile.y}|{query}|{jurisdiction_key(jurisdiction)}"
    return "tile:" + hashlib.sha1(raw.encode()).hexdigest()


def etag_of(key: str, stamp: str) -> str:
    return '"' + hashlib.sha1(f"{key}|{stamp}".encode()).hexdigest()[:20] + '"'


def tile_stamp(layer: TileLayer, tile: Tile) -> str:
    """The tile's change stamp now (see the module docstring)."""
    sql, params = stamp_sql(layer, tile)
    with connection.cursor() as cur:
        cur.execute(f"SELECT {sql}", params)
        return cur.fetchone()[0]


def cache_entry(key: str) -> tuple[str, bytes] | None:
    """The cached (stamp, tile) under ``key``, whatever its stamp; None if absent."""
    try:
        return cache.get(key)
    except Exception:  # Redis down: build instead
        logger.warning("tile cache unavailable", exc_info=True)
        return None


def cache_put(key: str, rendered: RenderedTile, ttl: int) -> None:
    try:
        cache.set(key, (rendered.stamp, rendered.data), ttl)
    except Exception:
        logger.warning("tile cache unavailable", exc_info=True)
