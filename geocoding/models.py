"""Address gazetteer (GB/T 37149-2018 address elements). This issue brings streets."""

from __future__ import annotations

from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField

__all__ = ["Street", "StreetKind"]


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
    aliases = ArrayField(
        models.CharField(max_length=100), verbose_name="别名/曾用名", default=list, blank=True
    )
    kind = models.CharField("类型", max_length=8, choices=StreetKind.choices)
    district_code = models.CharField("区县代码", max_length=12, db_index=True)
    geom = models.MultiLineStringField("中心线", srid=4326)
    length_m = models.FloatField("长度（米）", editable=False)

    class Meta:
        verbose_name = "道路"
        verbose_name_plural = "道路"
        ordering = ["district_code", "name"]
        constraints = [models.UniqueConstraint(fields=["district_code", "name"], name="street_unique_name")]

    class Scope:  # read by accounts.scoping: a street is seen where it runs
        geom_field = "geom"

    def __str__(self) -> str:
        return self.name
