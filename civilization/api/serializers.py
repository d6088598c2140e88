"""Serializers of the civilization API: units as GeoJSON features (exact or public), inputs, draws."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from gis_core.api.spatial import CRSGeometryField

from ..models import AssessmentDraw, CivilizationUnit, DrawMethod, DrawReplacement, DrawSite, UnitType

__all__ = [
    "AreaRequest",
    "DrawCreateRequest",
    "DrawReplacementSerializer",
    "DrawSerializer",
    "DrawSiteSerializer",
    "PublicUnitFeatureSerializer",
    "ReplaceRequest",
    "UnitFeatureSerializer",
    "UnitRequest",
    "VoidRequest",
]

_UNIT_FIELDS = [
    "id",
    "name",
    "unit_type",
    "type_name",
    "level",
    "level_name",
    "year_awarded",
    "term",
    "review_year",
    "status",
    "status_name",
    "address",
    "contact",
    "grid_code",
    "region_code",
    "street_code",
    "district_code",
    "coarsened",
]


class _UnitFeature(GeoFeatureModelSerializer):
    type_name = serializers.CharField(source="get_unit_type_display", read_only=True)
    level_name = serializers.CharField(source="get_level_display", read_only=True)
    status_name = serializers.CharField(source="get_status_display", read_only=True)
    coarsened = serializers.SerializerMethodField()

    def get_coarsened(self, unit) -> bool:
        return False

    def to_representation(self, instance):
        data = super().to_representation(instance)
        distance = getattr(instance, "distance", None)
        if distance is not None:
            data["properties"]["distance_m"] = round(distance.m, 1)
        return data


class UnitFeatureSerializer(_UnitFeature):
    """A unit at its exact point (callers with personal:read)."""

    geom = CRSGeometryField()

    class Meta:
        model = CivilizationUnit
        geo_field = "geom"
        fields = [*_UNIT_FIELDS, "geom"]


class PublicUnitFeatureSerializer(_UnitFeature):
    """A unit as seen without personal:read: a family at its community's point, no address or contact."""

    public_geom = CRSGeometryField()
    grid_code = serializers.CharField(source="public_grid_code", read_only=True)

    class Meta:
        model = CivilizationUnit
        geo_field = "public_geom"
        fields = [*_UNIT_FIELDS, "public_geom"]

    def get_coarsened(self, unit) -> bool:
        return unit.unit_type == UnitType.FAMILY

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if instance.unit_type == UnitType.FAMILY:
            data["properties"]["address"] = ""
            data["properties"]["contact"] = ""
        return data


class UnitRequest(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    unit_type = serializers.CharField(help_text="类型：city/unit/village/campus/community/family 或中文名")
    level = serializers.CharField(help_text="荣誉级别：district/city/provincial/national 或中文名")
    year_awarded = serializers.IntegerField()
    term = serializers.IntegerField(required=False, allow_null=True)
    review_year = serializers.IntegerField(required=False, allow_null=True)
    status = serializers.CharField(required=False)
    address = serializers.CharField(required=False, allow_blank=True, max_length=300)
    contact = serializers.CharField(required=False, allow_blank=True, max_length=100)
    lon = serializers.FloatField(required=False)
    lat = serializers.FloatField(required=False)
    crs = serializers.CharField(required=False)
    city = serializers.CharField(required=False, help_text="按地址定位时的城市上下文")


class StratumRequest(serializers.Serializer):
    type = serializers.CharField(max_length=60)
    district = serializers.CharField(max_length=12)
    n = serializers.IntegerField()
    reserves = serializers.IntegerField(required=False)


class SiteRequest(serializers.Serializer):
    type = serializers.CharField(max_length=60)
    name = serializers.CharField(max_length=200)
    lon = serializers.FloatField()
    lat = serializers.FloatField()
    weight = serializers.FloatField(required=False)


class AreaRequest(serializers.Serializer):
    type = serializers.CharField(max_length=60, help_text="层的类型名，如 背街小巷、广场片区")
    n = serializers.IntegerField(help_text="抽取点数")
    reserves = serializers.IntegerField(required=False)
    region = serializers.CharField(
        max_length=15, required=False, help_text="区划代码：在该区划边界内抽点（区县、街道、社区）"
    )
    polygon = serializers.JSONField(required=False, help_text="在地图上画的面（GeoJSON，坐标系见 crs）")
    roads = serializers.CharField(
        max_length=15, required=False, help_text="区县代码：沿该区县道路中心线按长度抽点"
    )


class DrawCreateRequest(serializers.Serializer):
    title = serializers.CharField(max_length=120)
    method = serializers.ChoiceField(choices=DrawMethod.values, required=False)
    seed = serializers.IntegerField(required=False, min_value=0, max_value=2**63 - 1)
    min_distance_m = serializers.FloatField(required=False, allow_null=True)
    allow_partial = serializers.BooleanField(required=False)
    reserves = serializers.IntegerField(required=False, help_text="每层备选点数（默认 0）")
    counts = serializers.DictField(
        child=serializers.IntegerField(), required=False, help_text="{类型: 每个区县抽取数}"
    )
    strata = StratumRequest(many=True, required=False)
    poi_categories = serializers.ListField(child=serializers.CharField(), required=False)
    unit_types = serializers.ListField(child=serializers.CharField(), required=False)
    sites = SiteRequest(many=True, required=False)
    areas = AreaRequest(
        many=True, required=False, help_text="连续区域抽样：每层一个面（region/polygon）或一组道路（roads）"
    )
    crs = serializers.CharField(required=False)


class VoidRequest(serializers.Serializer):
    reason = serializers.CharField(max_length=300, allow_blank=True)


class ReplaceRequest(serializers.Serializer):
    site = serializers.IntegerField()
    reason = serializers.CharField(max_length=300, allow_blank=True)


class DrawSiteSerializer(serializers.ModelSerializer):
    lon = serializers.SerializerMethodField()
    lat = serializers.SerializerMethodField()
    replaced_by = serializers.PrimaryKeyRelatedField(read_only=True)
    replaces = serializers.SerializerMethodField(help_text="该点位替换了哪个点位（id）")
    replaced_by_actor = serializers.SerializerMethodField(help_text="替换操作人")

    class Meta:
        model = DrawSite
        fields = [
            "id",
            "stratum",
            "site_type",
            "district_code",
            "role",
            "rank",
            "key",
            "name",
            "lon",
            "lat",
            "grid_code",
            "region_code",
            "inclusion_probability",
            "active",
            "replaced_reason",
            "replaced_at",
            "replaced_by",
            "replaces",
            "replaced_by_actor",
        ]

    def _xy(self, site) -> tuple[float, float]:
        from gis_core.crs import from_wgs84

        x, y = from_wgs84(site.geom.x, site.geom.y, self.context.get("crs", "wgs84"))
        return round(float(x), 7), round(float(y), 7)

    def get_replaces(self, site) -> int | None:
        replaced = getattr(site, "replaces", None)  # the reverse of replaced_by
        return replaced.pk if replaced is not None else None

    def get_replaced_by_actor(self, site) -> str:
        record = getattr(site, "replacement_record", None)
        return record.actor if record is not None else ""

    def get_lon(self, site) -> float:
        return self._xy(site)[0]

    def get_lat(self, site) -> float:
        return self._xy(site)[1]


class DrawSerializer(serializers.ModelSerializer):
    method_name = serializers.CharField(source="get_method_display", read_only=True)
    state_name = serializers.CharField(source="get_state_display", read_only=True)
    seed = serializers.CharField(read_only=True)  # 64-bit: a string, so JavaScript keeps every digit
    frame_size = serializers.IntegerField(source="frame.size", read_only=True)

    class Meta:
        model = AssessmentDraw
        fields = [
            "id",
            "title",
            "region_code",
            "method",
            "method_name",
            "kind",
            "seed",
            "min_distance_m",
            "allow_partial",
            "strata",
            "frame_sha256",
            "frame_size",
            "balance",
            "srs_balance_mean",
            "srs_replicates",
            "state",
            "state_name",
            "void_reason",
            "created_by",
            "created_at",
            "confirmed_at",
            "voided_at",
        ]


class DrawReplacementSerializer(serializers.ModelSerializer):
    class Meta:
        model = DrawReplacement
        fields = ["id", "site", "replacement", "reason", "actor", "created_at"]
