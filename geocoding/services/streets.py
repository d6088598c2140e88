"""Writes of streets (centre lines), split by district on write."""

from __future__ import annotations

from dataclasses import dataclass

import shapely
from django.contrib.gis.geos import GEOSGeometry
from django.db import transaction
from pyproj import Geod
from shapely.geometry import MultiLineString
from shapely.geometry.base import BaseGeometry

from gis_core.models import Region, RegionLevel

from ..models import Street

__all__ = ["StreetInput", "streets_upsert"]

_GEOD = Geod(ellps="WGS84")


@dataclass(frozen=True)
class StreetInput:
    name: str
    kind: str
    geom: BaseGeometry  # LineString or MultiLineString, WGS84


def _lines(geom: BaseGeometry) -> MultiLineString | None:
    parts = [g for g in getattr(geom, "geoms", [geom]) if g.geom_type == "LineString" and not g.is_empty]
    parts += [p for g in getattr(geom, "geoms", []) if g.geom_type == "MultiLineString" for p in g.geoms]
    return MultiLineString(parts) if parts else None


@transaction.atomic
def streets_upsert(*, items: list[StreetInput], city_code: str) -> int:
    """Cut each street by the districts of a city and store one row per district; returns rows."""
    districts = list(
        Region.objects.filter(level=RegionLevel.DISTRICT, code__startswith=city_code[:4], geom__isnull=False)
    )
    shapes = [(d.code, shapely.from_wkb(bytes(d.geom.wkb))) for d in districts]
    written = 0
    for item in items:
        for code, shape in shapes:
            if not shape.intersects(item.geom):
                continue
            piece = _lines(shapely.line_merge(shape.intersection(item.geom)))
            if piece is None:
                continue
            Street.objects.update_or_create(
                district_code=code,
                name=item.name,
                defaults={
                    "kind": item.kind,
                    "geom": GEOSGeometry(memoryview(piece.wkb), srid=4326),
                    "length_m": _GEOD.geometry_length(piece),
                },
            )
            written += 1
    return written
