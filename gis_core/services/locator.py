"""Keeps the point-location side table (``LocatorPart``) in step with boundaries.

Called by every service that writes a region or grid boundary, inside its
transaction. Raw SQL because ST_Subdivide is a set-returning function the ORM
cannot express, and because one statement for 10,000 boundaries is ~50× faster
than saving parts one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import F

from ..models import LocatorPart, LocatorRevision

__all__ = ["LocatorItem", "locator_remove", "locator_replace"]


@dataclass(frozen=True)
class LocatorItem:
    code: str
    name: str
    level: int
    region_code: str
    wkb: bytes  # the boundary in SRID 4326, as WKB


def _bump_revision() -> None:
    updated = LocatorRevision.objects.filter(pk=1).update(revision=F("revision") + 1)
    if not updated:
        LocatorRevision.objects.get_or_create(pk=1, defaults={"revision": 1})


def locator_remove(*, layer: str, codes: Sequence[str]) -> None:
    """Drop the parts of these owners."""
    if not codes:
        return
    LocatorPart.objects.filter(layer=layer, code__in=list(codes)).delete()
    _bump_revision()


def locator_replace(*, layer: str, items: Sequence[LocatorItem]) -> None:
    """Replace the parts of these owners by their subdivided boundaries."""
    if not items:
        return
    locator_remove(layer=layer, codes=[i.code for i in items])
    max_vertices = settings.CIVGRID["LOCATOR_MAX_VERTICES"]
    table = LocatorPart._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"""
            INSERT INTO {table} (layer, code, name, level, region_code, geom)
            SELECT %s, t.code, t.name, t.level, t.region_code, part
            FROM unnest(%s::text[], %s::text[], %s::int[], %s::text[], %s::bytea[])
                 AS t(code, name, level, region_code, wkb),
                 LATERAL ST_Subdivide(ST_MakeValid(ST_GeomFromWKB(t.wkb, 4326)), %s) AS part
            WHERE GeometryType(part) = 'POLYGON'
            """,
            [
                layer,
                [i.code for i in items],
                [i.name for i in items],
                [i.level for i in items],
                [i.region_code for i in items],
                [i.wkb for i in items],
                max_vertices,
            ],
        )
