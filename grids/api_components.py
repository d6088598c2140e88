"""City components (城市部件) over HTTP: thin views over ``grids.services.components`` and
``grids.selectors.components``.

Point-layer reads use the shared range filter, heatmap, clusters and statistics helpers of
gis_core (components by their representative point). Coordinates in and out in ``crs``.
"""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from gis_core.api.aggregates import (
    CLUSTER_PARAMETERS,
    HEATMAP_PARAMETERS,
    STATS_PARAMETERS,
    clusters_response,
    heatmap_response,
    stats_response,
)
from gis_core.api.exports import EXPORT_PARAMETER, ListExport
from gis_core.api.params import parse_crs
from gis_core.api.ranges import RANGE_PARAMETERS, parse_geometry, range_response, request_params
from gis_core.api.spatial import CRSGeometryField
from gis_core.errors import InvalidInput, NotFound

from .assets import CityComponent, ComponentClass, ComponentStatus
from .selectors.components import component_classes, component_filter, component_get, components_visible
from .services.components import ComponentInput, component_create, component_status_set, component_update

__all__ = [
    "ComponentClassListView",
    "ComponentClustersView",
    "ComponentDetailView",
    "ComponentHeatmapView",
    "ComponentListView",
    "ComponentPhotoView",
    "ComponentStatsView",
    "ComponentStatusView",
]

TIME_FIELD = "updated_at"  # components have no event time: the window is on the last change
GEOMETRY_KINDS = ("Point", "LineString", "MultiLineString", "Polygon", "MultiPolygon")


class ComponentPhotoSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    original_name = serializers.CharField()
    created_at = serializers.DateTimeField()
    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    def get_url(self, obj) -> str:
        return f"/api/v1/components/{obj.component.code}/photos/{obj.pk}"

    def get_thumbnail_url(self, obj) -> str | None:
        return f"{self.get_url(obj)}?thumbnail=1" if obj.thumbnail else None


class ComponentFeatureSerializer(GeoFeatureModelSerializer):
    geom = CRSGeometryField()
    class_code = serializers.CharField(source="component_class.code")
    class_name = serializers.CharField(source="component_class.name")
    major_code = serializers.CharField(source="component_class.major.code")
    major_name = serializers.CharField(source="component_class.major.name")
    status_name = serializers.CharField(source="get_status_display")

    class Meta:
        model = CityComponent
        geo_field = "geom"
        id_field = "code"
        fields = [
            "code", "class_code", "class_name", "major_code", "major_name", "name", "status", "status_name",
            "owner_department", "maintainer", "note", "grid_code", "region_code", "street_code",
            "district_code", "created_at", "updated_at",
        ]  # fmt: skip


class ComponentDetailSerializer(ComponentFeatureSerializer):
    point = CRSGeometryField()
    photos = ComponentPhotoSerializer(many=True, read_only=True)

    class Meta(ComponentFeatureSerializer.Meta):
        fields = [*ComponentFeatureSerializer.Meta.fields, "point", "photos"]


COMPONENT_EXPORT = ListExport(
    columns=[
        ("code", "部件编码"),
        ("component_class__major__name", "大类"),
        ("component_class__code", "小类代码"),
        ("component_class__name", "小类"),
        ("name", "名称"),
        ("status", "状态"),
        ("owner_department", "主管部门"),
        ("maintainer", "养护单位"),
        ("grid_code", "单元网格"),
        ("region_code", "社区"),
        ("street_code", "街道"),
        ("district_code", "区县"),
        ("updated_at", "更新时间"),
    ],
    title="城市部件",
    filename="components",
    labels={"status": dict(ComponentStatus.choices)},
    point_field="point",
)


def _component_filters(request, qs):
    return component_filter(qs, request_params(request))


COMPONENT_FILTERS = [
    OpenApiParameter("class", str, description="小类代码（4 位）或大类代码（2 位）"),
    OpenApiParameter("status", str, description="状态，可多选逗号分隔：intact,damaged,lost,removed"),
]


class _ComponentLayer(APIView):
    required_scopes = {"GET": "components:read"}

    def layer(self):
        return _component_filters(self.request, components_visible(self.request.jurisdiction))


class _Upload(serializers.Serializer):
    """Fields common to creating and changing a component (JSON, or multipart with photos)."""

    class_code = serializers.CharField(required=False, max_length=4)
    geom = serializers.JSONField(required=False, help_text="GeoJSON 几何或 WKT（点、线、面），坐标系见 crs")
    name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    owner_department = serializers.CharField(required=False, allow_blank=True, max_length=100)
    maintainer = serializers.CharField(required=False, allow_blank=True, max_length=100)
    status = serializers.ChoiceField(required=False, choices=ComponentStatus.choices)
    note = serializers.CharField(required=False, allow_blank=True, max_length=500)
    crs = serializers.CharField(required=False)


def _validated(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    if not serializer.is_valid():
        raise InvalidInput("请求参数有误", details=serializer.errors)
    data = dict(serializer.validated_data)
    crs = parse_crs(data.pop("crs", None))
    if data.get("geom") is not None:
        data["geom"] = parse_geometry(data["geom"], "geom", crs=crs, kinds=GEOMETRY_KINDS)
    return data


def _photos(request) -> list:
    return request.FILES.getlist("photos") if hasattr(request, "FILES") else []


def _detail(component: CityComponent, request, status_code=status.HTTP_200_OK) -> Response:
    crs = parse_crs(request.query_params.get("crs") or request.data.get("crs"))
    component = CityComponent.objects.select_related("component_class__major").get(pk=component.pk)
    body = ComponentDetailSerializer(component, context={"request": request, "crs": crs}).data
    return Response(body, status=status_code)


class ComponentListView(_ComponentLayer):
    """城市部件图层：范围查询（区划/网格/矩形/圆/多边形/沿线缓冲/时间）+ 小类/大类、状态筛选；
    GeoJSON 分页、计数（count=true）或导出（export=csv|xlsx）。
    POST 新增部件（JSON 或带照片 photos 的表单）。"""

    required_scopes = {"GET": "components:read", "POST": "components:write"}

    @extend_schema(
        operation_id="api_v1_components_list",
        parameters=[*RANGE_PARAMETERS, *COMPONENT_FILTERS, EXPORT_PARAMETER],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        return range_response(
            request, self.layer(), ComponentFeatureSerializer, point_field="point", time_field=TIME_FIELD,
            export=COMPONENT_EXPORT,
        )  # fmt: skip

    @extend_schema(request=_Upload, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        data = _validated(_Upload, request)
        code = request.data.get("code") or ""
        if not data.get("class_code"):
            raise InvalidInput("缺少部件小类代码 class_code", details={"class_code": "required"})
        component = component_create(
            data=ComponentInput(code=str(code), **{"geom": None, **data}),
            jurisdiction=request.jurisdiction,
            photos=_photos(request),
        )
        return _detail(component, request, status.HTTP_201_CREATED)


class ComponentHeatmapView(_ComponentLayer):
    """城市部件热力图：数据库内分箱聚合（方格或六边形）。"""

    @extend_schema(parameters=[*HEATMAP_PARAMETERS, *COMPONENT_FILTERS], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return heatmap_response(request, self.layer(), point_field="point", time_field=TIME_FIELD)


class ComponentClustersView(_ComponentLayer):
    """城市部件点聚合：低缩放级别下在服务器端聚合。"""

    @extend_schema(parameters=[*CLUSTER_PARAMETERS, *COMPONENT_FILTERS], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return clusters_response(request, self.layer(), point_field="point", time_field=TIME_FIELD)


class ComponentStatsView(_ComponentLayer):
    """城市部件统计：按区划（任意级别）、网格、大类、小类、状态、月/周/日计数，可导出 CSV/Excel。"""

    @extend_schema(parameters=[*STATS_PARAMETERS, *COMPONENT_FILTERS], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return stats_response(
            request,
            self.layer(),
            point_field="point",
            time_field=TIME_FIELD,
            fields={
                "major": ("component_class__major__name", "大类"),
                "class": ("component_class__name", "小类"),
                "status": ("status", "状态"),
            },
            title="城市部件",
        )


class ComponentDetailView(APIView):
    """一个部件（含照片列表）；PATCH 修改（编码不变）。"""

    required_scopes = {"GET": "components:read", "PATCH": "components:write"}

    @extend_schema(parameters=[OpenApiParameter("crs", str)], responses=OpenApiTypes.OBJECT)
    def get(self, request, code: str):
        return _detail(component_get(code=code, jurisdiction=request.jurisdiction), request)

    @extend_schema(request=_Upload, responses=OpenApiTypes.OBJECT)
    def patch(self, request, code: str):
        data = _validated(_Upload, request)
        component = component_update(
            code=code, jurisdiction=request.jurisdiction, photos=_photos(request), **data
        )
        return _detail(component, request)


class _StatusInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=ComponentStatus.choices)
    note = serializers.CharField(required=False, allow_blank=True, max_length=500)


class ComponentStatusView(APIView):
    """变更部件状态（完好/破损/丢失/移除），可附照片 photos。"""

    required_scopes = {"POST": "components:write"}

    @extend_schema(request=_StatusInput, responses=OpenApiTypes.OBJECT)
    def post(self, request, code: str):
        serializer = _StatusInput(data=request.data)
        if not serializer.is_valid():
            raise InvalidInput("请求参数有误", details=serializer.errors)
        component = component_status_set(
            code=code, jurisdiction=request.jurisdiction, photos=_photos(request), **serializer.validated_data
        )
        return _detail(component, request)


class ComponentPhotoView(APIView):
    """部件照片文件（或其缩略图 thumbnail=1）。"""

    required_scopes = {"GET": "components:read"}

    @extend_schema(parameters=[OpenApiParameter("thumbnail", bool)], responses={200: OpenApiTypes.BINARY})
    def get(self, request, code: str, photo_id: int):
        component = component_get(code=code, jurisdiction=request.jurisdiction)
        photo = component.photos.filter(pk=photo_id).first()
        if photo is None:
            raise NotFound(f"照片 {photo_id} 不存在")
        thumbnail = request.query_params.get("thumbnail") in ("1", "true")
        if thumbnail and not photo.thumbnail:
            raise NotFound("该照片没有缩略图")
        field = photo.thumbnail if thumbnail else photo.file
        return FileResponse(field.open("rb"), content_type="image/jpeg" if thumbnail else photo.content_type)


class ComponentClassListView(APIView):
    """部件分类：大类及其小类（代码、名称、图形类型）。"""

    required_scopes = {"GET": "components:read"}

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        majors: dict[str, dict] = {}
        classes: list[ComponentClass] = list(component_classes())
        for c in classes:
            if c.major_id is None:
                majors[c.code] = {"code": c.code, "name": c.name, "note": c.note, "minors": []}
        for c in classes:
            if c.major_id is not None:
                majors[c.major.code]["minors"].append(
                    {"code": c.code, "name": c.name, "geometry_kind": c.geometry_kind, "note": c.note}
                )
        return Response({"count": len(majors), "results": list(majors.values())})
