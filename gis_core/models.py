"""Region hierarchy, boundary versions and the point-location side table.

Every geometry is stored in SRID 4326; areas are computed on the spheroid.
"""

from __future__ import annotations

from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex

__all__ = ["LocatorLayer", "LocatorPart", "LocatorRevision", "Region", "RegionBoundary", "RegionLevel"]


class RegionLevel(models.IntegerChoices):
    PROVINCE = 1, "省级"
    CITY = 2, "地级"
    DISTRICT = 3, "县级（区/县）"
    STREET = 4, "乡级（街道/乡镇）"
    COMMUNITY = 5, "村级（社区/村）"


class RegionQuerySet(models.QuerySet):
    def with_geometry(self) -> RegionQuerySet:
        return self.filter(geom__isnull=False)

    def chain_of(self, code: str) -> RegionQuerySet:
        """The region and its ancestors, province first (derived from the code)."""
        from .codes import ancestor_codes

        return self.filter(code__in=ancestor_codes(code)).order_by("level")


class Region(models.Model):
    """An administrative region (省/市/区县/街道乡镇/社区村).

    ``geom`` is the current boundary (most of the national gazetteer has none);
    every boundary it ever had is kept in :class:`RegionBoundary`, so redrawing
    a boundary does not rewrite history (MapIt's generations, by date).
    """

    code = models.CharField("区划代码", max_length=12, unique=True)
    name = models.CharField("名称", max_length=100, db_index=True)
    short_name = models.CharField("简称", max_length=50, blank=True, db_index=True)
    aliases = ArrayField(
        models.CharField(max_length=100), verbose_name="别名/曾用名", default=list, blank=True
    )
    level = models.PositiveSmallIntegerField("级别", choices=RegionLevel.choices, db_index=True)
    parent = models.ForeignKey(
        "self", verbose_name="上级", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    geom = models.MultiPolygonField("边界", srid=4326, null=True, blank=True)
    area_m2 = models.FloatField("面积（平方米）", null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RegionQuerySet.as_manager()

    class Scope:  # read by accounts.scoping
        region_field = "code"

    class Meta:
        verbose_name = "行政区划"
        verbose_name_plural = "行政区划"
        ordering = ["code"]
        indexes = [GinIndex(fields=["aliases"], name="region_aliases_gin")]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"


class RegionBoundary(models.Model):
    """One version of a region's boundary, valid over [valid_from, valid_to)."""

    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="boundaries")
    geom = models.MultiPolygonField(srid=4326)
    valid_from = models.DateField("生效日期")
    valid_to = models.DateField("失效日期", null=True, blank=True)
    source = models.CharField("来源", max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "边界版本"
        verbose_name_plural = "边界版本"
        ordering = ["region", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["region"], condition=models.Q(valid_to__isnull=True), name="one_current_boundary"
            ),
            models.CheckConstraint(
                condition=models.Q(valid_to__isnull=True) | models.Q(valid_to__gte=models.F("valid_from")),
                name="boundary_valid_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.region_id} {self.valid_from}–{self.valid_to or ''}"


class LocatorLayer(models.TextChoices):
    REGION = "region", "行政区划"
    GRID = "grid", "单元网格"


class LocatorPart(models.Model):
    """A piece of a region or grid boundary cut by ST_Subdivide.

    Point-in-polygon against small parts with a GiST index is what makes point
    location fast (MapIt does the same). Rows are owned by the services that
    write boundaries and replaced whenever a boundary changes; ``code`` is the
    owner's code and ``region_code`` the community (for grids) or the region
    itself, so a hit gives the whole region chain without another join.
    """

    layer = models.CharField(max_length=8, choices=LocatorLayer.choices)
    code = models.CharField(max_length=20)
    name = models.CharField(max_length=100)
    level = models.PositiveSmallIntegerField()
    region_code = models.CharField(max_length=12)
    geom = models.PolygonField(srid=4326)

    class Meta:
        indexes = [models.Index(fields=["layer", "code"], name="locator_owner")]

    def __str__(self) -> str:
        return f"{self.layer}:{self.code}"


class LocatorRevision(models.Model):
    """A single row counting changes to the locator table.

    Processes that keep an in-memory copy of the locator (the bulk path)
    compare this number to know when to reload.
    """

    revision = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return str(self.revision)
