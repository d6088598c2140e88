"""What the offline base map draws, read from the project's own tables for one map box.

Everything comes back in EPSG:3857 (the frame the map is drawn in), simplified
in the database to a quarter of a pixel so a city-wide view stays light. The
base map is the shared background of every user, like a Tianditu layer: it is
not scoped by jurisdiction (region outlines, road names and landmarks), and it
is served only to signed-in callers.
"""

from __future__ import annotations

from dataclasses import dataclass

import shapely
from django.db import connection
from shapely.geometry.base import BaseGeometry

__all__ = ["BaseMapData", "basemap_data"]


@dataclass(frozen=True)
class BaseMapData:
    land: list[BaseGeometry]  # district polygons: where there is data
    boundaries: list[tuple[int, BaseGeometry]]  # (level, polygon) of districts, streets, communities
    labels: list[tuple[int, str, tuple[float, float]]]  # (level, name, point) of regions
    roads: list[tuple[str, str, BaseGeometry]]  # (kind, name, line)
    pois: list[tuple[str, str, tuple[float, float]]]  # (category, name, point)


_BOX = "ST_Transform(ST_MakeEnvelope(%s, %s, %s, %s, 3857), 4326)"


def _rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def basemap_data(bbox: tuple[float, float, float, float], px_m: float, zoom: float) -> BaseMapData:
    """The features of the base map inside ``bbox`` (EPSG:3857) at ``px_m`` metres per pixel."""
    tol = px_m / 4
    box = list(bbox)
    geo = "ST_AsBinary(ST_SimplifyPreserveTopology(ST_Transform(geom, 3857), %s))"
    # the deepest levels drawn at this zoom: districts always, streets from 12, communities from 14
    levels = [3] + ([4] if zoom >= 12 else []) + ([5] if zoom >= 14 else [])
    regions = _rows(
        f"SELECT level, name, {geo}, ST_AsBinary(ST_Transform(ST_PointOnSurface(geom), 3857)) "
        f"FROM gis_core_region WHERE geom IS NOT NULL AND level = ANY(%s) AND geom && {_BOX}",
        [tol, levels, *box],
    )
    min_kind = ["avenue"] if zoom < 12 else (["avenue", "road"] if zoom < 14 else None)
    road_filter = "AND kind = ANY(%s)" if min_kind else ""
    roads = _rows(
        f"SELECT kind, name, {geo} FROM geocoding_street WHERE geom && {_BOX} {road_filter}",
        [tol, *box, *([min_kind] if min_kind else [])],
    )
    pois = (
        _rows(
            "SELECT category, name, ST_AsBinary(ST_Transform(geom, 3857)) FROM geocoding_poi "
            f"WHERE geom && {_BOX} ORDER BY id LIMIT 2000",
            box,
        )
        if zoom >= 15
        else []
    )
    land, boundaries, labels = [], [], []
    for level, name, wkb, point in regions:
        geom = shapely.from_wkb(bytes(wkb))
        if level == 3:
            land.append(geom)
        boundaries.append((level, geom))
        p = shapely.from_wkb(bytes(point))
        labels.append((level, name, (p.x, p.y)))
    return BaseMapData(
        land=land,
        boundaries=boundaries,
        labels=labels,
        roads=[(kind, name, shapely.from_wkb(bytes(wkb))) for kind, name, wkb in roads],
        pois=[(cat, name, _xy(wkb)) for cat, name, wkb in pois],
    )


def _xy(wkb) -> tuple[float, float]:
    p = shapely.from_wkb(bytes(wkb))
    return p.x, p.y
