"""Heatmaps (热力图) and point clusters (点聚合) aggregated in the database.

Both take any queryset of a point layer, already scoped to the caller's
jurisdiction and narrowed by the range filter, and compile its SQL
(``qs.query.sql_with_params()``, parameters bound, never formatted) into a CTE:
the scoping and the filters are the ORM's, not re-implemented here. Only the
bins leave the database, never the points, so the cost is one scan of the
filtered rows however many there are.

Bins live in web-mercator metres (EPSG:3857), computed arithmetically from the
WGS84 coordinates (the same formula ST_Transform uses, without building a
geometry per row). That is the frame the map is drawn in, so a bin of
``bin_px`` pixels at a zoom level is exactly that many pixels on screen, and
the grid is global (origin 0,0), so bins stay put while the map pans. On the
ground a mercator metre is cos(latitude) metres (within 0.1 % for the
ellipsoid): a bin's ground size is exact at the reference latitude and off by
< 1 % one degree of latitude away.

Square bins are ``floor(x / size)`` (ST_SnapToGrid's cells, numbered as
``ST_Square(size, i, j)``); hexagonal bins are flat-topped with edge ``size``,
numbered as PostGIS ``ST_HexagonGrid`` / ``ST_Hexagon(size, i, j)`` number
them (PostGIS ≥ 3.1). Each point falls in exactly one bin (a point on a shared
edge is given to one side by the rounding), so the bin counts add up to the
filtered count; ``ST_Intersects`` against a generated grid would count it twice.

The grouping is a ``MATERIALIZED`` CTE, sorted and cut to the bin limit outside it.
The planner cannot estimate how many bins there will be (it assumes one per row),
so with ``ORDER BY … LIMIT`` on the aggregate itself it chose to sort every point
and group the sorted stream, for the first rows early; planned on its own, the
aggregate is a hash over the scan and only the bins are sorted — 2–3× faster on a
million events (BENCHMARKS.md, "Events").

Clusters are the same cells (60 pixels by default) reported as the centroid,
count and bbox of their points, and the id of a lone point: stable, one scan,
and fast at any size; ST_ClusterKMeans would need every row in memory and a
fresh ``k`` per view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import shapely
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import F, QuerySet
from shapely.geometry.base import BaseGeometry

from ..errors import InvalidInput

__all__ = [
    "MAX_LAT",
    "BinGrid",
    "Cluster",
    "DensityBin",
    "Heatmap",
    "clusters",
    "heatmap",
    "mercator_to_lonlat",
]

EARTH_R = 6_378_137.0  # EPSG:3857 sphere radius
MAX_LAT = 85.05112878  # web-mercator latitude limit
#: web-mercator metres per pixel at zoom 0 with 256-pixel tiles
MPP_ZOOM0 = 2 * math.pi * EARTH_R / 256
MAX_ZOOM = 24
SHAPES = ("square", "hex")

_X = f"{EARTH_R} * radians(ST_X(rq_pt))"
_Y = f"{EARTH_R} * ln(tan(pi() / 4 + radians(LEAST(GREATEST(ST_Y(rq_pt), -{MAX_LAT}), {MAX_LAT})) / 2))"


def mercator_to_lonlat(x: float, y: float) -> tuple[float, float]:
    return math.degrees(x / EARTH_R), math.degrees(2 * math.atan(math.exp(y / EARTH_R)) - math.pi / 2)


@dataclass(frozen=True)
class BinGrid:
    """Square or hexagonal bins of ``size`` web-mercator metres (a hexagon's edge, a square's side)."""

    shape: str
    size: float

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise InvalidInput(
                f"shape 应为 square 或 hex，实际为“{self.shape}”", details={"shape": self.shape}
            )
        if not (math.isfinite(self.size) and 1.0 <= self.size <= 2_000_000.0):
            raise InvalidInput(
                f"分箱边长应在 1 米到 2000 公里之间，实际为 {self.size:g}", details={"size": self.size}
            )

    @classmethod
    def for_zoom(cls, shape: str, zoom: float, bin_px: float = 32) -> BinGrid:
        """Bins ``bin_px`` screen pixels wide at web-map zoom ``zoom`` (256-pixel tiles)."""
        return cls(shape, MPP_ZOOM0 / 2**zoom * bin_px)

    @classmethod
    def for_ground(cls, shape: str, metres: float, lat: float) -> BinGrid:
        """Bins ``metres`` wide on the ground at latitude ``lat``."""
        return cls(shape, metres / math.cos(math.radians(min(abs(lat), MAX_LAT))))

    def ground_size_m(self, lat: float) -> float:
        return self.size * math.cos(math.radians(min(abs(lat), MAX_LAT)))

    def centre(self, i: int, j: int) -> tuple[float, float]:
        """Centre of bin (i, j), WGS84 lon/lat."""
        s = self.size
        if self.shape == "square":
            return mercator_to_lonlat((i + 0.5) * s, (j + 0.5) * s)
        return mercator_to_lonlat(1.5 * s * i, math.sqrt(3) * s * (j + (0.5 if i % 2 else 0.0)))

    def cells_sql(self) -> str:
        """CTEs from ``pts(rq_pt, …)`` to ``cells(…, i, j)``; two placeholders, both the size."""
        xy = f"SELECT pts.*, {_X} / %s AS u, {_Y} / %s AS v FROM pts WHERE rq_pt IS NOT NULL"
        if self.shape == "square":
            return (
                f"xy AS ({xy}), cells AS (SELECT xy.*, floor(u)::bigint AS i, floor(v)::bigint AS j FROM xy)"
            )
        # Axial coordinates of flat-topped hexagons, cube rounding, then PostGIS's offset columns
        # (odd columns shifted up half a row): see www.redblobgames.com/grids/hexagons.
        # OFFSET 0 keeps each step a subquery of its own: inlined, every mention of q or r would
        # recompute ST_X/ST_Y and the mercator logarithm (5× slower on 2M points).
        return f"""xy AS ({xy} OFFSET 0),
            ax AS (SELECT xy.*, 2.0 / 3 * u AS q, (sqrt(3.0) * v - u) / 3 AS r FROM xy OFFSET 0),
            rn AS (SELECT ax.*, round(q) AS rq, round(r) AS rr, round(-q - r) AS rs FROM ax OFFSET 0),
            hx AS (SELECT rn.*,
                CASE WHEN abs(rq - q) > abs(rr - r) AND abs(rq - q) > abs(rs + q + r) THEN -rr - rs
                     ELSE rq END AS hq,
                CASE WHEN abs(rq - q) > abs(rr - r) AND abs(rq - q) > abs(rs + q + r) THEN rr
                     WHEN abs(rr - r) > abs(rs + q + r) THEN -rq - rs
                     ELSE rr END AS hr
                FROM rn OFFSET 0),
            cells AS (SELECT hx.*, hq::bigint AS i, (hr + floor(hq / 2.0))::bigint AS j FROM hx)"""

    def polygon_sql(self) -> str:
        """SQL of bin (i, j) as a WGS84 polygon (WKB); one placeholder, the size."""
        fn = "ST_Square" if self.shape == "square" else "ST_Hexagon"
        return (
            f"ST_AsBinary(ST_Transform({fn}(%s, i::int, j::int, ST_SetSRID(ST_MakePoint(0, 0), 3857)), 4326))"
        )


@dataclass(frozen=True)
class DensityBin:
    i: int
    j: int
    lon: float  # centre, WGS84
    lat: float
    count: int
    weight: float | None
    polygon: BaseGeometry | None = None  # WGS84


@dataclass(frozen=True)
class Heatmap:
    grid: BinGrid
    bins: list[DensityBin]
    count: int  # = the filtered count (points without a location are not binned)
    weight: float | None


@dataclass(frozen=True)
class Cluster:
    lon: float  # centroid of the member points, WGS84
    lat: float
    count: int
    bbox: tuple[float, float, float, float]
    id: Any = None  # primary key of a lone point


def _points_cte(qs: QuerySet, columns: dict[str, Any]) -> tuple[str, tuple] | None:
    """``pts`` as the queryset's own SQL (None if the queryset is empty by construction)."""
    inner = qs.order_by().values(**columns)
    try:
        sql, params = inner.query.sql_with_params()
    except EmptyResultSet:
        return None
    return f"WITH pts AS ({sql})", tuple(params)


def _run(qs: QuerySet, sql: str, params: tuple) -> list[tuple]:
    with connections[qs.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _check_bins(rows: list, limit: int) -> None:
    if len(rows) > limit:
        raise InvalidInput(
            f"分箱过多（超过 {limit} 个）：请放大地图、缩小范围或加大分箱",
            code="too_many_bins",
            details={"max": limit},
        )


def heatmap(
    qs: QuerySet,
    grid: BinGrid,
    *,
    point_field: str = "geom",
    weight_field: str | None = None,
    polygons: bool = False,
    max_bins: int = 50_000,
) -> Heatmap:
    """Counts (and the sum of ``weight_field``) of the points of ``qs`` per bin of ``grid``."""
    columns: dict[str, Any] = {"rq_pt": F(point_field)}
    if weight_field:
        columns["rq_w"] = F(weight_field)
    head = _points_cte(qs, columns)
    if head is None:
        return Heatmap(grid, [], 0, 0.0 if weight_field else None)
    cte, params = head
    weight = "sum(rq_w)::float8" if weight_field else "NULL::float8"
    sql = f"""{cte}, {grid.cells_sql()},
        bins AS MATERIALIZED (SELECT i, j, count(*) AS n, {weight} AS w FROM cells GROUP BY i, j)
        SELECT i, j, n, w FROM bins ORDER BY i, j LIMIT %s"""
    params = (*params, grid.size, grid.size, max_bins + 1)
    if polygons:  # the polygon's placeholder comes first in the statement
        sql = f"SELECT b.*, {grid.polygon_sql()} FROM ({sql}) AS b ORDER BY i, j"
        params = (grid.size, *params)
    rows = _run(qs, sql, params)
    _check_bins(rows, max_bins)
    bins = []
    for row in rows:
        i, j, n, w = row[:4]
        lon, lat = grid.centre(i, j)
        bins.append(
            DensityBin(
                i=i,
                j=j,
                lon=lon,
                lat=lat,
                count=n,
                weight=float(w or 0.0) if weight_field else None,
                polygon=shapely.from_wkb(bytes(row[4])) if polygons else None,
            )
        )
    total_weight = sum(b.weight for b in bins) if weight_field else None  # type: ignore[misc]
    return Heatmap(grid, bins, sum(b.count for b in bins), total_weight)


def clusters(
    qs: QuerySet, grid: BinGrid, *, point_field: str = "geom", max_clusters: int = 50_000
) -> list[Cluster]:
    """The points of ``qs`` gathered per bin of ``grid``: centroid, count, bbox (biggest first)."""
    head = _points_cte(qs, {"rq_pt": F(point_field), "rq_id": F("pk")})
    if head is None:
        return []
    cte, params = head
    sql = f"""{cte}, {grid.cells_sql()},
        bins AS MATERIALIZED (
            SELECT i, j, count(*) AS n, avg(ST_X(rq_pt)) AS x, avg(ST_Y(rq_pt)) AS y,
                   min(ST_X(rq_pt)) AS x0, min(ST_Y(rq_pt)) AS y0, max(ST_X(rq_pt)) AS x1,
                   max(ST_Y(rq_pt)) AS y1, (array_agg(rq_id))[1] AS id
            FROM cells GROUP BY i, j)
        SELECT n, x, y, x0, y0, x1, y1, id FROM bins ORDER BY n DESC, i, j LIMIT %s"""
    rows = _run(qs, sql, (*params, grid.size, grid.size, max_clusters + 1))
    _check_bins(rows, max_clusters)
    return [
        Cluster(lon, lat, n, (x0, y0, x1, y1), pk if n == 1 else None)
        for n, lon, lat, x0, y0, x1, y1, pk in rows
    ]
