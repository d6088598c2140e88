"""Heatmap, cluster and statistics answers for any point layer, one call each.

They take the range-filter parameters of :mod:`gis_core.api.ranges` and these:

Heatmap (``heatmap_response``)
    ``zoom`` (0–24) with ``bin_px`` (4–256, default 32): bins that many screen
    pixels wide at that web-map zoom; or ``size``: bins that many metres wide on
    the ground (10–100,000). ``shape=square`` (default) or ``hex``.
    ``weight=<name>``: also sum a numeric field (the names a layer offers).
    ``polygons=true``: each bin carries its outline as a GeoJSON geometry.
    Answer: ``{"shape", "size_m", "cell_px", "zoom", "count", "weight", "crs",
    "range", "bins": [{"lon", "lat", "count", "weight"?, "geometry"?}]}``; the
    bin counts add up to ``count``, the filtered count.
Clusters (``clusters_response``)
    ``zoom`` with ``bin_px`` (default 64), or ``size``; ``shape`` as above.
    Answer: ``{"count", "size_m", "clusters": [{"lon", "lat", "count", "bbox", "id"?}]}``
    (the centroid of the members; ``id`` of a lone point; ``bbox`` the members' extent, or
    when summed from pre-aggregated cells their cells' extent, see
    :func:`gis_core.selectors.density.clusters`).
Statistics (``stats_response``)
    ``by``: ``province`` / ``city`` / ``district`` / ``subdistrict`` (街道乡镇) /
    ``community`` (the region codes stored on the rows), ``grid``, ``day`` /
    ``week`` / ``month`` (trend over the layer's time field, Beijing time), or a
    field the layer offers (``category``, ``state`` …). ``top=N``: the N largest
    (not for trends). ``export=csv`` (UTF-8 with BOM) or ``xlsx``: a file.
    Answer: ``{"by", "total", "range", "results": [...]}``; without ``top`` the
    counts add up to ``total``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from django.conf import settings
from django.db.models import F, FloatField, Func, QuerySet
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response
from shapely.geometry import mapping

from .. import crs as crs_mod
from ..errors import InvalidInput
from ..selectors import stats
from ..selectors.density import MPP_ZOOM0, BinGrid, clusters, heatmap
from ..selectors.ranges import RangeFilter
from .exports import EXPORT_PARAMETER, export_format, export_response
from .params import parse_crs, parse_float
from .ranges import RANGE_PARAMETERS, parse_bool, range_filter_from_params, request_params

__all__ = [
    "CLUSTER_PARAMETERS",
    "HEATMAP_PARAMETERS",
    "STATS_PARAMETERS",
    "clusters_response",
    "heatmap_response",
    "parse_top",
    "stats_response",
]

REGION_LEVELS = {"province": 1, "city": 2, "district": 3, "subdistrict": 4, "community": 5}
_BIN_PARAMETERS = [
    OpenApiParameter("zoom", float, description="地图缩放级别 0–24（与 bin_px 一起）"),
    OpenApiParameter("bin_px", float, description="分箱屏幕像素，4–256"),
    OpenApiParameter("size", float, description="或：分箱地面边长（米），10–100000"),
    OpenApiParameter("shape", str, enum=["square", "hex"], description="方格（默认）或六边形"),
]
HEATMAP_PARAMETERS = [
    *RANGE_PARAMETERS,
    *_BIN_PARAMETERS,
    OpenApiParameter("weight", str, description="加权字段"),
    OpenApiParameter("polygons", bool, description="返回分箱轮廓"),
]
CLUSTER_PARAMETERS = [*RANGE_PARAMETERS, *_BIN_PARAMETERS]
STATS_PARAMETERS = [
    *RANGE_PARAMETERS,
    OpenApiParameter("by", str, required=True, description="district / grid / month …"),
    OpenApiParameter("top", int, description="只取前 N 项"),
    EXPORT_PARAMETER,
]


def _parse(request, qs: QuerySet, point_field: str, time_field: str | None):
    params = request_params(request)
    crs = parse_crs(params.get("crs"))
    rf = range_filter_from_params(params, crs=crs)
    return params, crs, rf, rf.apply(qs, point_field=point_field, time_field=time_field)


def _in_range(params: Mapping, name: str, lo: float, hi: float, default: float | None = None) -> float | None:
    value = params.get(name)
    if value in (None, ""):
        return default
    number = parse_float(value, name)
    if not lo <= number <= hi:
        raise InvalidInput(f"参数 {name} 应在 {lo:g}–{hi:g} 之间，实际为 {number:g}", details={name: value})
    return number


def _reference_lat(rf: RangeFilter, qs: QuerySet, point_field: str) -> float:
    """Where ground metres turn into map metres: the filter's centre, else any filtered point."""
    if (lat := rf.reference_lat) is not None:
        return lat
    y = Func(F(point_field), function="ST_Y", output_field=FloatField())
    return next(iter(qs.order_by().annotate(rq_y=y).values_list("rq_y", flat=True)[:1]), 0.0)


def _bin_grid(params: Mapping, rf: RangeFilter, qs: QuerySet, point_field: str, *, default_px: float):
    shape = str(params.get("shape") or "square")
    zoom = _in_range(params, "zoom", 0, 24)
    size = _in_range(params, "size", 10, 100_000)
    if (zoom is None) == (size is None):
        raise InvalidInput("请给出 zoom（地图缩放级别）或 size（分箱边长，米）二者之一")
    if zoom is not None:
        grid = BinGrid.for_zoom(shape, zoom, _in_range(params, "bin_px", 4, 256, default_px))
    else:
        grid = BinGrid.for_ground(shape, size, _reference_lat(rf, qs, point_field))
    return grid, zoom


def _shape_apart(rf: RangeFilter, qs: QuerySet, filtered: QuerySet, point_field: str, time_field: str | None):
    """``filtered`` without the range's one shape (a map view's bbox, a circle, a polygon), and
    that shape as an :class:`~gis_core.cellcover.Area` — or ``filtered`` as it is and None. Given
    the shape itself, a heatmap or clusters can sum the pre-aggregated cells inside it and read
    only the points along its edge."""
    if (split := rf.split()) is None:
        return filtered, None
    rest, area = split
    return rest.apply(qs, point_field=point_field, time_field=time_field), area


def _grid_json(grid: BinGrid, zoom: float | None, lat: float) -> dict:
    return {
        "shape": grid.shape,
        "size_m": round(grid.ground_size_m(lat), 2),
        "cell_px": round(grid.size / (MPP_ZOOM0 / 2**zoom), 2) if zoom is not None else None,
        "zoom": zoom,
    }


def _to_crs(lons, lats, crs: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = crs_mod.from_wgs84(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float), crs)
    return np.round(np.atleast_1d(x), 7), np.round(np.atleast_1d(y), 7)


def heatmap_response(
    request,
    qs: QuerySet,
    *,
    point_field: str = "geom",
    time_field: str | None = None,
    weight_fields: Mapping[str, str] | None = None,
) -> Response:
    """Heatmap bins of the scoped ``qs`` under the request's range filter (see the module docstring).

    ``weight_fields`` maps the ``weight`` names a caller may use to numeric model fields.
    """
    params, crs, rf, filtered = _parse(request, qs, point_field, time_field)
    weight_fields = weight_fields or {}
    weight = params.get("weight") or None
    if weight is not None and weight not in weight_fields:
        offered = "、".join(weight_fields) or "（该图层无可加权字段）"
        raise InvalidInput(f"weight 应为 {offered}，实际为“{weight}”", details={"weight": weight})
    grid, zoom = _bin_grid(params, rf, filtered, point_field, default_px=32)
    polygons = parse_bool(params.get("polygons"), "polygons")
    filtered, area = _shape_apart(rf, qs, filtered, point_field, time_field)
    result = heatmap(
        filtered, grid, point_field=point_field, weight_field=weight_fields.get(weight) if weight else None,
        polygons=polygons, max_bins=settings.CIVGRID["RANGE_MAX_BINS"], area=area,
    )  # fmt: skip
    xs, ys = _to_crs([b.lon for b in result.bins], [b.lat for b in result.bins], crs)
    bins = []
    for b, x, y in zip(result.bins, xs, ys, strict=True):
        item = {"lon": float(x), "lat": float(y), "count": b.count}
        if weight:
            item["weight"] = b.weight
        if polygons:
            item["geometry"] = mapping(crs_mod.transform_geometry(b.polygon, crs, inverse=True))
        bins.append(item)
    lat = rf.reference_lat if rf.reference_lat is not None else (result.bins[0].lat if result.bins else 0.0)
    return Response(
        {
            **_grid_json(grid, zoom, lat),
            "count": result.count,
            "weight": result.weight,
            "crs": crs,
            "range": rf.describe(),
            "bins": bins,
        }
    )


def clusters_response(
    request, qs: QuerySet, *, point_field: str = "geom", time_field: str | None = None
) -> Response:
    """Server-side clusters of the scoped ``qs`` under the request's range filter."""
    params, crs, rf, filtered = _parse(request, qs, point_field, time_field)
    # 64 px: at whole zooms a power of two of the cells, so the clusters can sum them
    grid, zoom = _bin_grid(params, rf, filtered, point_field, default_px=64)
    filtered, area = _shape_apart(rf, qs, filtered, point_field, time_field)
    found = clusters(
        filtered, grid, point_field=point_field, max_clusters=settings.CIVGRID["RANGE_MAX_BINS"], area=area
    )
    xs, ys = _to_crs([c.lon for c in found], [c.lat for c in found], crs)
    x0, y0 = _to_crs([c.bbox[0] for c in found], [c.bbox[1] for c in found], crs)
    x1, y1 = _to_crs([c.bbox[2] for c in found], [c.bbox[3] for c in found], crs)
    items = []
    for k, c in enumerate(found):
        item = {"lon": float(xs[k]), "lat": float(ys[k]), "count": c.count}
        item["bbox"] = [float(x0[k]), float(y0[k]), float(x1[k]), float(y1[k])]
        if c.id is not None:
            item["id"] = c.id
        items.append(item)
    lat = rf.reference_lat if rf.reference_lat is not None else (found[0].lat if found else 0.0)
    return Response(
        {
            **_grid_json(grid, zoom, lat),
            "count": sum(c.count for c in found),
            "crs": crs,
            "range": rf.describe(),
            "clusters": items,
        }
    )


def parse_top(params: Mapping) -> int | None:
    value = params.get("top")
    if value in (None, ""):
        return None
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise InvalidInput(f"top 应为 1–1000 的整数，实际为“{value}”", details={"top": value})
    return int(text)


def stats_response(
    request,
    qs: QuerySet,
    *,
    point_field: str = "geom",
    time_field: str | None = None,
    fields: Mapping[str, tuple[str, str]] | None = None,
    labels: Mapping[str, Mapping] | None = None,
    title: str = "统计",
) -> Response | HttpResponse:
    """Counts of the scoped ``qs`` under the request's range filter, grouped by ``by``.

    ``fields`` maps extra ``by`` names to ``(model field, column heading)``, e.g.
    ``{"category": ("category__name", "类别")}``; ``labels`` gives, per ``by`` name, the
    display name of each stored value (rows then carry ``name`` beside ``key``).
    """
    params, _crs, rf, filtered = _parse(request, qs, point_field, time_field)
    fields = fields or {}
    by = str(params.get("by") or "")
    top = parse_top(params)
    if by in REGION_LEVELS:
        rows = stats.count_by_region(filtered, REGION_LEVELS[by], limit=top)
        columns = [("code", "区划代码"), ("name", "名称"), ("count", "数量")]
    elif by == "grid":
        rows = stats.count_by_grid(filtered, limit=top)
        columns = [("code", "网格代码"), ("name", "名称"), ("count", "数量")]
    elif by in stats.TREND_UNITS and time_field:
        if top is not None:
            raise InvalidInput("趋势统计不支持 top", details={"top": top})
        rows = stats.trend(filtered, time_field, by, since=rf.since, until=rf.until)
        columns = [("period", "时段"), ("count", "数量")]
    elif by in fields:
        field, heading = fields[by]
        rows = stats.count_by(filtered, field, limit=top)
        columns = [("key", heading), ("count", "数量")]
        if names := (labels or {}).get(by):
            rows = [
                {"key": r["key"], "name": names.get(r["key"], r["key"]), "count": r["count"]} for r in rows
            ]
            columns = [("key", heading), ("name", "名称"), ("count", "数量")]
    else:
        offered = [*REGION_LEVELS, "grid", *(stats.TREND_UNITS if time_field else ()), *fields]
        raise InvalidInput(
            f"by 应为 {'、'.join(offered)} 之一，实际为“{by}”", details={"by": by, "allowed": offered}
        )
    if export := export_format(params):
        return export_response(rows, columns, export, title=f"{title}-{by}", filename=f"stats-{by}")
    total = filtered.count()
    return Response({"by": by, "total": total, "range": rf.describe(), "results": rows})
