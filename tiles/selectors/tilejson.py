"""TileJSON 3.0 documents of the vector-tile layers (https://github.com/mapbox/tilejson-spec)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from django.contrib.gis.db.models import Extent
from django.db import connection

from ..registry import TileLayer
from ..tilemath import MAX_ZOOM

__all__ = ["layer_bounds", "layer_summary", "tilejson"]

WORLD = [-180.0, -85.0511, 180.0, 85.0511]


def _estimated_extent(layer: TileLayer) -> list[float] | None:
    """The table's extent from the planner statistics (no scan; None before ANALYZE)."""
    table, column = layer.tables()[0]
    with connection.cursor() as cur:
        try:
            cur.execute(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM ST_EstimatedExtent(%s, %s) AS e",
                [table, column],
            )
            row = cur.fetchone()
        except Exception:  # no statistics yet
            return None
    return [float(v) for v in row] if row and row[0] is not None else None


def layer_bounds(layer: TileLayer, jurisdiction, qs) -> list[float]:
    """WGS84 bounds: the jurisdiction's area, else the layer's (estimated) extent, else the world."""
    if not jurisdiction.nationwide:
        area = jurisdiction.geometry
        if area is not None:
            return [float(v) for v in area.extent]
    bounds = _estimated_extent(layer)
    if bounds is None and layer.geometry != "point":  # polygons and lines: small tables
        extent = qs.aggregate(e=Extent(layer.geom_field))["e"]
        bounds = [float(v) for v in extent] if extent else None
    return bounds or WORLD


def _template(request, layer: TileLayer, params: Mapping[str, Any]) -> str:
    base = request.build_absolute_uri(f"/tiles/{layer.name}/")
    query = urlencode({k: v for k, v in sorted(params.items()) if v not in (None, "")})
    return base + "{z}/{x}/{y}.mvt" + (f"?{query}" if query else "")


def layer_summary(request, layer: TileLayer) -> dict[str, Any]:
    return {
        "name": layer.name,
        "title": layer.title,
        "geometry": layer.geometry,
        "tilejson": request.build_absolute_uri(f"/tiles/{layer.name}.json"),
        "filters": sorted(layer.accepted_params),
    }


def tilejson(request, layer: TileLayer, params: Mapping[str, Any], jurisdiction) -> dict[str, Any]:
    qs = layer.scoped(layer.queryset(), jurisdiction)
    bounds = layer_bounds(layer, jurisdiction, qs)
    centre = [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, max(layer.minzoom, 12)]
    fields = {name: layer.fields.get(name, "String") for name in layer.attributes}
    if layer.aggregate_below is not None:
        fields["count"] = layer.fields.get("count", "Number")
    description = layer.description or layer.title
    if layer.aggregate_below is not None:
        description += f"；第 {layer.aggregate_below} 级以下按格聚合（count）"
    return {
        "tilejson": "3.0.0",
        "name": layer.name,
        "description": description,
        "version": "1.0.0",
        "scheme": "xyz",
        "tiles": [_template(request, layer, params)],
        "minzoom": layer.minzoom,
        "maxzoom": min(layer.maxzoom, MAX_ZOOM),
        "bounds": bounds,
        "center": centre,
        "vector_layers": [
            {
                "id": layer.name,
                "description": layer.title,
                "minzoom": layer.minzoom,
                "maxzoom": min(layer.maxzoom, MAX_ZOOM),
                "fields": fields,
            }
        ],
    }
