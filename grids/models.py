"""Unit grids (单元网格): the smallest cell of grid governance."""

from __future__ import annotations

from django.contrib.gis.db import models

from gis_core.models import Region

__all__ = ["GridKind", "UnitGrid"]


class GridKind(models.TextChoices):
    GENERAL = "general", "一般网格"
    KEY = "key", "重点网格"


class UnitGridQuerySet(models.QuerySet):
    def covering(self, point) -> UnitGridQuerySet:
        """Grids whose boundary covers the point (edges included)."""
        return self.filter(geom__covers=point)

    def in_region(self, code: str) -> UnitGridQuerySet:
        """Grids inside a region of any level, by the stored region codes."""
        from gis_core.codes import level_of, prefix_of

        return self.filter(community_code__startswith=prefix_of(code, level_of(code)))


class UnitGrid(models.Model):
    """A unit grid. Code per CJ/T 213: 12-digit community code + 3-digit serial.

    The community, street and district codes are stored on the row so every
    later filter by region is an indexed prefix lookup.
    """

    code = models.CharField("网格编码", max_length=15, unique=True)
    name = models.CharField("网格名称", max_length=100)
    community = models.ForeignKey(
        Region, verbose_name="所属社区", on_delete=models.PROTECT, related_name="grids"
    )
    community_code = models.CharField("社区代码", max_length=12, db_index=True, editable=False)
    street_code = models.CharField("街道代码", max_length=12, db_index=True, editable=False)
    district_code = models.CharField("区县代码", max_length=12, db_index=True, editable=False)
    kind = models.CharField("网格类型", max_length=8, choices=GridKind.choices, default=GridKind.GENERAL)
    geom = models.MultiPolygonField("边界", srid=4326)
    area_m2 = models.FloatField("面积（平方米）", editable=False)
    households = models.PositiveIntegerField("户数", default=0)
    population = models.PositiveIntegerField("人口", default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UnitGridQuerySet.as_manager()

    class Scope:  # read by accounts.scoping
        grid_field = "code"

    class Meta:
        verbose_name = "单元网格"
        verbose_name_plural = "单元网格"
        ordering = ["code"]
        indexes = [models.Index(fields=["community_code", "kind"], name="grid_community_kind")]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"
