"""MapProxy inside the project: its configuration, its WSGI app, and the /basemap/ view.

MapProxy runs in the web processes, mounted under ``/basemap/`` behind our
authentication (any signed-in caller with ``regions:read``). Its configuration
is generated from settings into ``CIVGRID["BASEMAP_DIR"]/mapproxy.yaml`` (read
it to see what is served). Where its tiles are stored is ``CIVGRID_BASEMAP_CACHE``
(:func:`basemap_cache_backend`), the same for every stored cache:

``file`` (default)
    a file cache in ``BASEMAP_DIR/cache_data``, which every web process and the
    seeding worker of one machine share (MapProxy locks tiles being created with
    lock files, so two processes never draw one tile twice); several machines
    share it only with ``BASEMAP_DIR`` on a shared file system.
``redis://[[user]:password@]host[:port][/db][?prefix=civgrid:basemap&ttl=0]``
    MapProxy's ``redis`` cache, keys ``{prefix}:{cache name}-{z}-{x}-{y}``, kept
    ``ttl`` seconds (0: for ever, so seeded tiles stay). TCP only (MapProxy's redis
    cache takes a host and a port, no unix socket).
``s3://bucket[/prefix]``
    MapProxy's ``s3`` cache, ``{prefix}/{cache name}/{z}/{x}/{y}.png`` (TMS layout) in
    ``bucket``; ``CIVGRID_BASEMAP_S3_ENDPOINT`` for MinIO-style object stores,
    credentials and region as boto3 reads them (``AWS_ACCESS_KEY_ID``, …). Needs
    ``boto3``, which is not in the requirements.

A bad value raises ImproperlyConfigured naming the setting when the processes
start (:func:`basemap_cache_check`, called by ``tiles.basemap.seed`` on import,
i.e. from ``TilesConfig.ready``), not at the first tile.

Layers (each as WMS, WMTS ``/basemap/wmts/{layer}/webmercator/{z}/{x}/{y}.png``,
TMS ``/basemap/tiles/1.0.0/{layer}/webmercator/{z}/{x}/{y}.png`` and XYZ
``/basemap/tiles/{layer}/webmercator/{z}/{x}/{y}.png``; y counted from the north):

``basemap``
    offline, always: drawn from our own tables (``civgrid_render`` source).
``tianditu_vec``, ``tianditu_img``
    when ``CIVGRID_TIANDITU_KEY`` is set: Tianditu (天地图) vector / imagery with
    their label overlay, from the ``_w`` (web-mercator) tile sets. Tianditu is on
    CGCS2000, which agrees with WGS84 to a few centimetres, so no shift is applied
    (the ``_c`` lon/lat sets would have to be resampled into the mercator grid).
``{name}`` of each ``CIVGRID_BASEMAP_UPSTREAMS`` entry
    any XYZ source (``{x}``, ``{y}``, ``{z}`` in the URL); ``"crs": "gcj02"`` for
    Amap-style GCJ-02 tiles, shifted into line by the ``civgrid_gcj02`` source.

An upstream that is down or answers garbage: tiles already cached are served
as always; a tile that is not becomes a 503 JSON error saying the upstream is
unavailable (``X-Basemap-Status: upstream-unavailable``), never a 500, and
nothing bad is cached.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse, JsonResponse

from gis_core.api.errors import error_body

__all__ = [
    "basemap_app",
    "basemap_cache_backend",
    "basemap_cache_check",
    "basemap_call",
    "basemap_config",
    "basemap_layers",
    "wsgi_get",
]

logger = logging.getLogger(__name__)

GRID = "webmercator"
_TIANDITU = {
    "tianditu_vec": ("天地图矢量", "vec", "cva"),
    "tianditu_img": ("天地图影像", "img", "cia"),
}
_lock = threading.Lock()
_app: tuple[str, Any] | None = None


def _tianditu_url(base: str, layer: str, key: str) -> str:
    key = key.replace("%", "%%")
    return (
        f"{base.rstrip('/')}/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}"
        f"&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX=%(z)s&TILEROW=%(y)s&TILECOL=%(x)s&tk={key}"
    )


def _xyz_url(url: str) -> str:
    return url.replace("%", "%%").replace("{x}", "%(x)s").replace("{y}", "%(y)s").replace("{z}", "%(z)s")


_SETTING = "CIVGRID_BASEMAP_CACHE"
_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def _bad(value: str, why: str) -> ImproperlyConfigured:
    shown = re.sub(r"//([^/@]*)@", "//***@", value)  # no password in the message
    return ImproperlyConfigured(
        f"{_SETTING}={shown!r}: {why}. Expected 'file', 'redis://[[user]:password@]host[:port][/db]"
        "[?prefix=…&ttl=seconds]' or 's3://bucket[/prefix]' (see docs/DEPLOYMENT.md, Base map cache)"
    )


def basemap_cache_backend(value: str | None = None, s3_endpoint: str | None = None) -> dict[str, Any]:
    """``CIVGRID_BASEMAP_CACHE`` (default: the setting) parsed: ``{"type": "file"}``, or the
    ``cache:`` block of a stored MapProxy cache with ``{name}`` where the cache's name goes.
    Raises ImproperlyConfigured naming the setting for a value that is not one of the forms."""
    cfg = settings.CIVGRID
    if value is None:
        value = str(cfg.get("BASEMAP_CACHE") or "file")
    value = value.strip()
    if s3_endpoint is None:
        s3_endpoint = str(cfg.get("BASEMAP_S3_ENDPOINT") or "")
    if value in ("", "file"):
        return {"type": "file"}
    try:
        url = urlsplit(value)
        port = url.port
        query = parse_qs(url.query, keep_blank_values=True, strict_parsing=bool(url.query))
    except ValueError as exc:
        raise _bad(value, f"not a valid URL ({exc})") from None
    if url.fragment:
        raise _bad(value, "a '#' fragment is not allowed")
    if url.scheme == "redis":
        if not url.hostname:
            raise _bad(value, "the Redis host is missing")
        db = url.path.strip("/") or "0"
        if not db.isdigit():
            raise _bad(value, f"the Redis database must be a number, not {db!r}")
        unknown = set(query) - {"prefix", "ttl"}
        if unknown:
            raise _bad(value, f"unknown option(s) {', '.join(sorted(unknown))} (only prefix, ttl)")
        prefix = query.get("prefix", ["civgrid:basemap"])[-1].strip(":")
        ttl = query.get("ttl", ["0"])[-1]
        if not prefix:
            raise _bad(value, "the key prefix is empty")
        if not ttl.isdigit():
            raise _bad(value, f"ttl must be a number of seconds (0: keep for ever), not {ttl!r}")
        block: dict[str, Any] = {
            "type": "redis",
            "host": url.hostname,
            "port": port or 6379,
            "db": int(db),
            "prefix": f"{prefix}:{{name}}",
            "default_ttl": int(ttl),  # MapProxy's own default is 3600: seeded tiles would vanish
        }
        if url.username:
            block["username"] = unquote(url.username)
        if url.password:
            block["password"] = unquote(url.password)
        return block
    if url.scheme == "s3":
        bucket = url.netloc
        if not bucket:
            raise _bad(value, "the bucket is missing")
        if not _S3_BUCKET.match(bucket):
            raise _bad(value, f"{bucket!r} is not an S3 bucket name (3–63 of a-z 0-9 . -)")
        if url.query:
            raise _bad(value, "s3:// takes no options (endpoint: CIVGRID_BASEMAP_S3_ENDPOINT)")
        prefix = url.path.strip("/")
        block = {
            "type": "s3",
            "bucket_name": bucket,
            "directory": f"{prefix}/{{name}}" if prefix else "{name}",
            "directory_layout": "tms",
        }
        if s3_endpoint:
            endpoint = urlsplit(s3_endpoint)
            if endpoint.scheme not in ("http", "https") or not endpoint.netloc:
                raise ImproperlyConfigured(
                    f"CIVGRID_BASEMAP_S3_ENDPOINT={s3_endpoint!r}: expected an http(s):// URL"
                )
            block["endpoint_url"] = s3_endpoint
        return block
    if url.scheme in ("unix", "rediss", "redis+socket"):
        raise _bad(value, "MapProxy's redis cache connects over plain TCP only (redis://host:port/db)")
    raise _bad(value, f"unknown kind {url.scheme or value!r}")


def basemap_cache_check() -> dict[str, Any]:
    """The cache backend, checked with the package MapProxy needs for it (ImproperlyConfigured)."""
    backend = basemap_cache_backend()
    needs = {"redis": "redis", "s3": "boto3"}.get(backend["type"])
    if needs and importlib.util.find_spec(needs) is None:
        raise ImproperlyConfigured(
            f"{_SETTING} selects a {backend['type']} cache, which needs the Python package "
            f"{needs!r}: install it ('pip install {needs}') on every web and worker host"
        )
    return backend


def _stored(name: str, cache: dict[str, Any], backend: dict[str, Any]) -> dict[str, Any]:
    """A stored MapProxy cache entry in the configured backend."""
    if backend["type"] == "file":
        return cache
    block = {k: v.replace("{name}", name) if k in ("prefix", "directory") else v for k, v in backend.items()}
    return {**cache, "cache": block}


def basemap_config() -> dict[str, Any]:
    """MapProxy's configuration, from settings."""
    cfg = settings.CIVGRID
    backend = basemap_cache_backend()
    base = Path(cfg["BASEMAP_DIR"])
    tile_source = {"type": "tile", "grid": GRID, "http": {"client_timeout": 10}}
    layers = [
        {"name": "basemap", "title": "本地底图（离线，区划、道路、地标）", "sources": ["basemap_cache"]}
    ]
    caches: dict[str, Any] = {
        "basemap_cache": {"grids": [GRID], "sources": ["basemap_render"], "format": "image/png"},
    }
    sources: dict[str, Any] = {"basemap_render": {"type": "civgrid_render"}}

    def upstream(name: str, url: str) -> None:  # a tile source, and its checked form that caches use
        sources[f"{name}_http"] = {**tile_source, "url": url}
        sources[name] = {"type": "civgrid_checked", "source": f"{name}_http"}

    if key := cfg["TIANDITU_KEY"]:
        for name, (title, base_layer, labels) in _TIANDITU.items():
            for part in (base_layer, labels):
                upstream(f"{name}_{part}", _tianditu_url(cfg["TIANDITU_URL"], part, key))
            parts = [f"{name}_{base_layer}", f"{name}_{labels}"]  # the map, then its labels on top
            caches[f"{name}_cache"] = {"grids": [GRID], "sources": parts, "format": "image/png"}
            layers.append({"name": name, "title": title, "sources": [f"{name}_cache"]})
    for entry in cfg["BASEMAP_UPSTREAMS"]:
        name = str(entry["name"])
        upstream(f"{name}_tiles", _xyz_url(str(entry["url"])))
        if entry.get("crs", "wgs84") == "gcj02":
            # the upstream's own tiles, unstored, then the shift to WGS84, stored
            caches[f"{name}_gcj02"] = {"grids": [GRID], "sources": [f"{name}_tiles"], "disable_storage": True}
            sources[f"{name}_wgs84"] = {"type": "civgrid_gcj02", "cache": f"{name}_gcj02"}
            caches[f"{name}_cache"] = {"grids": [GRID], "sources": [f"{name}_wgs84"], "format": "image/png"}
        else:
            caches[f"{name}_cache"] = {"grids": [GRID], "sources": [f"{name}_tiles"], "format": "image/png"}
        layers.append({"name": name, "title": str(entry.get("title") or name), "sources": [f"{name}_cache"]})
    return {
        "globals": {
            "cache": {
                "base_dir": str(base / "cache_data"),
                "lock_dir": str(base / "cache_data" / "locks"),
                "tile_lock_dir": str(base / "cache_data" / "tile_locks"),
                # drawn in the request's thread: Django's database connection is per thread
                "concurrent_tile_creators": 1,
                "meta_size": [4, 4],
                "meta_buffer": 64,
            },
            "image": {"resampling_method": "bilinear"},
        },
        "services": {
            "demo": None,
            "tms": {"use_grid_names": True, "origin": "nw"},
            "wmts": {"restful": True, "kvp": True},
            "wms": {
                "srs": ["EPSG:3857", "EPSG:4326", "EPSG:4490", "EPSG:900913"],
                "md": {"title": "civgrid 底图", "abstract": "离线底图与在线底图（天地图、XYZ）"},
            },
        },
        "layers": layers,
        "caches": {
            name: cache if cache.get("disable_storage") else _stored(name, cache, backend)
            for name, cache in caches.items()
        },
        "sources": sources,
        "grids": {GRID: {"base": "GLOBAL_WEBMERCATOR"}},
    }


def basemap_layers() -> list[str]:
    return [layer["name"] for layer in basemap_config()["layers"]]


def basemap_app():
    """The MapProxy WSGI app for the current configuration (rebuilt when settings change it)."""
    global _app
    from mapproxy.wsgiapp import make_wsgi_app

    from .plugins import register_plugins

    text = yaml.safe_dump(basemap_config(), allow_unicode=True, sort_keys=False)
    digest = hashlib.sha1(text.encode()).hexdigest()
    if _app is not None and _app[0] == digest:
        return _app[1]
    with _lock:
        if _app is not None and _app[0] == digest:
            return _app[1]
        basemap_cache_check()
        register_plugins()
        base = Path(settings.CIVGRID["BASEMAP_DIR"])
        base.mkdir(parents=True, exist_ok=True)
        path = base / f"mapproxy-{digest[:12]}.yaml"
        # written aside under a name of this process's own and renamed: several web processes
        # start at once and write the same file (a shared temporary name made one of them fail)
        if not path.exists():
            _write_atomically(path, text)
        _write_atomically(base / "mapproxy.yaml", text)  # the current one, to read
        _app = (digest, make_wsgi_app(str(path)))
        return _app[1]


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def wsgi_get(environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """Call MapProxy with a WSGI environ; (status, headers, body)."""
    captured: dict[str, Any] = {}

    def start_response(status, headers, exc_info=None):
        captured["status"], captured["headers"] = int(status.split()[0]), headers
        return lambda data: None

    chunks = basemap_app()(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        if hasattr(chunks, "close"):
            chunks.close()
    return captured["status"], captured["headers"], body


_PASS_HEADERS = ("content-type", "cache-control", "last-modified", "etag", "expires")


def basemap_call(request, rest: str) -> HttpResponse:
    """Hand a /basemap/… request to MapProxy; an upstream failure becomes a 503 that says so."""
    environ = {k: v for k, v in request._request.META.items() if isinstance(k, str)}
    environ.update(SCRIPT_NAME="/basemap", PATH_INFO="/" + rest)
    status, headers, body = wsgi_get(environ)
    if status >= 500:
        logger.warning("basemap %s: MapProxy answered %s: %s", rest, status, body[:300])
        response = JsonResponse(
            error_body(
                "basemap_upstream_unavailable",
                "底图数据源暂不可用：该切片尚未缓存，请稍后重试（已缓存的切片照常提供）",
                {"path": rest},
            ),
            status=503,
        )
        response["Retry-After"] = "60"
        response["X-Basemap-Status"] = "upstream-unavailable"
        return response
    response = HttpResponse(body, status=status)
    for name, value in headers:
        if name.lower() in _PASS_HEADERS:
            response[name] = value
    response["X-Basemap-Status"] = "ok"
    return response
