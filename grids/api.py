"""Unit grid endpoints (GeoJSON) and the topology check."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from gis_core.api.params import parse_code
from gis_core.api.schema import MultiPolygonDisplayField
from gis_core.api.serializers import RegionSummarySerializer
from gis_core.api.spatial import SpatialViewMixin
from gis_core.api.views import SPATIAL_PARAMS
from gis_core.errors import InvalidInput, NotFound
from gis_core.models import Region

from .models import GridKind, UnitGrid
from .selectors.topology import topology_summary

__all__ = ["TopologyView", "UnitGridViewSet"]


class UnitGridSerializer(GeoFeatureModelSerializer):
    kind_name = serializers.CharField(source="get_kind_display", read_only=True)
    geom = MultiPolygonDisplayField(source="display_geom", read_only=True)

    class Meta:
        model = UnitGrid
        geo_field = "geom"
        id_field = "code"
        fields = [
            "code",
            "name",
            "kind",
            "kind_name",
            "community_code",
            "street_code",
            "district_code",
            "area_m2",
            "households",
            "population",
        ]


class UnitGridDetailSerializer(UnitGridSerializer):
    chain = serializers.SerializerMethodField(help_text="所属区划链（省级在前）")

    class Meta(UnitGridSerializer.Meta):
        fields = [*UnitGridSerializer.Meta.fields, "chain"]

    def get_chain(self, obj: UnitGrid) -> list[dict]:
        return RegionSummarySerializer(Region.objects.chain_of(obj.community_code), many=True).data


@extend_schema(parameters=SPATIAL_PARAMS)
class UnitGridViewSet(SpatialViewMixin, viewsets.ReadOnlyModelViewSet):
    """单元网格，GeoJSON。"""

    lookup_field = "code"
    lookup_value_regex = r"\d{15}"
    required_scopes = {"GET": "grids:read"}

    def get_serializer_class(self):
        return UnitGridDetailSerializer if self.action == "retrieve" else UnitGridSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("region", str, description="区划代码（任一级），只列该区划内的网格"),
            OpenApiParameter("kind", str, enum=GridKind.values),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        qs = self.request.scope_queryset(UnitGrid.objects.all())
        params = self.request.query_params
        if self.action == "list":
            if region := params.get("region"):
                qs = qs.in_region(parse_code(region))
            if kind := params.get("kind"):
                if kind not in GridKind.values:
                    raise InvalidInput(f"kind 应为 {' / '.join(GridKind.values)}", details={"kind": kind})
                qs = qs.filter(kind=kind)
        return self.apply_spatial(qs)


class TopologyView(APIView):
    """网格拓扑检查：无效几何、重叠、空隙、超出社区、碎片。"""

    required_scopes = {"GET": "topology:read"}

    @extend_schema(
        parameters=[OpenApiParameter("region", str, required=True, description="检查该区划内的所有社区")],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        region = request.query_params.get("region")
        if not region:
            raise InvalidInput("缺少参数 region（区划代码）")
        code = parse_code(region)
        if not request.jurisdiction.covers_code(code):
            raise NotFound(f"区划 {code} 不存在")  # the same answer as for a code that does not exist
        return Response(topology_summary(region_code=code))
