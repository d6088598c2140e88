"""Camera points (视频点位) over HTTP: thin views over ``grids.services.cameras`` and
``grids.selectors.cameras``.

The layer uses the shared range filter of gis_core; coordinates in and out in ``crs``. A
camera's stream URL is in an answer only for callers holding ``cameras:stream``.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from accounts.permissions import principal_of
from gis_core.api.exports import EXPORT_PARAMETER, ListExport
from gis_core.api.params import parse_crs, parse_float, parse_lonlat
from gis_core.api.ranges import RANGE_PARAMETERS, range_response
from gis_core.api.spatial import CRSGeometryField
from gis_core.errors import InvalidInput

from .assets import Camera, CameraCategory
from .selectors.cameras import camera_filter, camera_get, cameras_near_event, cameras_seeing, cameras_visible
from .services.cameras import CameraInput, camera_create, camera_update

__all__ = [
    "CameraDetailView",
    "CameraListView",
    "CamerasNearEventView",
    "CamerasSeeingView",
]

TIME_FIELD = "updated_at"  # cameras have no event time: the window is on the last change


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
        operation_id="api_v1_cameras_list",
        parameters=[
            *RANGE_PARAMETERS,
            OpenApiParameter(
                "category", str, description=f"类别，可多选逗号分隔：{','.join(CameraCategory.values)}"
            ),
            EXPORT_PARAMETER,
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        qs = camera_filter(cameras_visible(request.jurisdiction), request.query_params)
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
