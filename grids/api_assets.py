"""City components (城市部件) and cameras (视频点位) over HTTP: thin views over
``grids.services.{components,cameras}`` and ``grids.selectors.{components,cameras}``.

Point-layer reads use the shared range filter, heatmap, clusters and statistics helpers of
gis_core (components by their representative point). Coordinates in and out in ``crs``.
A camera's stream URL is in an answer only for callers holding ``cameras:stream``.
"""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from accounts.permissions import principal_of
from gis_core.api.aggregates import (
    CLUSTER_PARAMETERS,
    HEATMAP_PARAMETERS,
    STATS_PARAMETERS,
    clusters_response,
    heatmap_response,
    stats_response,
)
from gis_core.api.exports import EXPORT_PARAMETER, ListExport
from gis_core.api.params import parse_crs, parse_float, parse_lonlat
from gis_core.api.ranges import RANGE_PARAMETERS, parse_geometry, range_response, request_params
from gis_core.api.spatial import CRSGeometryField
from gis_core.errors import InvalidInput, NotFound

from .assets import Camera, CameraCategory, CityComponent, ComponentClass, ComponentStatus
from .selectors.cameras import camera_get, cameras_near_event, cameras_seeing, cameras_visible
from .selectors.components import component_classes, component_get, components_visible
from .services.cameras import CameraInput, camera_create, camera_update
from .services.components import ComponentInput, component_create, component_status_set, component_update

__all__ = [
    "CameraDetailView",
    "CameraListView",
    "CamerasNearEventView",
    "CamerasSeeingView",
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


# ------------------------------------------------------------------ components


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
    """``class`` (a minor class code, or a major class code for all its minors) and ``status``."""
    params = request_params(request)
    if code := (params.get("class") or "").strip():
        if len(code) == 2:
            qs = qs.filter(component_class__major__code=code)
        else:
            qs = qs.filter(component_class__code=code)
    if value := (params.get("status") or "").strip():
        wanted = value.split(",")
        if bad := [s for s in wanted if s not in ComponentStatus.values]:
            raise InvalidInput(
                f"状态 status 应为 {' / '.join(ComponentStatus.values)}", details={"status": bad}
            )
        qs = qs.filter(status__in=wanted)
    return qs


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
        parameters=[*RANGE_PARAMETERS, *COMPONENT_FILTERS, EXPORT_PARAMETER], responses=OpenApiTypes.OBJECT
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


# ------------------------------------------------------------------ cameras


class CameraFeatureSerializer(GeoFeatureModelSerializer):
    geom = CRSGeometryField()
    sector = CRSGeometryField()
    category_name = serializers.CharField(source="get_category_display")

    class Meta:
        model = Camera
        geo_field = "geom"
        fields = [
            "id", "code", "name", "category", "category_name", "owner_unit", "responsible_person",
            "responsible_phone", "direction", "angle", "range_m", "sector", "stream_url", "grid_code",
            "region_code", "street_code", "district_code", "updated_at",
        ]  # fmt: skip

    def to_representation(self, instance):
        data = super().to_representation(instance)
        props = data["properties"]
        if not self.context.get("stream"):
            props.pop("stream_url", None)  # not even the key: a caller cannot tell whether one exists
        if (distance := getattr(instance, "distance", None)) is not None:
            props["distance_m"] = round(distance.m, 1)
        if (sees := getattr(instance, "sees", None)) is not None:
            props["sees"] = bool(sees)
        return data


def _camera_context(request, crs: str) -> dict:
    principal = principal_of(request)
    return {
        "request": request,
        "crs": crs,
        "stream": principal is not None and "cameras:stream" in principal.scopes,
    }


CAMERA_EXPORT = ListExport(
    columns=[
        ("code", "设备编码"),
        ("name", "名称"),
        ("category", "类别"),
        ("owner_unit", "权属单位"),
        ("responsible_person", "负责人"),
        ("responsible_phone", "负责人电话"),
        ("direction", "朝向（度）"),
        ("angle", "视角（度）"),
        ("range_m", "可视距离（米）"),
        ("grid_code", "单元网格"),
        ("region_code", "社区"),
        ("street_code", "街道"),
        ("district_code", "区县"),
    ],
    title="视频点位",
    filename="cameras",
    labels={"category": dict(CameraCategory.choices)},
)


class _CameraInput(serializers.Serializer):
    code = serializers.CharField(required=False, allow_blank=True, max_length=20)
    name = serializers.CharField(max_length=100)
    category = serializers.ChoiceField(choices=CameraCategory.choices)
    lon = serializers.FloatField()
    lat = serializers.FloatField()
    direction = serializers.FloatField()
    angle = serializers.FloatField()
    range_m = serializers.FloatField()
    owner_unit = serializers.CharField(required=False, allow_blank=True, max_length=100)
    responsible_person = serializers.CharField(required=False, allow_blank=True, max_length=40)
    responsible_phone = serializers.CharField(required=False, allow_blank=True, max_length=20)
    stream_url = serializers.CharField(required=False, allow_blank=True, max_length=500)
    crs = serializers.CharField(required=False)


class _CameraChange(_CameraInput):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for f in self.fields.values():
            f.required = False
        self.fields.pop("code")


def _camera_data(serializer_class, request) -> dict:
    """Checked fields; the point is taken in ``crs`` and turned into WGS84. The range checks of
    direction, angle and range are the service's (one message for API, demo and loaders)."""
    raw = request.data
    if not hasattr(raw, "get"):  # a JSON body that is not an object (null, a list …)
        raise InvalidInput("请求体应为 JSON 对象")
    for name in ("direction", "angle", "range_m", "lon", "lat"):  # a clear message, not DRF's
        if name in raw:
            parse_float(raw.get(name), name)
    serializer = serializer_class(data=raw)
    if not serializer.is_valid():
        raise InvalidInput("请求参数有误", details=serializer.errors)
    data = dict(serializer.validated_data)
    crs = parse_crs(data.pop("crs", None))
    if "lon" in data or "lat" in data:
        if not ("lon" in data and "lat" in data):
            raise InvalidInput(
                "位置应同时给出 lon 和 lat", details={"lon": data.get("lon"), "lat": data.get("lat")}
            )
        data["lon"], data["lat"] = parse_lonlat(data["lon"], data["lat"], crs)
    return data


def _camera_answer(camera: Camera, request, status_code=status.HTTP_200_OK) -> Response:
    crs = parse_crs(request.query_params.get("crs") or request.data.get("crs"))
    return Response(
        CameraFeatureSerializer(camera, context=_camera_context(request, crs)).data, status=status_code
    )


class CameraListView(APIView):
    """视频点位图层：范围查询 + 类别筛选（category），GeoJSON 分页（含可视扇形 sector）、计数或导出；
    视频流地址仅对有 cameras:stream 权限者返回。POST 新增点位。"""

    required_scopes = {"GET": "cameras:read", "POST": "cameras:write"}

    @extend_schema(
        parameters=[
            *RANGE_PARAMETERS,
            OpenApiParameter("category", str, enum=CameraCategory.values),
            EXPORT_PARAMETER,
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        qs = cameras_visible(request.jurisdiction)
        if category := request.query_params.get("category"):
            if category not in CameraCategory.values:
                raise InvalidInput(
                    f"类别 category 应为 {' / '.join(CameraCategory.values)}", details={"category": category}
                )
            qs = qs.filter(category=category)
        crs = parse_crs(request.query_params.get("crs"))
        return range_response(
            request, qs, CameraFeatureSerializer, time_field=TIME_FIELD, export=CAMERA_EXPORT,
            context=_camera_context(request, crs),
        )  # fmt: skip

    @extend_schema(request=_CameraInput, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        data = _camera_data(_CameraInput, request)
        camera = camera_create(data=CameraInput(**data), jurisdiction=request.jurisdiction)
        return _camera_answer(camera, request, status.HTTP_201_CREATED)


class CameraDetailView(APIView):
    """一个视频点位；PATCH 修改（朝向、视角、距离变化时重新计算可视扇形）。"""

    required_scopes = {"GET": "cameras:read", "PATCH": "cameras:write"}

    @extend_schema(parameters=[OpenApiParameter("crs", str)], responses=OpenApiTypes.OBJECT)
    def get(self, request, pk: int):
        return _camera_answer(camera_get(camera_id=pk, jurisdiction=request.jurisdiction), request)

    @extend_schema(request=_CameraChange, responses=OpenApiTypes.OBJECT)
    def patch(self, request, pk: int):
        data = _camera_data(_CameraChange, request)
        camera = camera_update(camera_id=pk, jurisdiction=request.jurisdiction, **data)
        return _camera_answer(camera, request)


class CamerasSeeingView(APIView):
    """能看到某点的摄像机（点在可视扇形内），由近及远；lon/lat 为 crs 坐标系。"""

    required_scopes = {"GET": "cameras:read"}

    @extend_schema(
        parameters=[
            OpenApiParameter("lon", float),
            OpenApiParameter("lat", float),
            OpenApiParameter("crs", str),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        crs = parse_crs(request.query_params.get("crs"))
        lon, lat = parse_lonlat(request.query_params.get("lon"), request.query_params.get("lat"), crs)
        cameras = list(cameras_seeing(lon=lon, lat=lat, jurisdiction=request.jurisdiction))
        features = CameraFeatureSerializer(cameras, many=True, context=_camera_context(request, crs)).data
        return Response(
            {"type": "FeatureCollection", "count": len(cameras), "features": features["features"]}
        )


class CamerasNearEventView(APIView):
    """事件附近的摄像机：事件点 radius 米（默认 200）内的点位，由近及远；
    sees 表示事件点是否在其可视扇形内。"""

    required_scopes = {"GET": "cameras:read"}

    @extend_schema(
        parameters=[OpenApiParameter("radius", float), OpenApiParameter("crs", str)],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, event_id: int):
        if "events:read" not in principal_of(request).scopes:  # the answer tells where the event is
            raise PermissionDenied("缺少权限范围 events:read", code="missing_scope")
        crs = parse_crs(request.query_params.get("crs"))
        radius = request.query_params.get("radius")
        near = cameras_near_event(
            event_id=event_id,
            jurisdiction=request.jurisdiction,
            radius_m=None if radius in (None, "") else parse_float(radius, "radius"),
        )
        features = CameraFeatureSerializer(
            near.cameras, many=True, context=_camera_context(request, crs)
        ).data
        return Response(
            {
                "type": "FeatureCollection",
                "event": {"id": near.event.pk, "grid_code": near.event.grid_code},
                "radius_m": near.radius_m,
                "count": len(near.cameras),
                "seeing": sum(1 for c in near.cameras if c.sees),
                "features": features["features"],
            }
        )
