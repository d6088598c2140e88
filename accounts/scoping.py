"""Jurisdictions and the one mechanism that scopes querysets by them.

Every model that an endpoint reads declares how it is scoped, in an inner
``Scope`` class read here:

* ``grid_field`` — the row carries a unit grid code (15 digits, CJ/T 213);
* ``region_field`` — the row carries a region code (prefix match on the
  division code: 510502… lies in 江阳区);
* ``geom_field`` — the row has a geometry and no code: scoped spatially.

A model without a declaration cannot be scoped (ImproperlyConfigured), so a new
endpoint cannot forget it silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from django.contrib.gis.db.models import Union
from django.contrib.gis.geos import GEOSGeometry
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q, QuerySet

from gis_core.codes import prefix_of
from gis_core.models import LocatorLayer, LocatorPart
from gis_core.selectors.ranges import region_geometry

__all__ = ["Jurisdiction", "scope_queryset"]


@dataclass(frozen=True)
class Jurisdiction:
    nationwide: bool = False
    region_code: str | None = None
    grid_codes: tuple[str, ...] = field(default=())

    @property
    def is_empty(self) -> bool:
        return not (self.nationwide or self.region_code or self.grid_codes)

    @cached_property
    def prefixes(self) -> tuple[str, ...]:
        """Code prefixes of the regions inside the jurisdiction (communities of the grids for field staff)."""
        if self.region_code:
            return (prefix_of(self.region_code),)
        return tuple(sorted({g[:12] for g in self.grid_codes}))

    def covers_code(self, code: str) -> bool:
        """Whether a region (12 digits) or grid (15 digits) lies inside the jurisdiction."""
        if self.nationwide:
            return True
        if self.grid_codes and len(code) == 15:
            return code in self.grid_codes
        return any(code.startswith(p) for p in self.prefixes)

    def prefix_q(self, field_name: str) -> Q:
        q = Q(pk__in=[])
        for p in self.prefixes:
            q |= Q(**{f"{field_name}__startswith": p})
        return q

    @cached_property
    def geometry(self) -> GEOSGeometry | None:
        """The area of the jurisdiction (None if it has none on record)."""
        if self.grid_codes:
            parts = LocatorPart.objects.filter(layer=LocatorLayer.GRID, code__in=self.grid_codes)
            return parts.aggregate(u=Union("geom"))["u"]
        if not self.region_code:
            return None
        # a province or city without its own boundary: the union of its shallowest mapped descendants
        return region_geometry(self.region_code)


def scope_queryset(qs: QuerySet, jurisdiction: Jurisdiction) -> QuerySet:
    """``qs`` restricted to what the jurisdiction may see."""
    spec = getattr(qs.model, "Scope", None)
    if spec is None:
        raise ImproperlyConfigured(f"{qs.model.__name__} declares no Scope: it cannot be served scoped")
    if jurisdiction.nationwide:
        return qs
    if jurisdiction.is_empty:
        return qs.none()
    if grid_field := getattr(spec, "grid_field", None):
        if jurisdiction.grid_codes:
            return qs.filter(**{f"{grid_field}__in": list(jurisdiction.grid_codes)})
        return qs.filter(jurisdiction.prefix_q(grid_field))
    if region_field := getattr(spec, "region_field", None):
        return qs.filter(jurisdiction.prefix_q(region_field))
    if geom_field := getattr(spec, "geom_field", None):
        area = jurisdiction.geometry
        if area is None:
            return qs.none()
        return qs.filter(**{f"{geom_field}__intersects": area})
    raise ImproperlyConfigured(f"{qs.model.__name__}.Scope names no grid_field, region_field or geom_field")
