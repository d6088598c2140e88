"""How the tile and base-map views appear in the OpenAPI schema (drf-spectacular); nothing here
changes an answer.

Vector tiles are binary (``application/vnd.mapbox-vector-tile``), revalidated by ETag (304);
TileJSON and the layer list are JSON objects; a bad tile address or filter answers the API's one
JSON error shape (:class:`gis_core.api.schema.ErrorSerializer`).
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from gis_core.api.ranges import RANGE_PARAMETERS
from gis_core.api.schema import error_response

from .basemap.wms import LAYER as WMS_LAYER
from .basemap.wms import MAX_PIXELS, SRS_3857
from .registry import GEOMETRIES, layer_names, layers
from .tilemath import MAX_ZOOM

__all__ = [
    "BASEMAP_PARAMETERS",
    "BASEMAP_RESPONSES",
    "TILEJSON_PARAMETERS",
    "TILEJSON_RESPONSES",
    "TILE_LAYERS_RESPONSES",
    "TILE_PARAMETERS",
    "TILE_RESPONSES",
    "WMS_PARAMETERS",
    "WMS_RESPONSES",
]

MVT_TYPE = "application/vnd.mapbox-vector-tile"
JSON = "application/json"


class TileJsonVectorLayerSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="切片内的图层名（即 layer）")
    description = serializers.CharField()
    minzoom = serializers.IntegerField(min_value=0, max_value=MAX_ZOOM)
    maxzoom = serializers.IntegerField(min_value=0, max_value=MAX_ZOOM)
    fields = serializers.DictField(
        child=serializers.CharField(), help_text="要素属性名 → 类型（Number、String、Boolean）"
    )


class TileJsonSerializer(serializers.Serializer):
    """TileJSON 3.0.0 (https://github.com/mapbox/tilejson-spec)."""

    tilejson = serializers.CharField(help_text="3.0.0")
    name = serializers.CharField()
    description = serializers.CharField()
    version = serializers.CharField()
    scheme = serializers.CharField(help_text="xyz")
    tiles = serializers.ListField(
        child=serializers.URLField(), help_text="切片地址模板（{z}/{x}/{y}.mvt，带请求的筛选参数）"
    )
    minzoom = serializers.IntegerField(min_value=0, max_value=MAX_ZOOM)
    maxzoom = serializers.IntegerField(min_value=0, max_value=MAX_ZOOM)
    bounds = serializers.ListField(
        child=serializers.FloatField(), min_length=4, max_length=4, help_text="minlon,minlat,maxlon,maxlat"
    )
    center = serializers.ListField(
        child=serializers.FloatField(), min_length=3, max_length=3, help_text="经度、纬度、缩放级别"
    )
    vector_layers = TileJsonVectorLayerSerializer(many=True)


class TileLayerSummarySerializer(serializers.Serializer):
    name = serializers.CharField(help_text="图层名（切片地址中的 layer）")
    title = serializers.CharField()
    geometry = serializers.ChoiceField(choices=GEOMETRIES)
    tilejson = serializers.URLField()
    filters = serializers.ListField(child=serializers.CharField(), help_text="该图层接受的筛选参数")


class TileLayersSerializer(serializers.Serializer):
    layers = TileLayerSummarySerializer(many=True, help_text="调用者有权限查看的图层")


LAYER_PARAMETER = OpenApiParameter(
    "layer",
    str,
    OpenApiParameter.PATH,
    # layers are declared in the apps' ready(), before the URLconf (and so this module) loads
    enum=layer_names(),
    description="图层名（见 /tiles/）",
)
#: the shared range filter (layers declared with range_filter) and the layers' own filters; a
#: layer answers 400 to one it does not take (/tiles/ lists each layer's)
_RANGE_NAMES = {p.name for p in RANGE_PARAMETERS}
FILTER_PARAMETERS = [
    *(p for p in RANGE_PARAMETERS if p.name != "crs"),
    *(
        OpenApiParameter(name, str, description="图层自己的筛选参数（仅部分图层接受，见 /tiles/ 的 filters）")
        for name in sorted({n for layer in layers() for n in layer.filter_params} - _RANGE_NAMES)
    ),
]
TILEJSON_PARAMETERS = [LAYER_PARAMETER, *FILTER_PARAMETERS]
TILE_PARAMETERS = [
    LAYER_PARAMETER,
    OpenApiParameter(
        "z",
        {"type": "integer", "minimum": 0, "maximum": MAX_ZOOM},
        OpenApiParameter.PATH,
        description=f"缩放级别 0–{MAX_ZOOM}",
    ),
    OpenApiParameter(
        "x",
        {"type": "integer", "minimum": 0, "maximum": (1 << MAX_ZOOM) - 1},
        OpenApiParameter.PATH,
        description="列号，0 ≤ x < 2^z",
    ),
    OpenApiParameter(
        "y",
        {"type": "integer", "minimum": 0, "maximum": (1 << MAX_ZOOM) - 1},
        OpenApiParameter.PATH,
        description="行号（XYZ，自北向南），0 ≤ y < 2^z",
    ),
    *FILTER_PARAMETERS,
    OpenApiParameter(
        "If-None-Match", str, OpenApiParameter.HEADER, description="上次得到的 ETag：未变时答 304"
    ),
    OpenApiParameter("ETag", str, OpenApiParameter.HEADER, response=[200, 304], description="切片版本"),
    OpenApiParameter(
        "Cache-Control",
        str,
        OpenApiParameter.HEADER,
        response=[200, 304],
        description="private, max-age=…（按管辖范围，到期后凭 ETag 重新验证）",
    ),
    OpenApiParameter(
        "X-Tile-Cache",
        str,
        OpenApiParameter.HEADER,
        response=[200],
        enum=["hit", "miss"],
        description="服务器端缓存",
    ),
]

BAD_TILE = error_response("切片坐标不是整数或超出范围（bad_tile），或筛选参数不被该图层接受或取值错误")
NO_LAYER = error_response("没有这个图层")
TILE_RESPONSES = {
    (200, MVT_TYPE): OpenApiResponse(OpenApiTypes.BINARY, description="矢量切片（MVT，可为空）"),
    304: OpenApiResponse(description="未修改（If-None-Match 与当前 ETag 相同）"),
    (400, JSON): BAD_TILE,
    (404, JSON): NO_LAYER,
}
TILEJSON_RESPONSES = {
    (200, JSON): OpenApiResponse(TileJsonSerializer, description="TileJSON 3.0.0"),
    (400, JSON): error_response("筛选参数不被该图层接受或取值错误"),
    (404, JSON): NO_LAYER,
}
TILE_LAYERS_RESPONSES = {(200, JSON): TileLayersSerializer}

BASEMAP_PARAMETERS = [
    OpenApiParameter(
        "rest",
        str,
        OpenApiParameter.PATH,
        description="MapProxy 服务内的路径：wmts/…、tiles/…（TMS/XYZ）、service?（WMS）、demo/ 等",
    ),
]
BASEMAP_RESPONSES = {
    (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="底图切片或图片"),
    (200, "image/jpeg"): OpenApiTypes.BINARY,
    (200, "application/xml"): OpenApiResponse(OpenApiTypes.STR, description="能力文档（WMTS/WMS/TMS）"),
    404: OpenApiResponse(description="MapProxy 没有这个地址"),
    (503, JSON): error_response("底图数据源暂不可用：该切片尚未缓存（Retry-After: 60）"),
}

WMS_PARAMETERS = [
    OpenApiParameter("SERVICE", str, enum=["WMS"]),
    OpenApiParameter("REQUEST", str, enum=["GetMap", "GetCapabilities"], required=True),
    OpenApiParameter("LAYERS", str, enum=[WMS_LAYER], description="只有本地数据渲染的底图一层"),
    OpenApiParameter("SRS", str, enum=list(SRS_3857), description="GetMap 必填（WMS 1.3.0 用 CRS）"),
    OpenApiParameter("CRS", str, enum=list(SRS_3857)),
    OpenApiParameter("BBOX", str, description="GetMap 必填：minx,miny,maxx,maxy（EPSG:3857，米）"),
    OpenApiParameter("WIDTH", {"type": "integer", "minimum": 1, "maximum": MAX_PIXELS}, description="像素"),
    OpenApiParameter("HEIGHT", {"type": "integer", "minimum": 1, "maximum": MAX_PIXELS}, description="像素"),
    OpenApiParameter("FORMAT", str, enum=["image/png"]),
]
WMS_RESPONSES = {
    (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="GetMap：PNG 图片"),
    (200, "application/vnd.ogc.wms_xml"): OpenApiResponse(OpenApiTypes.STR, description="GetCapabilities"),
    (400, JSON): error_response("REQUEST、LAYERS、SRS、BBOX、WIDTH/HEIGHT 不合法"),
}
