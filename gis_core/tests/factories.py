"""factory_boy factories and geometry helpers for gis_core tests.

Geometries are GEOS with an explicit SRID 4326 (what the models store); the
services take shapely, so :func:`to_shapely` converts. Regions are written
through :func:`~gis_core.services.regions.regions_upsert`, never saved
directly, so their boundary versions and locator parts exist as in production.
"""

from __future__ import annotations

import factory
import shapely
from django.contrib.gis.geos import GEOSGeometry
from django.contrib.gis.geos import MultiPolygon as GEOSMultiPolygon
from django.contrib.gis.geos import Polygon as GEOSPolygon
from shapely.geometry.base import BaseGeometry

from gis_core.models import LocatorRevision, Region
from gis_core.services.regions import RegionInput, regions_upsert

__all__ = [
    "FAR_POINT",
    "FAR_STREET_CODE",
    "CommunityFactory",
    "locator_revision",
    "square",
    "to_geos",
    "to_shapely",
]

#: 东华门街道 (北京市东城区): a real street far from the demo city, without geometry in the test DB.
FAR_STREET_CODE = "110101001000"
#: a point inside 东华门街道 (WGS84)
FAR_POINT = (116.400, 39.915)


def square(lon: float, lat: float, half: float = 0.002) -> GEOSMultiPolygon:
    """An axis-aligned square of ``2 * half`` degrees around (lon, lat), SRID 4326."""
    ring = (
        (lon - half, lat - half),
        (lon + half, lat - half),
        (lon + half, lat + half),
        (lon - half, lat + half),
        (lon - half, lat - half),
    )
    return GEOSMultiPolygon(GEOSPolygon(ring, srid=4326), srid=4326)


def to_shapely(geom: GEOSGeometry) -> BaseGeometry:
    assert geom.srid == 4326, geom.srid
    return shapely.from_wkb(bytes(geom.wkb))


def to_geos(geom: BaseGeometry) -> GEOSGeometry:
    return GEOSGeometry(memoryview(shapely.to_wkb(geom)), srid=4326)


def locator_revision() -> int:
    return LocatorRevision.objects.filter(pk=1).values_list("revision", flat=True).first() or 0


class CommunityFactory(factory.Factory):
    """A community (社区, level 5) under a real street, with a boundary (or none: ``geom=None``)."""

    class Meta:
        model = Region

    class Params:
        street_code = FAR_STREET_CODE
        serial = factory.Sequence(lambda n: 901 + n % 99)

    code = factory.LazyAttribute(lambda o: f"{o.street_code[:9]}{o.serial:03d}")
    name = factory.Sequence(lambda n: f"测试{n}社区")
    geom = factory.LazyFunction(lambda: square(*FAR_POINT))
    valid_from = None

    @classmethod
    def _build(cls, model_class, *args, **kwargs):
        raise NotImplementedError("regions exist only through regions_upsert: use create()")

    @classmethod
    def _create(cls, model_class, *, code: str, name: str, geom, valid_from=None, **kwargs) -> Region:
        regions_upsert(
            items=[RegionInput(code=code, name=name, geom=to_shapely(geom) if geom is not None else None)],
            valid_from=valid_from,
            source="test",
        )
        return model_class.objects.get(code=code)
