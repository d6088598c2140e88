from __future__ import annotations

from rest_framework import serializers
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from ..codes import parent_code
from ..models import Region
from .schema import MultiPolygonDisplayField

__all__ = ["RegionDetailSerializer", "RegionSerializer", "RegionSummarySerializer"]


class RegionSummarySerializer(serializers.ModelSerializer):
    level_name = serializers.CharField(source="get_level_display")

    class Meta:
        model = Region
        fields = ["code", "name", "level", "level_name"]


class RegionSerializer(GeoFeatureModelSerializer):
    level_name = serializers.CharField(source="get_level_display", read_only=True)
    parent_code = serializers.SerializerMethodField()
    # the model's boundary as annotated by SpatialViewMixin (crs, simplify); named after the
    # model field so that drf-spectacular, which looks geo_field up on the model, can describe it
    geom = MultiPolygonDisplayField(source="display_geom", read_only=True, allow_null=True)

    class Meta:
        model = Region
        geo_field = "geom"
        id_field = "code"
        fields = ["code", "name", "short_name", "aliases", "level", "level_name", "parent_code", "area_m2"]

    def get_parent_code(self, obj: Region) -> str | None:
        return parent_code(obj.code)


class RegionDetailSerializer(RegionSerializer):
    chain = serializers.SerializerMethodField(help_text="上级区划链（省级在前，含自身）")
    children = serializers.SerializerMethodField(help_text="下级区划数")

    class Meta(RegionSerializer.Meta):
        fields = [*RegionSerializer.Meta.fields, "chain", "children"]

    def get_chain(self, obj: Region) -> list[dict]:
        return RegionSummarySerializer(Region.objects.chain_of(obj.code), many=True).data

    def get_children(self, obj: Region) -> int:
        return obj.children.count()
