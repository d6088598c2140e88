"""Regions, point location, import and export endpoints (thin: parse, call, serialize)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from ..crs import SUPPORTED_CRS
from ..errors import InvalidInput, TooLarge
from ..imports.registry import get_layer
from ..imports.service import EXPORT_FORMATS, export_layer, import_file
from ..models import Region
from ..selectors.locate import Location, deepest_code, locate_point, locate_points
from .params import parse_code, parse_crs, parse_lonlat, parse_points
from .serializers import RegionDetailSerializer, RegionSerializer
from .spatial import SpatialViewMixin

__all__ = ["ExportView", "ImportView", "LocateView", "RegionViewSet"]

CRS_PARAM = OpenApiParameter(
    "crs", str, enum=["wgs84", "cgcs2000", "gcj02", "bd09"], description="坐标系，默认 wgs84"
)
SPATIAL_PARAMS = [
    CRS_PARAM,
    OpenApiParameter("bbox", str, description="minlon,minlat,maxlon,maxlat（crs 坐标）"),
    OpenApiParameter("simplify", float, description="显示用简化容差（米）"),
]


@extend_schema(parameters=SPATIAL_PARAMS)
class RegionViewSet(SpatialViewMixin, viewsets.ReadOnlyModelViewSet):
    """行政区划（省/市/区县/街道乡镇/社区村），GeoJSON。"""

    lookup_field = "code"
    lookup_value_regex = r"\d{2,12}"
    required_scopes = {"GET": "regions:read"}

    def get_serializer_class(self):
        return RegionDetailSerializer if self.action == "retrieve" else RegionSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("level", int, description="1 省 2 市 3 区县 4 街道乡镇 5 社区村"),
            OpenApiParameter("parent", str, description="上级区划代码"),
            OpenApiParameter("q", str, description="名称包含"),
            OpenApiParameter("has_geometry", bool),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        qs = self.request.scope_queryset(Region.objects.all())
        params = self.request.query_params
        if self.action == "list":
            if level := params.get("level"):
                if level not in {"1", "2", "3", "4", "5"}:
                    raise InvalidInput("level 应为 1–5", details={"level": level})
                qs = qs.filter(level=int(level))
            if parent := params.get("parent"):
                qs = qs.filter(parent__code=parse_code(parent))
            if q := params.get("q"):
                qs = qs.filter(name__contains=q.strip())
            if params.get("has_geometry") in ("1", "true"):
                qs = qs.with_geometry()
        return self.apply_spatial(qs)

    def get_object(self):
        self.kwargs["code"] = parse_code(self.kwargs["code"])
        return super().get_object()


def _location_json(loc: Location, covers) -> dict:
    """A location as JSON; one outside the caller's jurisdiction says only that."""
    deepest = deepest_code(loc.grid, loc.regions)
    if deepest is not None and not covers(deepest):
        return {"inside": False, "grid": None, "regions": [], "message": "该点不在您的管辖范围内"}
    body = {"inside": loc.inside, "grid": loc.grid, "regions": list(loc.regions)}
    if not loc.inside:
        body["message"] = "该点不在任何单元网格内" if loc.regions else "该点不在任何已知区划和单元网格内"
    return body


LOCATION_SCHEMA = inline_serializer(
    "Location",
    {
        "inside": serializers.BooleanField(),
        "grid": serializers.DictField(allow_null=True),
        "regions": serializers.ListField(child=serializers.DictField()),
        "message": serializers.CharField(required=False),
    },
)


class LocateView(APIView):
    """点位定位：坐标 → 区划链 + 单元网格（只回答调用者管辖范围内的点）。"""

    required_scopes = {"GET": "locate:read", "POST": "locate:read"}

    @extend_schema(
        parameters=[
            OpenApiParameter("lon", float, required=True),
            OpenApiParameter("lat", float, required=True),
            CRS_PARAM,
        ],
        responses=LOCATION_SCHEMA,
    )
    def get(self, request):
        crs = parse_crs(request.query_params.get("crs"))
        lon, lat = parse_lonlat(request.query_params.get("lon"), request.query_params.get("lat"), crs)
        body = _location_json(locate_point(lon, lat), request.jurisdiction.covers_code)
        body["point"] = {"lon": lon, "lat": lat, "crs": "wgs84"}
        return Response(body)

    @extend_schema(
        request=inline_serializer(
            "LocateBatch",
            {
                "crs": serializers.CharField(required=False),
                "points": serializers.ListField(help_text="[[lon, lat], …] 或 [{id, lon, lat}, …]"),
            },
        ),
        responses=inline_serializer(
            "LocateBatchResult",
            {"count": serializers.IntegerField(), "results": serializers.ListField(child=LOCATION_SCHEMA)},
        ),
    )
    def post(self, request):
        if not isinstance(request.data, dict):
            raise InvalidInput('请求体应为 JSON 对象：{"crs": …, "points": […]}')
        crs = parse_crs(request.data.get("crs"))
        lons, lats, ids = parse_points(
            request.data.get("points"), crs, max_points=settings.CIVGRID["LOCATE_MAX_POINTS"]
        )
        results = []
        for i, (pid, loc) in enumerate(zip(ids, locate_points(lons, lats), strict=True)):
            item = {"index": i, **_location_json(loc, request.jurisdiction.covers_code)}
            if pid is not None:
                item["id"] = pid
            results.append(item)
        return Response({"count": len(results), "results": results})


def _bool(value) -> bool:
    return str(value).lower() in ("1", "true", "yes", "on")


class ImportView(APIView):
    """上传文件导入图层（默认试运行；commit=true 时全部写入或全部不写）。"""

    required_scopes = {"POST": "import:write"}

    @extend_schema(
        request={
            "multipart/form-data": inline_serializer(
                "ImportUpload",
                {
                    "file": serializers.FileField(),
                    "commit": serializers.BooleanField(required=False),
                    "crs": serializers.CharField(required=False),
                    "encoding": serializers.CharField(required=False),
                    "repair": serializers.BooleanField(required=False),
                    "columns": serializers.CharField(required=False, help_text='JSON：{"code": "QHDM"}'),
                },
            )
        },
        responses=OpenApiTypes.OBJECT,
    )
    def post(self, request, layer: str):
        get_layer(layer)
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidInput("缺少上传文件 file")
        if upload.size > settings.CIVGRID["IMPORT_MAX_BYTES"]:
            raise TooLarge(f"文件过大（上限 {settings.CIVGRID['IMPORT_MAX_BYTES'] // 1024 // 1024} MB）")
        columns = request.data.get("columns") or None
        if columns:
            try:
                columns = json.loads(columns)
                if not isinstance(columns, dict):
                    raise ValueError
            except ValueError:
                raise InvalidInput('columns 应为 JSON 对象，如 {"code": "QHDM"}') from None
        suffix = Path(upload.name).suffix.lower()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"upload{suffix}"
            with path.open("wb") as fh:
                for chunk in upload.chunks():
                    fh.write(chunk)
            report = import_file(
                layer=layer,
                path=path,
                commit=_bool(request.data.get("commit")),
                crs=request.data.get("crs") or None,
                encoding=request.data.get("encoding") or None,
                columns=columns,
                repair=_bool(request.data.get("repair")),
                filename=upload.name,
                allowed=request.jurisdiction.covers_code,
            )
        if report.errors:
            raise InvalidInput(
                f"{len(report.errors)} 处错误，未写入任何数据", code="invalid_rows", details=report.as_dict()
            )
        return Response(report.as_dict())


class FileFormatNegotiation(DefaultContentNegotiation):
    """``?format=`` here names the file to export, not a renderer.

    DRF reads ``format`` as URL_FORMAT_OVERRIDE and answers 404 when no renderer
    is called that; the export writes its own bytes, so negotiation is moot.
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ExportView(APIView):
    """导出图层为 GeoJSON / GeoPackage / CSV（只含调用者管辖范围内的要素）。"""

    required_scopes = {"GET": "export:read"}

    content_negotiation_class = FileFormatNegotiation

    @extend_schema(
        parameters=[
            OpenApiParameter("format", str, enum=list(EXPORT_FORMATS)),
            OpenApiParameter("region", str, description="只导出该区划内的要素"),
            OpenApiParameter(
                "crs",
                str,
                enum=list(SUPPORTED_CRS),
                description="文件的坐标系（默认 wgs84；gcj02、bd09 无 EPSG 代码：文件不声明，文件名注明）",
            ),
        ],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    def get(self, request, layer: str):
        spec = get_layer(layer)
        fmt = request.query_params.get("format", "geojson")
        result = export_layer(
            layer=layer,
            fmt=fmt,
            queryset=request.scope_queryset(spec.export_queryset()),
            region=request.query_params.get("region"),
            crs=request.query_params.get("crs"),
        )
        response = HttpResponse(result.content, content_type=result.content_type)
        response["Content-Disposition"] = f'attachment; filename="{result.filename}"'
        return response
