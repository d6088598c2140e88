"""Seeding the base-map cache (预生成底图切片) for a region and a zoom range, as a job.

A seeding run is a job of the ``jobs`` app (kind ``tile_seed``): its table has
one row per strip of tiles (a zoom and a tile row, from one column to another)
covering the region's bounding box, and the worker draws each strip through
MapProxy (the web processes' configuration) into the configured cache
(``CIVGRID_BASEMAP_CACHE``: the file cache, Redis or S3). So it inherits what
the jobs app guarantees: progress (rows done / total, rows per second, ETA), chunks
committed atomically, and a killed worker resumed by the next one after the
last committed chunk (``jobs.recover`` at worker start and on beat). A tile
cached before the kill is simply found in the cache when its strip is redone.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from gis_core.api.params import parse_code
from gis_core.errors import InvalidInput
from jobs.registry import JobContext, JobKind, RowOutcome

from ..tilemath import count_tiles, tiles_covering

__all__ = ["SEED_KIND", "parse_zooms", "seed_rows", "seed_start", "seed_strip"]

COLUMNS = ["z", "y", "x0", "x1"]


def parse_zooms(text: str) -> range:
    """ "10-16" or "12" → a range of zoom levels (0–20)."""
    try:
        lo, _, hi = str(text).partition("-")
        zooms = range(int(lo), int(hi or lo) + 1)
    except ValueError:
        raise InvalidInput(
            f"zooms 应为如 10-16 的级别范围，实际为“{text}”", details={"zooms": text}
        ) from None
    if not zooms or zooms.start < 0 or zooms.stop > 21:
        raise InvalidInput("zooms 应在 0–20 之间且起始不大于结束", details={"zooms": text})
    return zooms


def _bbox(region: str) -> tuple[float, float, float, float]:
    from gis_core.selectors.ranges import region_geometry

    area = region_geometry(region)
    if area is None:
        raise InvalidInput(f"区划 {region} 没有边界数据，无法确定预生成范围", code="no_boundary")
    return tuple(area.extent)


def clean_options(form: dict[str, Any]) -> dict[str, Any]:
    from .service import basemap_layers

    layer = str(form.get("layer") or "basemap")
    if layer not in basemap_layers():
        raise InvalidInput(
            f"未知底图图层“{layer}”，可选：{'、'.join(basemap_layers())}", code="unknown_layer"
        )
    region = parse_code(str(form.get("region") or ""))
    zooms = parse_zooms(str(form.get("zooms") or ""))
    return {"layer": layer, "region": region, "zooms": f"{zooms.start}-{zooms.stop - 1}"}


def seed_rows(bbox: tuple[float, float, float, float], zooms: range) -> list[list[int]]:
    """One (z, y, x0, x1) strip per tile row of each zoom."""
    strips: dict[tuple[int, int], list[int]] = {}
    for tile in tiles_covering(bbox, zooms):
        strip = strips.setdefault((tile.z, tile.y), [tile.x, tile.x])
        strip[1] = tile.x
    return [[z, y, x0, x1] for (z, y), (x0, x1) in strips.items()]


def _environ(path: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "/basemap", "PATH_INFO": path, "QUERY_STRING": "",
        "SERVER_NAME": "localhost", "SERVER_PORT": "80", "HTTP_HOST": "localhost",
        "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(), "wsgi.errors": io.StringIO(),
    }  # fmt: skip


def seed_strip(layer: str, z: int, y: int, x0: int, x1: int) -> tuple[int, int]:
    """Draw (or find cached) the tiles of one strip; (tiles done, tiles failed)."""
    from .service import wsgi_get

    done = failed = 0
    for x in range(x0, x1 + 1):
        status, _, _ = wsgi_get(_environ(f"/tiles/{layer}/webmercator/{z}/{x}/{y}.png"))
        if status == 200:
            done += 1
        else:
            failed += 1
    return done, failed


def seed_handler(rows: list[dict[str, str]], ctx: JobContext) -> list[RowOutcome]:
    layer = ctx.options["layer"]
    outcomes = []
    for row in rows:
        z, y, x0, x1 = (int(row[c]) for c in COLUMNS)
        done, failed = seed_strip(layer, z, y, x0, x1)
        error = f"{failed} 个切片失败（数据源不可用）" if failed else ""
        outcomes.append(RowOutcome(result={"tiles": done, "failed": failed}, error=error))
    return outcomes


SEED_KIND = JobKind(
    name="tile_seed",
    title="底图切片预生成",
    handler=seed_handler,
    clean_options=clean_options,
    result_columns=("tiles", "failed"),
    max_rows=lambda: settings.CIVGRID["BASEMAP_SEED_MAX_TILES"],
    chunk_rows=20,
)


def seed_start(*, caller, region: str, zooms: str, layer: str = "basemap"):
    """Queue a seeding job for ``region``'s bounding box at ``zooms`` (e.g. "10-16")."""
    from jobs.services import job_create

    options = clean_options({"layer": layer, "region": region, "zooms": zooms})
    bbox = _bbox(options["region"])
    zoom_range = parse_zooms(options["zooms"])
    total = count_tiles(bbox, zoom_range)
    top = settings.CIVGRID["BASEMAP_SEED_MAX_TILES"]
    if total > top:
        raise InvalidInput(f"切片数 {total} 超过上限 {top}：请缩小范围或级别", code="too_many_tiles")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(seed_rows(bbox, zoom_range))
    upload = SimpleUploadedFile("seed.csv", out.getvalue().encode(), content_type="text/csv")
    return job_create(kind="tile_seed", caller=caller, upload=upload, column="z", form=options)
