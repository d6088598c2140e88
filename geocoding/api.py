"""Geocoding endpoints: forward (single and batch), reverse (single and batch), suggest.

Thin views: parameters are parsed and checked here, the work is in the selectors.
Every answer is scoped to the caller's jurisdiction (``request.jurisdiction``).
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from gis_core.api.params import parse_crs, parse_float, parse_lonlat, parse_points
from gis_core.errors import InvalidInput, TooLarge

from .selectors.geocode import check_text, geocode_batch
from .selectors.reverse import reverse_batch
from .selectors.suggest import suggest

__all__ = ["GeocodeBatchView", "GeocodeView", "ReverseView", "SuggestView"]

CRS_PARAM = OpenApiParameter("crs", str, description="坐标系：wgs84（默认）/ cgcs2000 / gcj02 / bd09")
CITY_PARAM = OpenApiParameter("city", str, description="地址所在城市或区县（名称或区划代码），用于消除歧义")
RESULT = inline_serializer(
    "GeocodeResult",
    {
        "query": serializers.CharField(),
        "status": serializers.ChoiceField(["ok", "ambiguous", "not_found", "invalid", "outside"]),
        "match_level": serializers.CharField(allow_null=True),
        "match_kind": serializers.CharField(allow_null=True),
        "confidence": serializers.FloatField(),
        "location": serializers.DictField(allow_null=True),
        "address": serializers.CharField(),
        "grid": serializers.DictField(allow_null=True),
        "regions": serializers.ListField(child=serializers.DictField()),
        "components": serializers.DictField(),
        "message": serializers.CharField(required=False),
        "candidates": serializers.ListField(child=serializers.DictField(), required=False),
    },
)
REVERSE_RESULT = inline_serializer(
    "ReverseResult",
    {
        "status": serializers.CharField(),
        "address": serializers.CharField(),
        "distance_m": serializers.FloatField(required=False),
        "nearest": serializers.DictField(required=False),
        "road": serializers.DictField(required=False),
        "grid": serializers.DictField(allow_null=True),
        "regions": serializers.ListField(child=serializers.DictField()),
    },
)


def _radius(value) -> float:
    if value in (None, ""):
        return settings.CIVGRID["REVERSE_RADIUS_M"]
    radius = parse_float(value, "radius")
    top = settings.CIVGRID["REVERSE_MAX_RADIUS_M"]
    if not 0 < radius <= top:
        raise InvalidInput(f"radius 应在 (0, {top:g}] 米之间，实际为 {radius:g}", details={"radius": value})
    return radius


def _batch_response(results: list[dict], ids: list) -> Response:
    """Results in input order, each with its index and the caller's id when one was given."""
    for i, (pid, result) in enumerate(zip(ids, results, strict=True)):
        result["index"] = i
        if pid is not None:
            result["id"] = pid
    return Response({"count": len(results), "results": results})


def _body(request) -> dict:
    if not isinstance(request.data, dict):
        raise InvalidInput("请求体应为 JSON 对象")
    return request.data


class GeocodeView(APIView):
    """正向地址编码：地址文本 → 坐标、单元网格、区划链、标准地址。"""

    required_scopes = {"GET": "geocode:read"}

    @extend_schema(
        parameters=[OpenApiParameter("q", str, required=True, description="地址"), CITY_PARAM, CRS_PARAM],
        responses=RESULT,
    )
    def get(self, request):
        q = request.query_params.get("q")
        if q is None:
            raise InvalidInput("缺少参数 q（地址）", details={"q": "required"})
        problem = check_text(q)
        if problem:
            raise InvalidInput(problem, details={"q": q[:50]})
        crs = parse_crs(request.query_params.get("crs"))
        city = request.query_params.get("city")
        result = geocode_batch([q], city=city, crs=crs, jurisdiction=request.jurisdiction)[0]
        if result["status"] == "invalid":
            raise InvalidInput(result["message"], details={"q": q[:50]})
        return Response(result)


class GeocodeBatchView(APIView):
    """批量正向地址编码（每次最多 10,000 条，结果与输入顺序一致；坏条目逐条报告）。"""

    required_scopes = {"POST": "geocode:read"}

    @extend_schema(
        request=inline_serializer(
            "GeocodeBatch",
            {
                "addresses": serializers.ListField(help_text="[地址, …] 或 [{id, address}, …]"),
                "city": serializers.CharField(required=False),
                "crs": serializers.CharField(required=False),
            },
        ),
        responses=inline_serializer(
            "GeocodeBatchResult", {"count": serializers.IntegerField(), "results": serializers.ListField()}
        ),
    )
    def post(self, request):
        data = _body(request)
        items = data.get("addresses")
        if not isinstance(items, list):
            raise InvalidInput('缺少 addresses：应为地址数组 ["…", …] 或 [{"id": …, "address": "…"}, …]')
        limit = settings.CIVGRID["GEOCODE_BATCH_MAX"]
        if len(items) > limit:
            raise TooLarge(f"一次最多 {limit} 条地址，实际 {len(items)} 条；请分批或使用批量任务上传文件")
        if not items:
            raise InvalidInput("addresses 为空")
        crs = parse_crs(data.get("crs"))
        ids, texts = [], []
        for item in items:
            if isinstance(item, dict):
                ids.append(item.get("id"))
                texts.append(item.get("address"))
            else:
                ids.append(None)
                texts.append(item)
        results = geocode_batch(texts, city=data.get("city"), crs=crs, jurisdiction=request.jurisdiction)
        return _batch_response(results, ids)


class ReverseView(APIView):
    """逆地址编码：坐标 → 最近门牌或兴趣点、道路、单元网格、区划链、标准地址与距离。"""

    required_scopes = {"GET": "geocode:read", "POST": "geocode:read"}

    @extend_schema(
        parameters=[
            OpenApiParameter("lon", float, required=True),
            OpenApiParameter("lat", float, required=True),
            CRS_PARAM,
            OpenApiParameter("radius", float, description="搜索半径（米），默认 200，最大 5000"),
        ],
        responses=REVERSE_RESULT,
    )
    def get(self, request):
        crs = parse_crs(request.query_params.get("crs"))
        lon, lat = parse_lonlat(request.query_params.get("lon"), request.query_params.get("lat"), crs)
        radius = _radius(request.query_params.get("radius"))
        body = reverse_batch([lon], [lat], radius_m=radius, crs=crs, jurisdiction=request.jurisdiction)[0]
        return Response(body)

    @extend_schema(
        request=inline_serializer(
            "ReverseBatch",
            {
                "points": serializers.ListField(help_text="[[lon, lat], …] 或 [{id, lon, lat}, …]"),
                "crs": serializers.CharField(required=False),
                "radius": serializers.FloatField(required=False),
            },
        ),
        responses=inline_serializer(
            "ReverseBatchResult", {"count": serializers.IntegerField(), "results": serializers.ListField()}
        ),
    )
    def post(self, request):
        data = _body(request)
        crs = parse_crs(data.get("crs"))
        radius = _radius(data.get("radius"))
        lons, lats, ids = parse_points(
            data.get("points"), crs, max_points=settings.CIVGRID["GEOCODE_BATCH_MAX"]
        )
        results = reverse_batch(lons, lats, radius_m=radius, crs=crs, jurisdiction=request.jurisdiction)
        return _batch_response(results, ids)


class SuggestView(APIView):
    """地址联想：输入到一半的地址 → 管辖范围内的补全建议（按相关度排序）。"""

    required_scopes = {"GET": "geocode:read"}

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, required=True, description="已输入的部分地址"),
            OpenApiParameter("limit", int, description="条数，1–50，默认 10"),
        ],
        responses=inline_serializer("Suggestions", {"results": serializers.ListField()}),
    )
    def get(self, request):
        q = request.query_params.get("q")
        if q is None:
            raise InvalidInput("缺少参数 q", details={"q": "required"})
        if q.strip():
            problem = check_text(q)
            if problem:
                raise InvalidInput(problem, details={"q": q[:50]})
        raw_limit = request.query_params.get("limit") or "10"
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 50:
            raise InvalidInput(f"limit 应为 1–50 的整数，实际为“{raw_limit}”", details={"limit": raw_limit})
        results = suggest(q, limit=int(raw_limit), jurisdiction=request.jurisdiction)
        return Response({"query": q, "results": results})
