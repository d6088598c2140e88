"""MapProxy inside the project: its configuration, its WSGI app, and the /basemap/ view.

MapProxy runs in the web processes, mounted under ``/basemap/`` behind our
authentication (any signed-in caller with ``regions:read``). Its configuration
is generated from settings into ``CIVGRID["BASEMAP_DIR"]/mapproxy.yaml`` (read
it to see what is served) and its tiles are a file cache in the same directory,
which every web process and the seeding worker share (MapProxy locks tiles
being created with lock files, so two processes never draw one tile twice).

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
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.http import HttpResponse, JsonResponse

from gis_core.api.errors import error_body

__all__ = ["basemap_app", "basemap_call", "basemap_config", "basemap_layers", "wsgi_get"]

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


def basemap_config() -> dict[str, Any]:
    """MapProxy's configuration, from settings."""
    cfg = settings.CIVGRID
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
        "caches": caches,
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
