"""Address gazetteer after GB/T 37149-2018 (carrying on CJ/T 215-2005).

Address elements: administrative regions (``gis_core.Region``), 地片/区片 and
residential compounds (:class:`Place`), streets and lanes with centre lines
(:class:`Street`), door plates (:class:`DoorPlate`), building plates
(:class:`Building`) and landmarks/POIs (:class:`Poi`).

Every point element stores, on write, the unit grid and the deepest region
that contain it (like events do), so jurisdiction filters are indexed lookups.
Any write to a gazetteer table bumps :class:`GazetteerRevision` (a statement
trigger, see migration 0002), which tells in-memory matchers to reload.
"""

from __future__ import annotations

from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex

__all__ = [
    "Building",
    "DoorPlate",
    "GazetteerRevision",
    "Place",
    "PlaceKind",
    "Poi",
    "Street",
    "StreetKind",
]


def _aliases():
    return ArrayField(models.CharField(max_length=100), verbose_name="别名/曾用名", default=list, blank=True)


class StreetKind(models.TextChoices):
    AVENUE = "avenue", "大道"
    ROAD = "road", "路"
    STREET = "street", "街"
    LANE = "lane", "巷"


class Street(models.Model):
    """A named street or lane (街/路/巷/道) with its centre line.

    One row per street per district: a road crossing districts has a row in each,
    so the district code on the row is exact and filters stay indexed.
    """

    name = models.CharField("名称", max_length=100, db_index=True)
    aliases = _aliases()
    kind = models.CharField("类型", max_length=8, choices=StreetKind.choices)
    district_code = models.CharField("区县代码", max_length=12, db_index=True)
    geom = models.MultiLineStringField("中心线", srid=4326)
    length_m = models.FloatField("长度（米）", editable=False)

    class Meta:
        verbose_name = "道路"
        verbose_name_plural = "道路"
        ordering = ["district_code", "name"]
        constraints = [models.UniqueConstraint(fields=["district_code", "name"], name="street_unique_name")]

    # read by accounts.scoping: by the row's district, not its line — a road on the A/B boundary
    # has a row in each district, and B's row must not reach A (the export would leak its code)
    class Scope:
        region_field = "district_code"

    def __str__(self) -> str:
        return self.name


class LocatedPoint(models.Model):
    """A point address element with the grid and region that contain it (stored on write)."""

    geom = models.PointField("位置", srid=4326)
    grid_code = models.CharField("单元网格", max_length=15, blank=True, db_index=True)
    region_code = models.CharField("所在区划（最细）", max_length=12, blank=True, db_index=True)
    district_code = models.CharField("区县代码", max_length=12, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    class Scope:  # read by accounts.scoping
        grid_field = "grid_code"


class PlaceKind(models.TextChoices):
    AREA = "area", "地片/区片"
    COMPOUND = "compound", "小区"


class Place(LocatedPoint):
    """A 地片/区片 or a residential compound (小区): name, point (main gate or centre), outline."""

    name = models.CharField("名称", max_length=100, db_index=True)
    aliases = _aliases()
    kind = models.CharField("类型", max_length=10, choices=PlaceKind.choices, default=PlaceKind.COMPOUND)
    outline = models.MultiPolygonField("范围", srid=4326, null=True, blank=True)
    door = models.ForeignKey(
        "DoorPlate", verbose_name="门牌", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "地片/小区"
        verbose_name_plural = "地片/小区"
        ordering = ["district_code", "name"]
        constraints = [models.UniqueConstraint(fields=["district_code", "name"], name="place_unique_name")]
        indexes = [GinIndex(fields=["aliases"], name="place_aliases_gin")]

    def __str__(self) -> str:
        return self.name


class DoorPlate(LocatedPoint):
    """A door plate (门牌): a number on a street, e.g. 大山坪路 12 号, 12-1 号 (suffix "-1")."""

    street = models.ForeignKey(Street, verbose_name="道路", on_delete=models.CASCADE, related_name="doors")
    number = models.PositiveIntegerField("门牌号")
    suffix = models.CharField("附号", max_length=20, blank=True, default="")

    class Meta:
        verbose_name = "门牌"
        verbose_name_plural = "门牌"
        ordering = ["street_id", "number", "suffix"]
        constraints = [
            models.UniqueConstraint(fields=["street", "number", "suffix"], name="door_unique_number")
        ]

    @property
    def label(self) -> str:
        return f"{self.number}{self.suffix}号"

    def __str__(self) -> str:
        return f"{self.street.name}{self.label}"


class Building(LocatedPoint):
    """A building plate (楼牌, 栋/幢): a number within a compound (or behind a door plate)."""

    place = models.ForeignKey(
        Place, verbose_name="小区", null=True, blank=True, on_delete=models.CASCADE, related_name="buildings"
    )
    door = models.ForeignKey(
        DoorPlate,
        verbose_name="门牌",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="buildings",
    )
    number = models.CharField("楼号", max_length=20)

    class Meta:
        verbose_name = "楼牌"
        verbose_name_plural = "楼牌"
        ordering = ["place_id", "door_id", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["place", "door", "number"], name="building_unique_number", nulls_distinct=False
            ),
            models.CheckConstraint(
                condition=models.Q(place__isnull=False) | models.Q(door__isnull=False),
                name="building_has_parent",
            ),
        ]

    @property
    def label(self) -> str:
        return f"{self.number}栋"

    def __str__(self) -> str:
        return self.label


class Poi(LocatedPoint):
    """A landmark or point of interest: name, category, point, and its door plate if known."""

    name = models.CharField("名称", max_length=100, db_index=True)
    aliases = _aliases()
    category = models.CharField("类别", max_length=50, db_index=True)
    door = models.ForeignKey(
        DoorPlate, verbose_name="门牌", null=True, blank=True, on_delete=models.SET_NULL, related_name="pois"
    )

    class Meta:
        verbose_name = "兴趣点"
        verbose_name_plural = "兴趣点"
        ordering = ["district_code", "name"]
        constraints = [models.UniqueConstraint(fields=["district_code", "name"], name="poi_unique_name")]
        indexes = [GinIndex(fields=["aliases"], name="poi_aliases_gin")]

    def __str__(self) -> str:
        return self.name


class GazetteerRevision(models.Model):
    """One row counting writes to the gazetteer tables (regions included), bumped by a trigger."""

    revision = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return str(self.revision)
