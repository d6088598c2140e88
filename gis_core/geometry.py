"""Geometry helpers shared by every app: polygon checks, repair, ground areas.

Pure shapely/pyproj (no Django). Areas are geodesic on the WGS84 ellipsoid
(pyproj.Geod), exact to the ellipsoid model — not planar areas in degrees.
"""

from __future__ import annotations

import math

import shapely
from pyproj import Geod
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

__all__ = [
    "CHINA_BOUNDS",
    "GeometryProblem",
    "geodesic_area_m2",
    "polygonal",
]

_GEOD = Geod(ellps="WGS84")
# generous lon/lat box around China's territory: catches swapped axes and
# projected coordinates passed as degrees
CHINA_BOUNDS = (73.0, 3.0, 136.0, 54.0)


class GeometryProblem(ValueError):
    """The geometry cannot be used as a boundary; the message says why (Chinese)."""


def geodesic_area_m2(geom: BaseGeometry) -> float:
    """Area on the WGS84 ellipsoid in m² of a lon/lat (Multi)Polygon, whatever its ring orientation."""
    # pyproj sums the signed areas of all rings: orient shells CCW and holes CW first
    area, _ = _GEOD.geometry_area_perimeter(shapely.orient_polygons(geom))
    return abs(area)


def _polygon_parts(geom: BaseGeometry) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [geom]
    if hasattr(geom, "geoms"):
        return [p for g in geom.geoms for p in _polygon_parts(g)]
    return []


def polygonal(geom: BaseGeometry | None, *, repair: bool = False, check_bounds: bool = True) -> MultiPolygon:
    """Return ``geom`` as a valid MultiPolygon, or raise GeometryProblem.

    With ``repair`` an invalid polygon goes through ``make_valid`` and keeps
    its polygonal parts (lines and points that repair may produce are dropped).
    """
    if geom is None or geom.is_empty:
        raise GeometryProblem("缺少几何图形")
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise GeometryProblem(f"几何类型应为面（Polygon/MultiPolygon），实际为 {geom.geom_type}")
    coords = shapely.get_coordinates(geom)
    if not all(math.isfinite(v) for v in coords.ravel()):
        raise GeometryProblem("坐标含有非数值（NaN/Infinity）")
    if check_bounds:
        minx, miny, maxx, maxy = geom.bounds
        bx0, by0, bx1, by1 = CHINA_BOUNDS
        if minx < bx0 or maxx > bx1 or miny < by0 or maxy > by1:
            raise GeometryProblem(
                f"坐标范围 ({minx:.4f}, {miny:.4f}, {maxx:.4f}, {maxy:.4f}) 不在中国境内经纬度范围，"
                "请检查坐标系或经纬度是否颠倒"
            )
    if not geom.is_valid:
        if not repair:
            raise GeometryProblem(f"几何图形无效：{shapely.is_valid_reason(geom)}")
        geom = shapely.make_valid(geom)
    parts = [p for p in _polygon_parts(geom) if not p.is_empty and p.area > 0]
    if not parts:
        raise GeometryProblem("几何图形面积为零")
    return MultiPolygon(parts)
