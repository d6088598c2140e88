"""Reads of civilization units: what a caller may see (exact or coarsened), filters, density by
region (per 10,000 residents and per km²), the units near a point, and a city's figures.

Whether a caller sees families' exact points is decided once, here: with ``personal:read`` the
layer is :class:`CivilizationUnit` on ``geom``; without it, :class:`PublicCivilizationUnit` on
``public_geom`` and ``public_grid_code``. Every helper downstream (range filter, heatmap,
clusters, statistics, export, nearest) takes the layer's point field, so none can reach the
exact point of a family for a caller without the permission.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Point
from django.db.models import Count, QuerySet

from accounts.scoping import Jurisdiction, scope_queryset
from gis_core.codes import LEVEL_WIDTHS, prefix_of
from gis_core.errors import InvalidInput
from gis_core.models import Region
from gis_core.selectors.stats import count_by_region

from ..models import CivilizationUnit, PublicCivilizationUnit, RegionPopulation, UnitStatus
from ..services.units import parse_choice

__all__ = [
    "PERSONAL_SCOPE",
    "UnitLayer",
    "density_by_region",
    "population_of",
    "region_figures",
    "units_filter",
    "units_layer",
    "units_nearest",
]

PERSONAL_SCOPE = "personal:read"


@dataclass(frozen=True)
class UnitLayer:
    """The units a caller may see and which of their points: exact, or public (families coarsened)."""

    queryset: QuerySet
    public: bool

    @property
    def point_field(self) -> str:
        return "public_geom" if self.public else "geom"

    @property
    def grid_field(self) -> str:
        return "public_grid_code" if self.public else "grid_code"


def units_layer(*, jurisdiction: Jurisdiction, scopes: frozenset[str]) -> UnitLayer:
    public = PERSONAL_SCOPE not in scopes
    model = PublicCivilizationUnit if public else CivilizationUnit
    return UnitLayer(scope_queryset(model.objects.all(), jurisdiction), public)


def _int(value, name: str) -> int | None:
    if value in (None, ""):
        return None
    text = str(value).strip()
    if not text.isdigit():
        raise InvalidInput(f"参数 {name} 应为整数，实际为“{value}”", details={name: value})
    return int(text)


def units_filter(qs: QuerySet, params) -> QuerySet:
    """``type``, ``level``, ``status`` (comma-separated codes or names), ``year`` (awarded),
    ``review_year`` (due for review that year: not revoked), ``q`` (name contains)."""
    for param, field in (("type", "unit_type"), ("level", "level"), ("status", "status")):
        if value := params.get(param):
            wanted = [parse_choice(field, v) for v in str(value).split(",") if v.strip()]
            qs = qs.filter(**{f"{field}__in": wanted})
    if (year := _int(params.get("year"), "year")) is not None:
        qs = qs.filter(year_awarded=year)
    if (review := _int(params.get("review_year"), "review_year")) is not None:
        qs = qs.filter(review_year=review).exclude(status=UnitStatus.REVOKED)
    if q := str(params.get("q") or "").strip():
        qs = qs.filter(name__contains=q[:50])
    return qs


def population_of(codes: list[str], year: int | None = None) -> dict[str, int]:
    """The latest population on record (at or before ``year``) of each region."""
    rows = RegionPopulation.objects.filter(region_code__in=codes)
    if year is not None:
        rows = rows.filter(year__lte=year)
    out: dict[str, int] = {}
    for code, population in rows.order_by("region_code", "-year").values_list("region_code", "population"):
        out.setdefault(code, population)
    return out


def _ratios(count: int, population: int | None, area_m2: float | None) -> dict:
    return {
        "population": population,
        "per_10k": round(count / population * 10_000, 3) if population else None,
        "area_km2": round(area_m2 / 1e6, 3) if area_m2 else None,
        "per_km2": round(count / (area_m2 / 1e6), 4) if area_m2 else None,
    }


def density_by_region(
    qs: QuerySet,
    *,
    level: int,
    jurisdiction: Jurisdiction,
    within: str | None = None,
    year: int | None = None,
) -> list[dict]:
    """Per region of ``level`` in the jurisdiction (and under ``within``): units, population,
    units per 10,000 residents, area and units per km² (area on the spheroid, from gis_core)."""
    if level not in LEVEL_WIDTHS or level < 2:
        raise InvalidInput("level 应为 city、district、subdistrict 或 community", details={"level": level})
    regions = scope_queryset(Region.objects.filter(level=level), jurisdiction)
    if within:
        regions = regions.filter(code__startswith=prefix_of(within))
    regions = list(regions.order_by("code").values_list("code", "name", "area_m2"))
    counts = {r["code"]: r["count"] for r in count_by_region(qs, level) if r["code"]}
    population = population_of([c for c, _, _ in regions], year)
    rows = [
        {
            "code": code,
            "name": name,
            "count": counts.get(code, 0),
            **_ratios(counts.get(code, 0), population.get(code), area),
        }
        for code, name, area in regions
    ]
    rows.sort(key=lambda r: (-(r["per_10k"] or 0), -r["count"], r["code"]))
    return rows


def region_figures(layer: UnitLayer, code: str, *, year: int | None = None) -> dict:
    """A region's units (as the caller sees them) by type and level, with the density figures."""
    qs = layer.queryset.filter(**{f"{layer.grid_field}__startswith": prefix_of(code)})
    region = Region.objects.filter(code=code).values("code", "name", "level", "area_m2").first()
    total = qs.count()
    by = {}
    for field in ("unit_type", "level"):
        choices = dict(CivilizationUnit._meta.get_field(field).choices)
        rows = qs.order_by().values(field).annotate(n=Count("pk")).order_by("-n", field)
        by[field] = [
            {"key": r[field], "name": choices.get(r[field], r[field]), "count": r["n"]} for r in rows
        ]
    area = region["area_m2"] if region else None
    return {
        "code": code,
        "name": region["name"] if region else "",
        "count": total,
        "by_type": by["unit_type"],
        "by_level": by["level"],
        **_ratios(total, population_of([code], year).get(code), area),
    }


def units_nearest(layer: UnitLayer, lon: float, lat: float, *, limit: int, radius_m: float | None) -> list:
    """The ``limit`` visible units nearest a WGS84 point, with the ground distance (``distance_m``)."""
    here = Point(lon, lat, srid=4326)
    qs = layer.queryset.annotate(distance=Distance(layer.point_field, here, spheroid=True))
    if radius_m is not None:
        from gis_core.selectors.ranges import Circle, RangeFilter

        qs = RangeFilter(circle=Circle(lon, lat, radius_m)).apply(qs, point_field=layer.point_field)
    return list(qs.order_by("distance", "pk")[:limit])
