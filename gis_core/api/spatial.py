"""Building blocks shared by every spatial endpoint: crs-aware output geometry,
simplification for map display, and the view mixin that parses the shared
parameters (``crs``, ``bbox``, ``simplify``) once.
"""

from __future__ import annotations

import shapely
from django.contrib.gis.db.models.functions import GeomOutputGeoFunc
from django.contrib.gis.geos import GEOSGeometry, Polygon
from django.db.models import F
from rest_framework_gis.fields import GeometryField

from .. import crs as crs_mod
from .params import parse_bbox, parse_crs, parse_simplify

__all__ = ["CRSGeometryField", "Multi", "SimplifyPreserveTopology", "SpatialViewMixin"]

METRES_PER_DEGREE = 111_320.0  # of latitude; tolerance conversion is approximate by design


class SimplifyPreserveTopology(GeomOutputGeoFunc):
    function = "ST_SimplifyPreserveTopology"


class Multi(GeomOutputGeoFunc):
    function = "ST_Multi"


class CRSGeometryField(GeometryField):
    """GeoJSON geometry in the ``crs`` the request asked for (storage stays WGS84)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("precision", 7)
        super().__init__(*args, **kwargs)

    def to_representation(self, value):
        crs = self.context.get("crs", "wgs84")
        if value is not None and crs != "wgs84":
            geom = crs_mod.transform_geometry(shapely.from_wkb(bytes(value.wkb)), crs, inverse=True)
            value = GEOSGeometry(memoryview(shapely.to_wkb(geom)), srid=4326)
        return super().to_representation(value)


class SpatialViewMixin:
    """Parses ``crs``, ``bbox`` and ``simplify`` and applies them to a geometry queryset."""

    geometry_field = "geom"

    @property
    def crs(self) -> str:
        if not hasattr(self, "_crs"):
            self._crs = parse_crs(self.request.query_params.get("crs"))
        return self._crs

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["crs"] = self.crs
        return context

    def apply_spatial(self, qs):
        params = self.request.query_params
        bbox = parse_bbox(params.get("bbox"), self.crs)
        if bbox:
            qs = qs.filter(**{f"{self.geometry_field}__intersects": Polygon.from_bbox(bbox)})
        tol = parse_simplify(params.get("simplify"))
        if tol:
            simplified = SimplifyPreserveTopology(self.geometry_field, tol / METRES_PER_DEGREE)
            if qs.model._meta.get_field(self.geometry_field).geom_type.startswith("MULTI"):
                # GEOS returns a one-part MultiPolygon simplified as a Polygon: keep the declared type
                simplified = Multi(simplified)
            return qs.annotate(display_geom=simplified).defer(self.geometry_field)
        return qs.annotate(display_geom=F(self.geometry_field))
