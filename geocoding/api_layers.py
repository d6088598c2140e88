"""Door plates (门牌) as a map layer: the shared range query, heatmap, clusters and statistics.

A demonstration and end-to-end test of the point-layer query helpers of
``gis_core.api.ranges`` / ``gis_core.api.aggregates`` on a layer that exists
today; every other point layer (events first) is served the same way. Thin:
each view scopes the layer to the caller's jurisdiction and makes one call.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
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
from gis_core.api.ranges import RANGE_PARAMETERS, range_response
from gis_core.api.spatial import CRSGeometryField

from .models import DoorPlate

__all__ = ["DoorClustersView", "DoorHeatmapView", "DoorListView", "DoorStatsView"]

TIME_FIELD = "updated_at"  # door plates have no event time: the window is on the last change


class DoorFeatureSerializer(GeoFeatureModelSerializer):
    geom = CRSGeometryField()
    street = serializers.CharField(source="street.name")
    label = serializers.CharField()

    class Meta:
        model = DoorPlate
        geo_field = "geom"
        fields = ["id", "street", "number", "suffix", "label", "grid_code", "region_code", "district_code"]


class _DoorLayer(APIView):
    required_scopes = {"GET": "geocode:read", "POST": "geocode:read"}

    def layer(self):
        return self.request.scope_queryset(DoorPlate.objects.select_related("street"))

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request):
        """同 GET，参数放在 JSON 请求体中（绘制的多边形过长时）。"""
        return self.get(request)


class DoorListView(_DoorLayer):
    """门牌图层：范围查询（区划/网格/矩形/圆/多边形/沿线缓冲/时间），GeoJSON 分页或计数。"""

    @extend_schema(parameters=RANGE_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return range_response(request, self.layer(), DoorFeatureSerializer, time_field=TIME_FIELD)


class DoorHeatmapView(_DoorLayer):
    """门牌热力图：数据库内分箱聚合（方格或六边形），只返回分箱。"""

    @extend_schema(parameters=HEATMAP_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return heatmap_response(
            request, self.layer(), time_field=TIME_FIELD, weight_fields={"number": "number"}
        )


class DoorClustersView(_DoorLayer):
    """门牌点聚合：低缩放级别下在服务器端聚合（质心、数量、范围）。"""

    @extend_schema(parameters=CLUSTER_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return clusters_response(request, self.layer(), time_field=TIME_FIELD)


class DoorStatsView(_DoorLayer):
    """门牌统计：按区划（任意级别）、网格、道路、月/周/日计数，可导出 CSV/Excel。"""

    @extend_schema(parameters=STATS_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return stats_response(
            request,
            self.layer(),
            time_field=TIME_FIELD,
            fields={"road": ("street__name", "道路")},
            title="门牌",
        )
