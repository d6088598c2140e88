"""Civilization endpoints under /api/v1/civilization/ (thin: parse, one service or selector, serialize).

Unit reads go through :func:`units_layer`: exact points for callers with ``personal:read``,
families coarsened to their community for everyone else — the same layer for list, heatmap,
clusters, statistics, export and "near me".
"""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import principal_of
from gis_core.api.aggregates import (
    CLUSTER_PARAMETERS,
    HEATMAP_PARAMETERS,
    STATS_PARAMETERS,
    clusters_response,
    heatmap_response,
    stats_response,
)
from gis_core.api.params import parse_crs, parse_float, parse_lonlat
from gis_core.api.ranges import (
    RANGE_PARAMETERS,
    parse_geometry,
    range_filter_from_params,
    range_response,
    request_params,
)
from gis_core.api.views import FileFormatNegotiation
from gis_core.errors import InvalidInput, NotFound, TooLarge
from gis_core.selectors.locate import locate_point

from ..io import units_export, units_import
from ..mapexport import draw_map_html
from ..models import AssessmentDraw, DrawSite, HonourLevel, UnitStatus, UnitType
from ..selectors.units import (
    UnitLayer,
    density_by_region,
    region_figures,
    units_filter,
    units_layer,
    units_nearest,
)
from ..services.draws import (
    AreaInput,
    DrawInput,
    StratumInput,
    draw_confirm,
    draw_create,
    draw_get,
    draw_replace,
    draw_verify,
    draw_void,
)
from ..services.frames import ListedSite
from ..services.units import UnitInput, unit_create, unit_delete, unit_update
from .serializers import (
    DrawCreateRequest,
    DrawReplacementSerializer,
    DrawSerializer,
    DrawSiteSerializer,
    PublicUnitFeatureSerializer,
    ReplaceRequest,
    UnitFeatureSerializer,
    UnitRequest,
    VoidRequest,
)

FILTER_PARAMETERS = [
    OpenApiParameter("type", str, description="类型（可逗号分隔）：" + "、".join(UnitType.labels)),
    OpenApiParameter("level", str, description="荣誉级别：" + "、".join(HonourLevel.labels)),
    OpenApiParameter("status", str, description="状态：" + "、".join(UnitStatus.labels)),
    OpenApiParameter("year", int, description="授予年份"),
    OpenApiParameter("review_year", int, description="该年应复查的单位（不含已撤销）"),
    OpenApiParameter("q", str, description="名称包含"),
]
STATS_FIELDS = {
    "type": ("unit_type", "类型"),
    "level": ("level", "荣誉级别"),
    "status": ("status", "状态"),
    "year": ("year_awarded", "授予年份"),
    "review_year": ("review_year", "复查年份"),
}
STATS_LABELS = {
    "type": dict(UnitType.choices),
    "level": dict(HonourLevel.choices),
    "status": dict(UnitStatus.choices),
}
DENSITY_LEVELS = {"city": 2, "district": 3, "subdistrict": 4, "community": 5}


def _valid(serializer_class, data) -> dict:
    if hasattr(data, "dict") and hasattr(data, "getlist"):
        data = data.dict()
    elif not isinstance(data, dict):
        raise InvalidInput("请求体应为 JSON 对象")
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _file_response(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


#: the POST twins of the layer reads (heatmap, clusters, statistics)
POST_AS_GET = "同 GET，参数放在 JSON 请求体中（绘制的多边形过长时）。"


class _Units(APIView):
    required_scopes = {"GET": "civilization:read", "POST": "civilization:read"}

    def layer(self) -> UnitLayer:
        principal = principal_of(self.request)
        layer = units_layer(jurisdiction=self.request.jurisdiction, scopes=principal.scopes)
        params = request_params(self.request)
        return UnitLayer(units_filter(layer.queryset, params), layer.public)

    def serializer_class(self, layer: UnitLayer):
        return PublicUnitFeatureSerializer if layer.public else UnitFeatureSerializer


class UnitListView(_Units):
    """文明创建单位图层（GeoJSON 分页或计数，范围查询与筛选）；POST 新增单位（坐标或地址）。

    没有个人信息权限（personal:read）时，文明家庭的位置模糊到所在社区的代表点，且不含地址和联系方式。
    """

    required_scopes = {"GET": "civilization:read", "POST": "civilization:write"}

    @extend_schema(
        operation_id="api_v1_civilization_units_list",
        parameters=[*RANGE_PARAMETERS, *FILTER_PARAMETERS],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        layer = self.layer()
        return range_response(
            request, layer.queryset, self.serializer_class(layer), point_field=layer.point_field
        )

    @extend_schema(request=UnitRequest, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        data = _valid(UnitRequest, request.data)
        point = None
        if data.get("lon") is not None or data.get("lat") is not None:
            point = parse_lonlat(data.get("lon"), data.get("lat"), parse_crs(data.get("crs")))
        unit = unit_create(
            item=UnitInput(
                name=data["name"],
                unit_type=data["unit_type"],
                level=data["level"],
                year_awarded=data["year_awarded"],
                term=data.get("term"),
                review_year=data.get("review_year"),
                status=data.get("status") or UnitStatus.VALID,
                address=data.get("address", ""),
                contact=data.get("contact", ""),
                point=point,
            ),
            jurisdiction=request.jurisdiction,
            city=data.get("city"),
        )
        return UnitDetailView.answer(request, unit.pk, status.HTTP_201_CREATED)


class UnitDetailView(_Units):
    """一个文明创建单位：查看、修改（PATCH）、删除。"""

    required_scopes = {
        "GET": "civilization:read",
        "PATCH": "civilization:write",
        "DELETE": "civilization:write",
    }

    @staticmethod
    def answer(request, pk: int, code: int = status.HTTP_200_OK) -> Response:
        layer = units_layer(jurisdiction=request.jurisdiction, scopes=principal_of(request).scopes)
        unit = layer.queryset.filter(pk=pk).first()
        if unit is None:
            raise NotFound(f"文明创建单位 {pk} 不存在")
        crs = parse_crs(request.query_params.get("crs"))
        serializer = PublicUnitFeatureSerializer if layer.public else UnitFeatureSerializer
        return Response(serializer(unit, context={"crs": crs}).data, status=code)

    @extend_schema(parameters=[OpenApiParameter("crs", str)], responses=OpenApiTypes.OBJECT)
    def get(self, request, pk: int):
        return self.answer(request, pk)

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def patch(self, request, pk: int):
        data = dict(request.data) if isinstance(request.data, dict) else None
        if data is None:
            raise InvalidInput("请求体应为 JSON 对象")
        crs = parse_crs(data.pop("crs", None))
        city = data.pop("city", None)
        if "lon" in data or "lat" in data:
            data["point"] = parse_lonlat(data.pop("lon", None), data.pop("lat", None), crs)
        unit_update(unit_id=pk, changes=data, jurisdiction=request.jurisdiction, city=city)
        return self.answer(request, pk)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        unit_delete(unit_id=pk, jurisdiction=request.jurisdiction)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UnitHeatmapView(_Units):
    """文明创建单位热力图（数据库内分箱）。"""

    @extend_schema(parameters=[*HEATMAP_PARAMETERS, *FILTER_PARAMETERS], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        layer = self.layer()
        return heatmap_response(request, layer.queryset, point_field=layer.point_field)

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT}, description=POST_AS_GET)
    def post(self, request):
        return self.get(request)


class UnitClustersView(_Units):
    """文明创建单位点聚合（服务器端）。"""

    @extend_schema(parameters=[*CLUSTER_PARAMETERS, *FILTER_PARAMETERS], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        layer = self.layer()
        return clusters_response(request, layer.queryset, point_field=layer.point_field)

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT}, description=POST_AS_GET)
    def post(self, request):
        return self.get(request)


class UnitStatsView(_Units):
    """文明创建单位统计：按区县（排名）、街道、社区、网格、类型、级别、状态、年份计数，可导出。"""

    @extend_schema(parameters=[*STATS_PARAMETERS, *FILTER_PARAMETERS], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        layer = self.layer()
        return stats_response(
            request,
            layer.queryset,
            point_field=layer.point_field,
            fields=STATS_FIELDS,
            labels=STATS_LABELS,
            title="文明创建单位",
        )

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT}, description=POST_AS_GET)
    def post(self, request):
        return self.get(request)


class UnitExportView(_Units):
    """导出文明创建单位为 CSV 或 Excel（范围查询与筛选同列表）。"""

    required_scopes = {"GET": "civilization:read"}
    content_negotiation_class = FileFormatNegotiation

    @extend_schema(
        parameters=[
            *RANGE_PARAMETERS,
            *FILTER_PARAMETERS,
            OpenApiParameter("format", str, enum=["csv", "xlsx"]),
        ],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    def get(self, request):
        from django.conf import settings

        layer = self.layer()
        params = request_params(request)
        crs = parse_crs(params.get("crs"))
        qs = range_filter_from_params(params, crs=crs).apply(layer.queryset, point_field=layer.point_field)
        limit = settings.CIVGRID["EXPORT_MAX_ROWS"]
        units = list(qs.order_by("district_code", "unit_type", "name", "pk")[: limit + 1])
        if len(units) > limit:
            raise TooLarge(f"导出行数超过上限 {limit}，请缩小范围", details={"max": limit})
        fmt = str(params.get("format") or "csv")
        content, content_type = units_export(units, fmt=fmt, public=layer.public, crs=crs)
        return _file_response(content, content_type, f"civilization-units.{fmt}")


class UnitImportView(APIView):
    """导入文明创建单位：带坐标的文件（GeoJSON/Shapefile/GeoPackage/CSV），或只有地址的 CSV/Excel
    （经地址编码定位，逐行报告无法定位的行）。默认试运行；commit=true 时全部写入或全部不写。"""

    required_scopes = {"POST": "civilization:write"}

    @extend_schema(
        request={
            "multipart/form-data": inline_serializer(
                "CivilizationImport",
                {
                    "file": serializers.FileField(),
                    "commit": serializers.BooleanField(required=False),
                    "crs": serializers.CharField(required=False),
                    "encoding": serializers.CharField(required=False),
                    "city": serializers.CharField(required=False),
                },
            )
        },
        responses=OpenApiTypes.OBJECT,
    )
    def post(self, request):
        from django.conf import settings

        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidInput("缺少上传文件 file")
        if upload.size > settings.CIVGRID["IMPORT_MAX_BYTES"]:
            raise TooLarge("文件过大")
        commit = str(request.data.get("commit", "")).lower() in ("1", "true", "yes", "on")
        report = units_import(
            upload=upload,
            jurisdiction=request.jurisdiction,
            commit=commit,
            crs=request.data.get("crs") or None,
            encoding=request.data.get("encoding") or None,
            city=request.data.get("city") or None,
        )
        return Response(report.as_dict())


class DensityView(_Units):
    """各区划的文明创建单位密度：每万人单位数（常住人口）与每平方公里单位数。"""

    @extend_schema(
        parameters=[
            OpenApiParameter("by", str, enum=list(DENSITY_LEVELS), description="区划级别，默认 district"),
            OpenApiParameter("region", str, description="只列该区划之下"),
            OpenApiParameter("population_year", int, description="人口年份（取不晚于该年的最新数据）"),
            *FILTER_PARAMETERS,
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        params = request.query_params
        level = params.get("by") or "district"
        if level not in DENSITY_LEVELS:
            raise InvalidInput(f"by 应为 {'、'.join(DENSITY_LEVELS)}", details={"by": level})
        within = None
        if region := params.get("region"):
            within = range_filter_from_params({"region": region}).region
        year = params.get("population_year")
        if year not in (None, "") and not str(year).isdigit():
            raise InvalidInput("population_year 应为年份", details={"population_year": year})
        layer = self.layer()
        rows = density_by_region(
            layer.queryset,
            level=DENSITY_LEVELS[level],
            jurisdiction=request.jurisdiction,
            within=within,
            year=int(year) if year else None,
        )
        return Response({"by": level, "count": len(rows), "results": rows})


class NearView(_Units):
    """手机定位附近的文明创建单位：所在城市及其数据，最近的单位（地面距离）。"""

    @extend_schema(
        parameters=[
            OpenApiParameter("lon", float, required=True),
            OpenApiParameter("lat", float, required=True),
            OpenApiParameter("crs", str),
            OpenApiParameter("limit", int, description="最近的单位数，1–50，默认 10"),
            OpenApiParameter("radius", float, description="只找该半径（米）以内"),
            *FILTER_PARAMETERS,
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        params = request.query_params
        crs = parse_crs(params.get("crs"))
        lon, lat = parse_lonlat(params.get("lon"), params.get("lat"), crs)
        limit = params.get("limit") or "10"
        if not str(limit).isdigit() or not 1 <= int(limit) <= 50:
            raise InvalidInput("limit 应为 1–50 的整数", details={"limit": limit})
        radius = parse_float(params["radius"], "radius") if params.get("radius") else None
        layer = self.layer()
        location = locate_point(lon, lat)
        city = next((r for r in location.regions if r["level"] == 2), None)
        # the city is named even when the phone stands outside the caller's jurisdiction; its
        # figures count only what the caller may see
        figures = region_figures(layer, city["code"]) if city else None
        units = units_nearest(layer, lon, lat, limit=int(limit), radius_m=radius)
        serializer = self.serializer_class(layer)(units, many=True, context={"crs": crs})
        return Response({"city": figures, "units": serializer.data})


# ------------------------------------------------------------------ draws


class DrawListView(APIView):
    """测评点位抽取：列表；POST 新建一次抽取（草稿）。"""

    required_scopes = {"GET": "civilization:read", "POST": "civilization:draw"}

    @extend_schema(responses=DrawSerializer(many=True))
    def get(self, request):
        qs = request.scope_queryset(AssessmentDraw.objects.select_related("frame"))
        if state := request.query_params.get("state"):
            qs = qs.filter(state=state)
        qs = qs.order_by("-created_at", "-id")[:200]
        rows = DrawSerializer(qs, many=True).data
        return Response({"count": len(rows), "results": rows})

    @extend_schema(request=DrawCreateRequest, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        data = _valid(DrawCreateRequest, request.data)
        crs = parse_crs(data.get("crs"))
        areas = tuple(
            AreaInput(
                type=a["type"],
                n=a["n"],
                reserves=a.get("reserves"),
                region=a.get("region"),
                polygon=(
                    parse_geometry(a["polygon"], "polygon", crs=crs, kinds=("Polygon", "MultiPolygon"))
                    if a.get("polygon") is not None
                    else None
                ),
                roads=a.get("roads"),
            )
            for a in data.get("areas", [])
        )
        sites = []
        for site in data.get("sites", []):
            lon, lat = parse_lonlat(site["lon"], site["lat"], crs)
            sites.append(ListedSite(site["type"], site["name"], lon, lat, site.get("weight")))
        draw = draw_create(
            data=DrawInput(
                title=data["title"],
                method=data.get("method") or "grts",
                seed=data.get("seed"),
                min_distance_m=data.get("min_distance_m"),
                allow_partial=data.get("allow_partial", False),
                reserves=data.get("reserves", 0),
                counts=dict(data.get("counts") or {}),
                strata=tuple(
                    StratumInput(s["type"], s["district"], s["n"], s.get("reserves"))
                    for s in data.get("strata", [])
                ),
                poi_categories=tuple(data.get("poi_categories", [])),
                unit_types=tuple(data.get("unit_types", [])),
                sites=tuple(sites),
                areas=areas,
            ),
            jurisdiction=request.jurisdiction,
            actor=principal_of(request).label,
        )
        return DrawDetailView.answer(request, draw.pk, status.HTTP_201_CREATED)


class DrawDetailView(APIView):
    """一次抽取：参数、种子、抽样框摘要、空间均衡度（与简单随机抽样对比）、各层点位。"""

    required_scopes = {"GET": "civilization:read"}

    @staticmethod
    def answer(request, pk: int, code: int = status.HTTP_200_OK) -> Response:
        draw = draw_get(pk, request.jurisdiction)
        crs = parse_crs(request.query_params.get("crs"))
        body = DrawSerializer(draw).data
        sites = (
            DrawSite.objects.filter(draw=draw)
            .select_related("replacement_record", "replaces")
            .order_by("stratum", "role", "rank")
        )
        body["sites"] = DrawSiteSerializer(sites, many=True, context={"crs": crs}).data
        body["replacements"] = DrawReplacementSerializer(draw.replacements.all(), many=True).data
        return Response(body, status=code)

    @extend_schema(parameters=[OpenApiParameter("crs", str)], responses=OpenApiTypes.OBJECT)
    def get(self, request, pk: int):
        return self.answer(request, pk)


class DrawConfirmView(APIView):
    """抽取生效（草稿 → 已生效）；生效后不可更改。"""

    required_scopes = {"POST": "civilization:draw"}

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request, pk: int):
        draw_confirm(draw_id=pk, jurisdiction=request.jurisdiction)
        return DrawDetailView.answer(request, pk)


class DrawVoidView(APIView):
    """抽取作废（草稿 → 已作废），必须说明原因。"""

    required_scopes = {"POST": "civilization:draw"}

    @extend_schema(request=VoidRequest, responses=OpenApiTypes.OBJECT)
    def post(self, request, pk: int):
        data = _valid(VoidRequest, request.data)
        draw_void(draw_id=pk, reason=data["reason"], jurisdiction=request.jurisdiction)
        return DrawDetailView.answer(request, pk)


class DrawReplaceView(APIView):
    """替换无法进入的点位（草稿或已生效的抽取）：启用同层下一个备选点位，追加替换记录（原因、操作人、时间）；已作废的抽取不能替换。"""

    required_scopes = {"POST": "civilization:draw"}

    @extend_schema(request=ReplaceRequest, responses=OpenApiTypes.OBJECT)
    def post(self, request, pk: int):
        data = _valid(ReplaceRequest, request.data)
        draw_replace(
            draw_id=pk,
            site_id=data["site"],
            reason=data["reason"],
            jurisdiction=request.jurisdiction,
            actor=principal_of(request).label,
        )
        return DrawDetailView.answer(request, pk)


class DrawVerifyView(APIView):
    """复核：用存储的抽样框、种子与参数重新抽取，确认点位一致。"""

    required_scopes = {"GET": "civilization:read"}

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, pk: int):
        return Response(draw_verify(draw_id=pk, jurisdiction=request.jurisdiction))


class DrawExportView(APIView):
    """导出抽取名单（CSV / Excel）或离线地图页（html）。"""

    required_scopes = {"GET": "civilization:read"}
    content_negotiation_class = FileFormatNegotiation

    @extend_schema(
        parameters=[
            OpenApiParameter("format", str, enum=["csv", "xlsx", "html"]),
            OpenApiParameter("crs", str),
        ],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    def get(self, request, pk: int):
        from gis_core.selectors.stats import rows_to_csv, rows_to_xlsx

        draw = draw_get(pk, request.jurisdiction)
        fmt = request.query_params.get("format") or "csv"
        if fmt == "html":
            page = draw_map_html(draw)
            return _file_response(page.encode("utf-8"), "text/html; charset=utf-8", f"draw-{draw.pk}.html")
        if fmt not in ("csv", "xlsx"):
            raise InvalidInput("format 应为 csv、xlsx 或 html", details={"format": fmt})
        crs = parse_crs(request.query_params.get("crs"))
        sites = (
            DrawSite.objects.filter(draw=draw)
            .select_related("replacement_record", "replaces")
            .order_by("stratum", "role", "rank")
        )
        rows = DrawSiteSerializer(sites, many=True, context={"crs": crs}).data
        for row in rows:
            row["role"] = "正选" if row["role"] == "base" else "备选"
            row["rank"] += 1
            row["active"] = "是" if row["active"] else ""
        columns = [
            ("stratum", "层"),
            ("site_type", "类型"),
            ("district_code", "区县"),
            ("role", "角色"),
            ("rank", "顺序"),
            ("name", "名称"),
            ("lon", "经度"),
            ("lat", "纬度"),
            ("grid_code", "单元网格"),
            ("active", "在用"),
            ("inclusion_probability", "入样概率"),
            ("replaced_reason", "替换原因"),
            ("replaced_by_actor", "替换人"),
            ("replaces", "替换了点位"),
            ("key", "点位标识"),
            ("id", "点位编号"),
        ]
        if fmt == "csv":
            content, ctype = rows_to_csv(rows, columns), "text/csv; charset=utf-8"
        else:
            content = rows_to_xlsx(rows, columns, title=f"抽取{draw.pk}")
            ctype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return _file_response(content, ctype, f"draw-{draw.pk}.{fmt}")
