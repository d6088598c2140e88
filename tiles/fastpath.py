"""The lean path of vector tiles: a middleware that answers a tile — from the cache (or a 304),
or built — without URL resolution, DRF, the session middleware or the database session lookup.

A map pans through hundreds of tiles a minute, all of them of the few layers and filters the
caller has on: for those the full DRF view spent most of its time on machinery, not on the tile.
This path does only what the answer needs — who the caller is; one Redis round trip (the cached
entry and the key's rate-limit count); for an entry, the change stamp (one indexed query, which
also reads the clock a tile's next turn is checked against); for a miss, the one statement that
builds the tile, from the queryset the full path prepared for the same caller's jurisdiction
and filters moments ago (:func:`tiles.selectors.mvt.prepared_queryset`: scoped, its filters
checked), and the cache write. Anything else **falls through** to :class:`tiles.views.TileView`,
unchanged: the caller's first tile of a layer and filters, a revalidation without a servable
entry, an unknown layer or filter, a bad tile address, a caller without the scope or without a
jurisdiction, a volatile or live layer, an error of any kind. So every error answer (401, 403,
404, 400, 429, 503) still comes from the one DRF path, in its one shape.

**Who the caller is.** Only what the full path verified: each time :class:`TileView`
authenticates a caller it records the principal (scopes and jurisdiction) under a digest of
the credentials sent — the Authorization header and the session cookie — for ``PRINCIPAL_CACHE_SECONDS`` in
this process (:func:`remember`). The lean path serves only callers found there; a caller not
seen for that long goes through the full path again, which re-checks the key (revoked,
expired, its ``last_used_at``) or the session (and saves it, keeping the idle timeout
running). So a revoked key or a closed session is refused within that delay — the delay the
API-key lookup cache (``accounts.authentication.KEY_CACHE_SECONDS``) already has. A request
without credentials never matches.

**Same answer.** The cache key and the prepared queryset hold the jurisdiction (and the personal
variant of a layer: families' exact points only for ``personal:read``), the ETag the change stamp
and the tile's next turn, all computed by the same functions as the full path (:mod:`tiles.cache`,
:func:`tiles.cache.tile_build`); API keys are counted against their rate limit here too
(over it: the full path answers 429).
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import HttpRequest, HttpResponse

from accounts.permissions import Principal

from . import cache as tile_cache
from .registry import TileLayer, get_layer
from .selectors.mvt import prepared_queryset, rows_key
from .tilemath import MAX_ZOOM, Tile

__all__ = [
    "PRINCIPAL_CACHE_SECONDS",
    "CachedTileMiddleware",
    "cached_tile",
    "forget_all",
    "remember",
    "seen_by_lean_path",
]

logger = logging.getLogger(__name__)

#: how long a caller verified by the full path is trusted by the lean one (this process)
PRINCIPAL_CACHE_SECONDS = 5.0
_MAX_PRINCIPALS = 10_000

TILE_PATH = re.compile(
    r"^/tiles/(?P<layer>[A-Za-z0-9_-]+)/(?P<z>\d{1,2})/(?P<x>\d{1,9})/(?P<y>\d{1,9})\.mvt$"
)

_principals: dict[str, tuple[float, Principal, int | None]] = {}
_client = None
_lock = threading.Lock()


def _credential(request: HttpRequest) -> str | None:
    """A digest of everything that can authenticate the request — the Authorization header
    and the session cookie, both — so a request matches only one with the same credentials."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    session = request.COOKIES.get(settings.SESSION_COOKIE_NAME, "")
    if not (header or session):
        return None
    return hashlib.sha256(f"{header}\0{session}".encode("utf-8", "replace")).hexdigest()


def remember(request: HttpRequest, principal: Principal, rate_limit: int | None = None) -> None:
    """Called by the full path once it has authenticated ``request`` as ``principal``."""
    credential = _credential(request)
    if credential is None:
        return
    with _lock:
        if len(_principals) > _MAX_PRINCIPALS:
            _principals.clear()
        _principals[credential] = (time.monotonic(), principal, rate_limit)


def forget_all() -> None:
    with _lock:
        _principals.clear()


def _recalled(request: HttpRequest) -> tuple[Principal, int | None] | None:
    credential = _credential(request)
    entry = _principals.get(credential) if credential else None
    if entry is None or time.monotonic() - entry[0] >= PRINCIPAL_CACHE_SECONDS:
        return None
    return entry[1], entry[2]


def _redis():
    """The tile cache's Redis client (Django's pool), built once per process: building one
    costs more than the round trip."""
    global _client
    if _client is None:
        _client = cache._cache.get_client(None, write=True)
    return _client


def _cached_and_counted(
    key: str, principal: Principal
) -> tuple[tile_cache.CacheEntry | None, str | None, int]:
    """The entry cached under ``key`` (whatever its stamp), the API key's rate-limit counter
    and its count this minute (None and 0 for a session: not limited), in one Redis round trip.

    The count is the full path's (``accounts.ratelimit.hit``: the same key, window and
    expiry); a request that falls through is uncounted again (:func:`_uncount`), as the full
    path will count it."""
    pipe = _redis().pipeline(transaction=False)
    pipe.get(cache.make_and_validate_key(key))
    counter = None
    if principal.key_prefix is not None:
        now = int(time.time())
        counter = f"civgrid:rl:key:{principal.key_prefix}:{now - now % 60}"
        pipe.incr(counter)
        pipe.expire(counter, 61)
    raw, *counted = pipe.execute()
    entry = None if raw is None else cache._cache._serializer.loads(raw)
    return entry, counter, int(counted[0]) if counted else 0


def _uncount(counter: str | None) -> None:
    if counter is not None:
        _redis().decr(counter)


def _servable(name: str, principal: Principal) -> TileLayer | None:
    try:
        layer = get_layer(name).for_scopes(principal.scopes)
    except Exception:  # unknown layer: the full path's 404
        return None
    if layer.live or layer.scope not in principal.scopes or principal.jurisdiction.is_empty:
        return None
    return layer


def cached_tile(request: HttpRequest) -> HttpResponse | None:
    """The cached tile (or 304) if the lean path can answer it exactly as the full path would;
    None to let the full path answer."""
    match = TILE_PATH.match(request.path_info)
    if match is None or request.method != "GET":
        return None
    try:
        request.get_host()  # ALLOWED_HOSTS, as CommonMiddleware checks it
    except DisallowedHost:
        return None
    recalled = _recalled(request)
    if recalled is None:
        return None
    principal, rate_limit = recalled
    layer = _servable(match["layer"], principal)
    z, x, y = int(match["z"]), int(match["x"]), int(match["y"])
    if layer is None or z > MAX_ZOOM or x >= 1 << z or y >= 1 << z:
        return None
    params = {k: request.GET.get(k) for k in request.GET}
    if set(params) - layer.accepted_params:
        return None  # the full path's 400
    if any(params.get(p) not in (None, "") for p in layer.volatile_params):
        return None
    tile = Tile(z, x, y)
    key = tile_cache.tile_key(layer, tile, params, principal.jurisdiction)
    # optimistic: the stamp query is the connection's health check (Django's CONN_HEALTH_CHECKS
    # would spend a round trip on SELECT 1 first); if it fails, the full path's first query
    # runs the real check and reconnects (see the middleware)
    connection.health_check_done = True
    entry, counter, count = _cached_and_counted(key, principal)
    if count > (rate_limit or settings.CIVGRID["API_KEY_RATE_PER_MINUTE"]):
        _uncount(counter)
        return None  # the full path counts it again and answers 429
    stamp = now = None
    if entry is not None:
        stamp, now = tile_cache.tile_stamp(layer, tile)
        held = tile_cache.servable(entry, stamp, now)
        if held is not None:
            return _cached_response(request, layer, key, stamp, held)
    sent = request.headers.get("If-None-Match")
    memo = rows_key(layer, params, principal.jurisdiction)
    qs = None if sent else prepared_queryset(memo)
    if qs is None:  # the full path answers (a revalidation, or the caller's first tile of these filters)
        _uncount(counter)
        request.tile_unservable = (key, stamp, now)  # for the full path: see seen_by_lean_path
        return None
    from .views import tile_response

    try:
        rendered, etag = tile_cache.tile_build(layer, tile, qs, key, volatile=False, memo=memo)
    except Exception:  # the full path tries again and answers (and counts) it
        _uncount(counter)
        raise
    response = tile_response(rendered.data, etag, layer, False)
    response["X-Tile-Cache"] = "miss"
    return response


def _cached_response(
    request: HttpRequest, layer: TileLayer, key: str, stamp: str, held: tuple[bytes, int | None]
) -> HttpResponse:
    from .views import etags_of, tile_response

    data, expires = held
    etag = tile_cache.etag_of(key, stamp, expires)
    status = 200
    if etag in etags_of(request.headers.get("If-None-Match", "")):
        data, status = b"", 304
    response = tile_response(data, etag, layer, False, status=status)
    if status == 200:
        response["X-Tile-Cache"] = "hit"
    return response


def seen_by_lean_path(request: HttpRequest, key: str) -> tuple[str | None, float | None] | None:
    """What this path saw of ``key`` for this request, having found nothing servable in the
    cache under it (so the full path need not read the cache again): the stamp and database
    time it read — both None when there was no entry, so no stamp was read. None: it did not
    get that far, or the full path computed another key."""
    found = getattr(request, "tile_unservable", None)
    return found[1:] if found is not None and found[0] == key else None


class CachedTileMiddleware:
    """Answers cached tiles before the rest of the stack (see the module docstring)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith("/tiles/") and settings.CIVGRID["TILE_LEAN_PATH"]:
            try:
                response = cached_tile(request)
            except Exception:  # Redis or the database misbehaving: the full path decides
                logger.warning("lean tile path failed; falling through", exc_info=True)
                connection.health_check_done = False
                response = None
            if response is not None:
                return response
        return self.get_response(request)
