"""The range-query parameters every point-layer endpoint shares, parsed once.

One call gives a view the whole filter, another the whole answer::

    rf = RangeFilter.from_request(request)            # or range_filter_from_request(request)
    qs = rf.apply(request.scope_queryset(Event.objects.all()), time_field="reported_at")

    return range_response(request, request.scope_queryset(qs), EventSerializer, time_field="reported_at")

Parameters (query string on GET; a JSON object on POST, for polygons too large
for a URL — ``page`` and ``page_size`` stay in the query string). Every part
given must hold; bad values answer 400 with a message saying what was wrong.

``crs``
    ``wgs84`` (default) / ``cgcs2000`` / ``gcj02`` / ``bd09``: of every coordinate
    sent, and of the geometries answered.
``region``, ``region_match``
    A division code of any level (2, 4, 6, 9 or 12 digits). ``region_match=code``
    (default) matches the grid/region codes stored on the row — indexed, and the
    same rule as jurisdiction scoping; ``spatial`` tests the point against the
    region's current boundary.
``grid``
    A unit-grid code (15 digits).
``bbox``
    ``minlon,minlat,maxlon,maxlat`` (a JSON body may send ``[minlon, minlat, maxlon, maxlat]``).
``lon``, ``lat``, ``radius``
    A circle: centre and radius in metres on the ground, 0 < radius ≤
    ``CIVGRID["RANGE_MAX_RADIUS_M"]`` (50 km).
``polygon``
    A drawn area: GeoJSON (geometry, Feature, or a FeatureCollection of one
    feature; a JSON body may send the object itself) or WKT / EWKT (an
    ``SRID=4490;`` prefix overrides ``crs``). Polygon or MultiPolygon, valid (the
    reason of an invalid one, e.g. 自相交 ``Self-intersection[x y]``, is in the
    error), at most ``RANGE_MAX_VERTICES`` vertices and ``RANGE_MAX_AREA_KM2`` km².
``line``, ``buffer``
    A corridor: a LineString / MultiLineString as above and a distance in metres
    on the ground, 0 < buffer ≤ ``RANGE_MAX_BUFFER_M`` (5 km).
``from``, ``to``
    A time window on the layer's datetime field (reported time for events):
    ISO 8601 date or date-time; without an offset it is Beijing time. ``from``
    is inclusive, ``to`` exclusive — a date alone as ``to`` includes that whole day.
``count``
    ``true``: answer ``{"count": n, "range": …}`` only.
``export``
    ``csv`` / ``xlsx``: every filtered row as a spreadsheet (layers that offer it; at
    most ``CIVGRID["EXPORT_MAX_ROWS"]`` rows).

Heatmaps, clusters and statistics take the same parameters plus their own
(:mod:`gis_core.api.aggregates`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Any

import shapely
from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from .. import crs as crs_mod
from ..errors import InvalidInput
from ..selectors.ranges import Circle, LineBuffer, RangeFilter, check_shape
from .exports import ListExport, export_format, export_response
from .pagination import FeaturePagination
from .params import parse_bbox, parse_crs, parse_float

__all__ = [
    "COUNT_PARAMETER",
    "RANGE_PARAMETERS",
    "parse_bool",
    "parse_geometry",
    "parse_moment",
    "range_filter_from_params",
    "range_filter_from_request",
    "range_response",
    "request_params",
]

_EWKT_SRID = re.compile(r"^\s*SRID=(\d+)\s*;", re.IGNORECASE)
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")

RANGE_PARAMETERS = [
    OpenApiParameter("crs", str, enum=list(crs_mod.SUPPORTED_CRS), description="坐标系，默认 wgs84"),
    OpenApiParameter("region", str, description="区划代码（任意级别）"),
    OpenApiParameter("region_match", str, enum=["code", "spatial"], description="按存储代码（默认）或边界"),
    OpenApiParameter("grid", str, description="单元网格代码（15 位）"),
    OpenApiParameter("bbox", str, description="minlon,minlat,maxlon,maxlat"),
    OpenApiParameter("lon", float, description="圆心经度（与 lat、radius 一起）"),
    OpenApiParameter("lat", float, description="圆心纬度"),
    OpenApiParameter("radius", float, description="半径（米，地面距离）"),
    OpenApiParameter("polygon", str, description="多边形：GeoJSON 或 WKT（大多边形请用 POST）"),
    OpenApiParameter("line", str, description="线：GeoJSON 或 WKT（与 buffer 一起）"),
    OpenApiParameter("buffer", float, description="沿线缓冲距离（米）"),
    OpenApiParameter("from", str, description="起始时间（含），ISO 8601，默认北京时间"),
    OpenApiParameter("to", str, description="截止时间（不含；只给日期时含当天）"),
]
COUNT_PARAMETER = OpenApiParameter("count", bool, description="true：只返回计数")


def request_params(request) -> dict[str, Any]:
    """Query parameters, overlaid by the JSON body of a POST."""
    params: dict[str, Any] = {key: request.query_params.get(key) for key in request.query_params}
    if request.method == "POST":
        data = request.data
        if not isinstance(data, Mapping):
            raise InvalidInput("请求体应为 JSON 对象")
        params.update({key: data.get(key) for key in data})
    return params


def parse_bool(value, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = "" if value is None else str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidInput(f"参数 {name} 应为 true 或 false，实际为“{value}”", details={name: value})


def _geojson_geometry(obj, name: str) -> BaseGeometry:
    if not isinstance(obj, Mapping):
        raise InvalidInput(f"{name} 应为 GeoJSON 对象", details={name: "not an object"})
    kind = obj.get("type")
    if kind == "FeatureCollection":
        features = obj.get("features")
        if not isinstance(features, list) or len(features) != 1:
            raise InvalidInput(f"{name} 的 FeatureCollection 应恰含 1 个要素", details={name: kind})
        obj = features[0]
        kind = obj.get("type") if isinstance(obj, Mapping) else None
    if kind == "Feature":
        obj = obj.get("geometry")
        if not isinstance(obj, Mapping):
            raise InvalidInput(f"{name} 的 Feature 没有 geometry", details={name: kind})
    try:
        return shape(obj)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, shapely.errors.ShapelyError) as exc:
        raise InvalidInput(
            f"{name} 不是有效的 GeoJSON 几何（{type(exc).__name__}: {exc}）", details={name: "bad geojson"}
        ) from None


def parse_geometry(value, name: str, *, crs: str, kinds: tuple[str, ...]) -> BaseGeometry:
    """GeoJSON (text or object) or (E)WKT in ``crs`` → a checked shapely geometry in WGS84."""
    if isinstance(value, Mapping):
        geom = _geojson_geometry(value, name)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if text.startswith("{"):
            try:
                obj = json.loads(text)
            except ValueError as exc:
                raise InvalidInput(
                    f"{name} 不是有效的 GeoJSON（{exc}）", details={name: "bad json"}
                ) from None
            geom = _geojson_geometry(obj, name)
        else:
            if match := _EWKT_SRID.match(text):
                crs = parse_crs(match.group(1))
                text = text[match.end() :]
            try:
                geom = shapely.from_wkt(text)
            except shapely.errors.ShapelyError as exc:
                raise InvalidInput(
                    f"{name} 不是有效的 WKT 或 GeoJSON（{exc}）", details={name: "bad wkt"}
                ) from None
    else:
        raise InvalidInput(f"{name} 应为 GeoJSON 或 WKT", details={name: type(value).__name__})
    geom = shapely.force_2d(geom)
    check_shape(geom, name, kinds)  # in the caller's coordinates, so a reason's position is theirs
    return crs_mod.transform_geometry(geom, crs)


def parse_moment(value, name: str, *, end: bool = False) -> datetime | None:
    """ISO 8601 date or date-time → aware datetime (naive: Beijing time). A bare date as the
    ``end`` of a window means the start of the next day, so the whole day is in."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    try:
        if (day := parse_date(text)) is not None:  # before parse_datetime, which takes a date as 0:00
            moment = datetime.combine(day + timedelta(days=1 if end else 0), time())
        else:
            moment = parse_datetime(text)
    except ValueError:
        moment = None
    if moment is None:
        raise InvalidInput(
            f"参数 {name} 应为 ISO 8601 日期或时间（如 2024-05-01、2024-05-01T08:30+08:00），实际为“{text}”",
            details={name: text},
        )
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _given(params: Mapping, *names: str) -> list[str]:
    return [n for n in names if params.get(n) not in (None, "")]


def range_filter_from_params(params: Mapping, *, crs: str | None = None) -> RangeFilter:
    """A :class:`RangeFilter` from request parameters (see the module docstring)."""
    crs = parse_crs(crs if crs is not None else params.get("crs"))
    kwargs: dict[str, Any] = {}
    if region := params.get("region"):
        kwargs["region"] = str(region).strip()
    if match := params.get("region_match"):
        kwargs["region_match"] = str(match).strip()
    if grid := params.get("grid"):
        kwargs["grid"] = str(grid).strip()
    if bbox := params.get("bbox"):
        if isinstance(bbox, list | tuple):
            bbox = ",".join(str(v) for v in bbox)
        kwargs["bbox"] = parse_bbox(str(bbox), crs)
    circle = _given(params, "lon", "lat", "radius")
    if circle:
        if len(circle) < 3:
            missing = sorted({"lon", "lat", "radius"} - set(circle))
            raise InvalidInput(f"圆形范围需要 lon、lat、radius 三个参数，缺少 {', '.join(missing)}")
        lon, lat = parse_float(params["lon"], "lon"), parse_float(params["lat"], "lat")
        for label, value, top in (("经度", lon, 180), ("纬度", lat, 90)):
            if abs(value) > top:
                raise InvalidInput(
                    f"{label} {value} 超出范围 [-{top}, {top}]", details={"lon": lon, "lat": lat}
                )
        wlon, wlat = crs_mod.to_wgs84(lon, lat, crs)
        kwargs["circle"] = Circle(float(wlon), float(wlat), parse_float(params["radius"], "radius"))
    if _given(params, "polygon"):
        kwargs["polygon"] = parse_geometry(
            params["polygon"], "polygon", crs=crs, kinds=("Polygon", "MultiPolygon")
        )
    corridor = _given(params, "line", "buffer")
    if corridor:
        if len(corridor) < 2:
            raise InvalidInput("沿线缓冲需要 line 和 buffer（米）两个参数", details={"given": corridor})
        line = parse_geometry(params["line"], "line", crs=crs, kinds=("LineString", "MultiLineString"))
        kwargs["line"] = LineBuffer(line, parse_float(params["buffer"], "buffer"))
    kwargs["since"] = parse_moment(params.get("from"), "from")
    kwargs["until"] = parse_moment(params.get("to"), "to", end=True)
    return RangeFilter(**kwargs)


def range_filter_from_request(request) -> RangeFilter:
    return range_filter_from_params(request_params(request))


def range_response(
    request,
    qs: QuerySet,
    serializer_class,
    *,
    point_field: str = "geom",
    time_field: str | None = None,
    context: Mapping[str, Any] | None = None,
    export: ListExport | None = None,
) -> Response | HttpResponse:
    """The range-filtered ``qs`` as a GeoJSON page (``FeaturePagination``), its count, or
    (``export=csv|xlsx``, when the layer gives ``export``) a spreadsheet of every row.

    ``qs`` must already be scoped (``request.scope_queryset``); the serializer gets
    ``crs`` in its context (``CRSGeometryField`` answers in it), plus ``context``.
    """
    params = request_params(request)
    crs = parse_crs(params.get("crs"))
    rf = range_filter_from_params(params, crs=crs)
    count_only = parse_bool(params.get("count"), "count")
    fmt = None if count_only else export_format(params)
    if count_only or fmt is None:  # a page tells the count too: from the cells where they answer
        count = rf.count(qs, point_field=point_field, time_field=time_field)
        if count_only:
            return Response({"count": count, "range": rf.describe()})
    qs = rf.apply(qs, point_field=point_field, time_field=time_field)
    if not qs.ordered:
        qs = qs.order_by("pk")
    if fmt is not None:
        if export is None:
            raise InvalidInput("该图层不提供导出", details={"export": fmt})
        rows = export.rows(qs, crs)
        return export_response(rows, export.headings(crs), fmt, title=export.title, filename=export.filename)
    paginator = FeaturePagination()
    page = paginator.paginate_queryset(qs, request, count=count)
    serializer = serializer_class(
        page, many=True, context={"request": request, "crs": crs, **(context or {})}
    )
    return paginator.get_paginated_response(serializer.data)
