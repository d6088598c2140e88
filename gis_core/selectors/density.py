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

Pre-aggregated counts (:class:`CellCounts`): a point model may register a table of
counts per fine square cell kept on write (events do: ``events.EventCell``). A heatmap
of square bins that are whole powers of two of those cells, with no weight and only
filters the cells can answer (:func:`cell_queryset`: lookups on the columns the cells
carry, the time window on whole periods), sums the cells instead of scanning the points
— the same bins and the same counts, from a table a few per cent of the size. A time
window with an edge inside the cells' periods (to the minute) sums its whole periods and
reads only the points of the part-periods at its edges (:func:`_window_cells_sql`).
*Fallback* cells (``CellCounts.fallback``: keyed for filters the others do not keep, such as
a category) are asked last, and only for bins. Any other request (hexagons, a weight, a
filter no table keeps …) takes the scan.

Clusters are the same bins (64 pixels by default) reported as the centroid,
count and bbox of their points, and the id of a lone point: stable, one scan,
and fast at any size; ST_ClusterKMeans would need every row in memory and a
fresh ``k`` per view. Square bins that are powers of two of registered cells are
summed from the cells like heatmaps (centroids from the cells' coordinate sums,
extents from their squares, lone points looked up by position).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import shapely
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import BooleanField, F, Func, Model, Q, QuerySet
from django.db.models.expressions import Col
from django.db.models.lookups import Lookup
from django.db.models.sql.where import WhereNode
from shapely.geometry.base import BaseGeometry

from ..cellcover import Area, CellCover, cell_cover, grouped_boxes
from ..errors import InvalidInput
from ..mercator import EARTH_R, MAX_LAT, mercator_to_lonlat

__all__ = [
    "MAX_LAT",
    "BinGrid",
    "CellCounts",
    "Cluster",
    "DensityBin",
    "Heatmap",
    "area_count",
    "cell_bins_sql",
    "cell_queryset",
    "clusters",
    "heatmap",
    "mercator_to_lonlat",
    "register_cell_counts",
    "registered_cells",
]

#: web-mercator metres per pixel at zoom 0 with 256-pixel tiles
MPP_ZOOM0 = 2 * math.pi * EARTH_R / 256
MAX_ZOOM = 24
SHAPES = ("square", "hex")
#: edge rectangles probed through the spatial index at most (one bitmap scan each); a shape
#: with a more ragged edge is counted by the scan
MAX_EDGE_BOXES = 2_000
#: more edge rectangles than this at a fine level: the coarser level's (fewer, larger) find the points
FEW_EDGE_BOXES = 256
#: lone points (bins counted from cells holding one point) looked up per statement
LONE_BATCH = 500
#: inside cells making at most this many rectangles are read by plain ranges, more run by run
FEW_RECTANGLES = 4
#: a shape holding less than this in whole cells (map m²; ~24 cells of 32 px at zoom 14, ~1.7 km²
#: on the ground at 29°N, a circle of ~1 km) is counted from its points: there the two are as
#: quick (BENCHMARKS.md, "Events"), and the scan has no fixed cost
MIN_INSIDE_M2 = 24 * 305.748113140705**2

_X = f"{EARTH_R} * radians(ST_X(rq_pt))"
_Y = f"{EARTH_R} * ln(tan(pi() / 4 + radians(LEAST(GREATEST(ST_Y(rq_pt), -{MAX_LAT}), {MAX_LAT})) / 2))"


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

    def cells_sql(self, *, once: bool = False) -> str:
        """CTEs from ``pts(rq_pt, …)`` to ``cells(…, i, j)``; two placeholders, both the size.

        ``once``: square bins computed in a subquery of their own (``OFFSET 0``), so the
        coordinates are worked out once per point however often the caller reads ``u``, ``v``,
        ``i`` and ``j`` — for a few tens of thousands of points (a tile); it also keeps the
        scan serial, which a city-wide heatmap of millions would miss."""
        xy = f"SELECT pts.*, {_X} / %s AS u, {_Y} / %s AS v FROM pts WHERE rq_pt IS NOT NULL"
        if self.shape == "square":
            barrier = " OFFSET 0" if once else ""
            return (
                f"xy AS ({xy}{barrier}), "
                f"cells AS (SELECT xy.*, floor(u)::bigint AS i, floor(v)::bigint AS j FROM xy{barrier})"
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


@dataclass(frozen=True)
class CellCounts:
    """Counts of a point model per square cell of ``size`` map metres, kept on write.

    ``model`` has ``i``, ``j`` (``floor(x / size)``, as :meth:`BinGrid.cells_sql`) and ``n``,
    and the ``fields`` of the point model it is keyed by, under the same names (so a filter
    on them means the same on both tables). ``time_field`` is one of them, truncated to the
    start of its ``time_unit`` (``day`` or ``month``) in ``tz``: a time window on whole periods only.

    ``prefixes``: (field of the point model, field of the cells, length) — a ``startswith``
    lookup on the former with a value of at most that many characters means the same on the
    latter (a unit grid's code begins with its community's, CJ/T 213: a jurisdiction of regions
    scopes cells keyed by community). ``fallback`` cells are asked only after the model's
    others, and only for bins (heatmaps, tiles), not for ranges' edges or statistics: tables
    keyed for the filters the others do not keep, larger than the others for the filters they do.
    """

    model: type[Model]
    size: float
    fields: frozenset[str]
    point_field: str = "geom"
    time_field: str | None = None
    time_unit: str = "month"
    tz: str = "Asia/Shanghai"
    prefixes: tuple[tuple[str, str, int], ...] = ()
    fallback: bool = False

    def period_start(self, moment: datetime, *, after: bool = False) -> datetime:
        """The start of the period holding ``moment`` (aware), or with ``after`` the first start
        at or after it."""
        zone = ZoneInfo(self.tz)
        day = moment.astimezone(zone).date()
        if self.time_unit == "month":
            day = day.replace(day=1)
        start = datetime.combine(day, time(), zone)
        if after and start != moment:
            month = self.time_unit == "month"
            start = datetime.combine(
                (day + timedelta(days=32)).replace(day=1) if month else day + timedelta(days=1), time(), zone
            )
        return start

    def aligned(self, moment: datetime) -> bool:
        """Whether ``moment`` starts a period of the cells (a window edge they can answer)."""
        if (
            not isinstance(moment, datetime)
            or moment.tzinfo is None
            or self.time_unit not in ("day", "month")
        ):
            return False
        return self.period_start(moment) == moment


#: per point model, its cell tables, coarsest first
_CELLS: dict[type[Model], list[CellCounts]] = {}


def register_cell_counts(point_model: type[Model], cells: CellCounts) -> None:
    """Let heatmaps of ``point_model`` sum ``cells`` when the request allows (see :func:`heatmap`).
    A model may keep several tables of cells; each should be a power of two of the next finer.
    Of two tables of one size, the one without a time field is asked first (it has fewer rows:
    the periods summed); the one with it answers the time windows."""
    tables = [c for c in _CELLS.get(point_model, []) if c.model is not cells.model] + [cells]
    _CELLS[point_model] = sorted(tables, key=lambda c: (c.fallback, -c.size, c.time_field is not None))


def _cell_q(node: WhereNode, cells: CellCounts, base: str) -> Q | None:
    """The condition ``node`` (of a query on the point model) as a Q on the cells, or None
    when some part of it reads what the cells do not keep (another column, a join, an
    expression, a time edge inside a period)."""
    parts = []
    for child in node.children:
        if isinstance(child, WhereNode):
            q = _cell_q(child, cells, base)
        elif isinstance(child, Lookup) and isinstance(child.lhs, Col) and child.lhs.alias == base:
            q = _lookup_q(child, cells)
        else:
            q = None
        if q is None:
            return None
        parts.append(q)
    out = Q()
    out.connector = node.connector
    out.children = parts
    return ~out if node.negated else out


def _lookup_q(lookup: Lookup, cells: CellCounts) -> Q | None:
    field = lookup.lhs.target
    name, kind, value = field.name, lookup.lookup_name, lookup.rhs
    if hasattr(value, "resolve_expression") or hasattr(value, "get_compiler"):  # F(), subqueries
        return None
    if field.primary_key:  # only the "nothing" of an empty jurisdiction: pk IN ()
        empty = kind == "in" and isinstance(value, list | tuple | set | frozenset) and not value
        return Q(pk__in=[]) if empty else None
    if name not in cells.fields:
        alias = next(((to, width) for on, to, width in cells.prefixes if on == name), None)
        if alias and kind == "startswith" and isinstance(value, str) and len(value) <= alias[1]:
            return Q(**{f"{alias[0]}__startswith": value})
        return None
    if name == cells.time_field and not (kind in ("gte", "lt") and cells.aligned(value)):
        return None
    return Q(**{f"{name}__{kind}": value})


def cell_queryset(qs: QuerySet, cells: CellCounts) -> QuerySet | None:
    """The cells counting exactly the rows of ``qs``, or None if ``qs`` filters on anything else."""
    query = qs.query
    if (
        query.distinct
        or query.combinator
        or query.low_mark
        or query.high_mark is not None
        or query.group_by is not None
        or query.extra
    ):
        return None
    q = _cell_q(query.where, cells, query.get_initial_alias())
    return None if q is None else cells.model.objects.using(qs.db).filter(q)


def registered_cells(
    qs: QuerySet, *, point_field: str = "geom", period: tuple[str, str, str] | None = None
) -> tuple[CellCounts, QuerySet] | None:
    """The model's coarsest :class:`CellCounts` answering ``qs`` and its cells counting exactly
    the rows of ``qs``, or None (no cells registered, or a filter none of them keep): for counts
    that need no finer place than a cell (statistics by region or by period). ``period``
    (time field, unit, time zone): only cells kept per that period."""
    for cells, found in _levels(qs, point_field):
        if period is None or (cells.time_field, cells.time_unit, cells.tz) == period:
            return cells, found
    return None


def _levels(qs: QuerySet, point_field: str) -> list[tuple[CellCounts, QuerySet]]:
    """Every registered cell table of the model that answers ``qs`` (coarsest first), with its
    cells counting exactly the rows of ``qs``."""
    out = []
    for cells in _CELLS.get(qs.model, []):
        if cells.fallback:
            continue
        if point_field == cells.point_field and (found := cell_queryset(qs, cells)) is not None:
            out.append((cells, found))
    return out


def _cell_factor(grid: BinGrid, cells: CellCounts) -> int | None:
    """log2 of how many cells wide a bin is, if it is exactly a power of two (None otherwise):
    then ``i >> k`` is the bin's floor(x / size) bit for bit (a division by 2^k is exact)."""
    if grid.shape != "square" or grid.size < cells.size:
        return None
    k = round(math.log2(grid.size / cells.size))
    return k if cells.size * 2**k == grid.size else None


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


def _points_sql(
    qs: QuerySet, grid: BinGrid, point_field: str, weight_field: str | None, max_bins: int
) -> tuple[str, tuple] | None:
    columns: dict[str, Any] = {"rq_pt": F(point_field)}
    if weight_field:
        columns["rq_w"] = F(weight_field)
    head = _points_cte(qs, columns)
    if head is None:
        return None
    cte, params = head
    weight = "sum(rq_w)::float8" if weight_field else "NULL::float8"
    sql = f"""{cte}, {grid.cells_sql()},
        bins AS MATERIALIZED (SELECT i, j, count(*) AS n, {weight} AS w FROM cells GROUP BY i, j)
        SELECT i, j, n, w FROM bins ORDER BY i, j LIMIT %s"""
    return sql, (*params, grid.size, grid.size, max_bins + 1)


def _answering_cells(
    qs: QuerySet, grid: BinGrid, point_field: str
) -> tuple[CellCounts, int, QuerySet] | None:
    """The model's coarsest cells of which bins of ``grid`` are whole powers of two and that
    answer ``qs``, log2 of a bin's width in them, and the cells counting exactly the rows of
    ``qs`` — or None when no cells can answer bins of ``grid`` for ``qs``. The fallback cells
    come last: they answer only what no other table does."""
    for cells in _CELLS.get(qs.model, []):
        shift = _cell_factor(grid, cells) if point_field == cells.point_field else None
        if shift is not None and (found := cell_queryset(qs, cells)) is not None:
            return cells, shift, found
    return None


def cell_bins_sql(
    qs: QuerySet,
    grid: BinGrid,
    *,
    point_field: str = "geom",
    within: tuple[int, int, int, int] | None = None,
) -> tuple[str, tuple] | None:
    """SQL of the bins of ``grid`` summed from the model's registered :class:`CellCounts`:
    columns ``i, j, n`` and ``x, y`` (the sums of the points' mercator metres), only bins
    with points; None when the cells cannot answer (see :func:`heatmap`). ``within``
    (i0, i1, j0, j1) keeps the bins with i0 ≤ i < i1 and j0 ≤ j < j1 (a tile)."""
    answering = _answering_cells(qs, grid, point_field)
    if answering is None:
        return None
    _, shift, found = answering
    if within is not None:
        i0, i1, j0, j1 = (v << shift for v in within)
        found = found.filter(i__gte=i0, i__lt=i1, j__gte=j0, j__lt=j1)
    try:
        sql, params = found.order_by().values("i", "j", "n", "sum_x", "sum_y").query.sql_with_params()
    except EmptyResultSet:  # the scan path answers "nothing" the same way
        return None
    return (
        f"""SELECT c.i::bigint >> %s AS i, c.j::bigint >> %s AS j, sum(c.n)::bigint AS n,
            sum(c.sum_x) AS x, sum(c.sum_y) AS y FROM ({sql}) AS c GROUP BY 1, 2 HAVING sum(c.n) > 0""",
        (shift, shift, *params),
    )


def _cells_sql(qs: QuerySet, grid: BinGrid, point_field: str, max_bins: int) -> tuple[str, tuple] | None:
    """The heatmap as a sum of pre-aggregated cells, or None when they cannot answer it."""
    built = cell_bins_sql(qs, grid, point_field=point_field)
    if built is None:
        return None
    sql, params = built
    return (
        f"""WITH bins AS MATERIALIZED ({sql})
        SELECT i, j, n, NULL::float8 AS w FROM bins ORDER BY i, j LIMIT %s""",
        (*params, max_bins + 1),
    )


def _window(qs: QuerySet, field: str) -> tuple[QuerySet, datetime | None, datetime | None] | None:
    """``qs`` without its time window on ``field`` (the ``gte``/``lt`` lookups of the range
    filter, at the top of its conditions) and the window's edges, or None without one."""
    where = qs.query.where
    if where.connector != "AND" or where.negated:
        return None
    edges: dict[str, Any] = {}
    keep = []
    for k, child in enumerate(where.children):
        if (
            isinstance(child, Lookup)
            and isinstance(child.lhs, Col)
            and child.lhs.alias == qs.query.get_initial_alias()
            and child.lhs.target.name == field
            and child.lookup_name in ("gte", "lt")
            and child.lookup_name not in edges
            and isinstance(child.rhs, datetime)
            and child.rhs.tzinfo is not None
        ):
            edges[child.lookup_name] = child.rhs
        else:
            keep.append(k)
    if not edges:
        return None
    base = qs.all()
    base.query.where.children = [base.query.where.children[k] for k in keep]
    return base, edges.get("gte"), edges.get("lt")


def _between(qs: QuerySet, field: str, lo: datetime | None, hi: datetime | None) -> QuerySet:
    """``qs`` with ``lo`` ≤ ``field`` < ``hi`` (None: no bound), as the range filter writes it."""
    qs = qs if lo is None else qs.filter(**{f"{field}__gte": lo})
    return qs if hi is None else qs.filter(**{f"{field}__lt": hi})


def _window_cells_sql(
    qs: QuerySet, grid: BinGrid, point_field: str, max_bins: int
) -> tuple[str, tuple] | None:
    """A heatmap under a time window with an edge inside the cells' periods (the last 7 days
    to this minute): the whole periods inside the window summed from the cells, the two
    slivers at its edges (less than a period each) from their points. None when no cells
    kept by period answer the rest of the filters, or the window holds no whole period."""
    periods = [c for c in _CELLS.get(qs.model, []) if c.time_field is not None]
    for cells in sorted(periods, key=lambda c: c.time_unit != "day"):  # the shortest edges first
        if cells.point_field != point_field or _cell_factor(grid, cells) is None:
            continue
        found = _window(qs, cells.time_field)
        if found is None:
            return None
        base, since, until = found
        inner_since = None if since is None else cells.period_start(since, after=True)
        inner_until = None if until is None else cells.period_start(until)
        if inner_since is not None and inner_until is not None and inner_since >= inner_until:
            continue  # no whole period inside: a finer one may have one
        field = cells.time_field
        whole = _cells_sql(_between(base, field, inner_since, inner_until), grid, point_field, max_bins)
        if whole is None:
            continue
        parts = [whole]
        for lo, hi in ((since, inner_since), (inner_until, until)):  # the part-periods at the edges
            if lo is not None and hi is not None and lo < hi:
                parts.append(_points_sql(_between(base, field, lo, hi), grid, point_field, None, max_bins))
        parts = [p for p in parts if p is not None]
        sql = " UNION ALL ".join(f"({part})" for part, _ in parts)
        return (
            f"""SELECT i, j, sum(n)::bigint AS n, NULL::float8 AS w FROM ({sql}) AS u
            GROUP BY i, j ORDER BY i, j LIMIT %s""",
            (*(p for _, params in parts for p in params), max_bins + 1),
        )
    return None


class _InBoxes(Func):
    """``col && box1 OR col && box2 …`` (WGS84 boxes): one bitmap index scan a box. Written out
    directly: a Q of hundreds of ``bboverlaps`` lookups costs more to build than to run."""

    output_field = BooleanField()

    def __init__(self, field: str, boxes: list[tuple[float, float, float, float]]) -> None:
        super().__init__(F(field))
        self.boxes = boxes

    def as_sql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        probe = f"{column} && ST_MakeEnvelope(%s, %s, %s, %s, 4326)"
        values = [value for box in self.boxes for value in (*params, *(float(v) for v in box))]
        return "(" + " OR ".join([probe] * len(self.boxes)) + ")", tuple(values)


#: the columns of a cell row (and of a point row) for clusters: the sums of the members' mercator
#: metres, their extent (a cell's square; a point itself) and the id of a point row
_DETAIL_COLUMNS = "sx, sy, x0, y0, x1, y1, id"


#: the detail columns of a cell row (cell table alias ``c``): four placeholders, each the cells' size
_CELL_DETAIL = (
    "c.sum_x, c.sum_y, c.i * %s::float8, c.j * %s::float8, (c.i + 1) * %s::float8, "
    "(c.j + 1) * %s::float8, NULL::bigint"
)


def _area_rows_sql(
    qs: QuerySet,
    levels: list[tuple[CellCounts, QuerySet]],
    area: Area,
    point_field: str,
    shift: int = 0,
    *,
    detail: bool = False,
) -> tuple[str, tuple] | None:
    """SQL of a CTE ``cellrows(ci, cj, n)`` adding up to the points of ``qs`` inside ``area``:
    one row per cell of the coarsest level (``levels``: cell tables answering ``qs``, coarsest
    first, each a power of two of the next) lying wholly inside it, then, within the cells its
    edge crosses, one per finer cell lying wholly inside, and one per point (``n`` = 1, tested
    exactly by ``area.narrow``) of the finest cells the edge crosses. ``ci, cj`` are the bins
    ``shift`` powers of two coarser than the coarsest level. None when the area is too large
    to split into cells or nothing of it is whole cells (a small shape: the scan is as quick).
    The cost follows the area's perimeter at the finest level, not its area
    (:mod:`gis_core.cellcover`). ``detail``: the rows also carry :data:`_DETAIL_COLUMNS`
    (for clusters)."""
    covers: list[tuple[CellCounts, QuerySet, CellCover, int]] = []
    within = None
    for cells, found in levels if area.refine else levels[:1]:
        if covers:  # a finer level: only along the coarser one's edge, if it is a power of two finer
            ratio = covers[-1][0].size / cells.size
            k = round(math.log2(ratio)) if ratio > 1 else -1
            if k < 1 or cells.size * 2**k != covers[-1][0].size:
                continue
            within = (covers[-1][2].edge_keys, k)
        cover = cell_cover(area.inner, area.outer, cells.size, within=within, classify=area.classify)
        if cover is None:
            break
        bins = shift + round(math.log2(levels[0][0].size / cells.size))
        covers.append((cells, found, cover, bins))
    inside_m2 = sum(c.inside_cells * cells.size**2 for cells, _, c, _ in covers)
    if not covers or inside_m2 < MIN_INSIDE_M2:
        return None  # little of it is whole cells: reading its points costs no more
    # the edge's points: found through the spatial index by the finest level's edge rectangles
    # (or, when those are too many, by the level above's: a superset, the cell test decides)
    finest = covers[-1]
    boxes = finest[2].boxes
    if len(boxes) > FEW_EDGE_BOXES and len(covers) > 1:  # one box per coarser edge cell instead
        k = round(math.log2(covers[-2][0].size / finest[0].size))
        boxes = grouped_boxes(finest[2].edge_keys, finest[0].size, k)
    if len(boxes) > MAX_EDGE_BOXES:
        return None
    band_cte = "WITH pts AS (SELECT NULL::geometry AS rq_pt, NULL::bigint AS rq_id WHERE false)"
    band_params: tuple = ()
    if boxes:
        near = _InBoxes(point_field, boxes)
        columns = {"rq_pt": F(point_field), "rq_id": F("pk")} if detail else {"rq_pt": F(point_field)}
        head = _points_cte(area.exact(qs.filter(near), point_field), columns)
        if head is not None:
            band_cte, band_params = head
    size = finest[0].size
    point_detail = ", x, y, x, y, x, y, rq_id" if detail else ""
    parts = [
        f"""SELECT ci >> %s, cj >> %s, 1::bigint{point_detail} FROM (
                SELECT xy.*, floor(x / %s)::bigint AS ci, floor(y / %s)::bigint AS cj FROM (
                    SELECT pts.*, {_X} AS x, {_Y} AS y FROM pts WHERE rq_pt IS NOT NULL) AS xy) AS xy
            WHERE ci * 4294967296 + cj = ANY(%s::bigint[])"""
    ]
    params: list = [*band_params, finest[3], finest[3], size, size, finest[2].edge_keys.tolist()]
    for level, (cells, found, cover, bins) in enumerate(covers):
        cell_detail = f", {_CELL_DETAIL}" if detail else ""
        sizes = [cells.size] * 4 if detail else []
        if not cover.inside_cells:
            continue
        rectangles = cover.inside_rectangles()
        if level == 0 and len(rectangles) <= FEW_RECTANGLES:  # a box, or nearly, of the coarsest
            # cells: plain ranges (a parallel scan when they hold most of the table)
            ranges = Q()
            for i0, i1, j0, j1 in rectangles:
                ranges |= Q(i__gte=i0, i__lte=i1, j__gte=j0, j__lte=j1)
            try:
                inner_sql, inner_params = (
                    found.filter(ranges).order_by().values(*_cell_columns(detail)).query.sql_with_params()
                )
            except EmptyResultSet:
                continue
            parts.append(
                f"""SELECT c.i::bigint >> %s, c.j::bigint >> %s, c.n::bigint{cell_detail}
                FROM ({inner_sql}) AS c"""
            )
            params += [bins, bins, *sizes, *inner_params]
            continue
        try:
            inner_sql, inner_params = found.order_by().values(*_cell_columns(detail)).query.sql_with_params()
        except EmptyResultSet:
            continue
        # one index range per run of inside cells (a lateral join: the planner would rather hash
        # every cell of the shape's bbox and throw most away)
        parts.append(
            f"""SELECT c.i::bigint >> %s, c.j::bigint >> %s, c.n::bigint{cell_detail}
            FROM unnest(%s::int[], %s::int[], %s::int[]) AS r(i, a, b),
            LATERAL (SELECT * FROM ({inner_sql}) AS c0 WHERE c0.i = r.i AND c0.j BETWEEN r.a AND r.b) AS c"""
        )
        runs = [cover.run_i.tolist(), cover.run_a.tolist(), cover.run_b.tolist()]
        params += [bins, bins, *sizes, *runs, *inner_params]
    union = " UNION ALL ".join(parts)
    columns = f"ci, cj, n, {_DETAIL_COLUMNS}" if detail else "ci, cj, n"
    return f"{band_cte}, cellrows({columns}) AS ({union})", tuple(params)


def _cell_columns(detail: bool) -> tuple[str, ...]:
    return ("i", "j", "n", "sum_x", "sum_y") if detail else ("i", "j", "n")


def _area_cells_sql(
    qs: QuerySet, grid: BinGrid, point_field: str, area: Area, max_bins: int
) -> tuple[str, tuple] | None:
    """The heatmap of the points of ``qs`` inside ``area`` from the cells wholly inside it and
    the points along its edge (:func:`_area_rows_sql`), or None when the cells cannot answer."""
    answering = _answering_cells(qs, grid, point_field)
    if answering is None:
        return None
    top, shift, found = answering
    if top.fallback:  # asked last: no other table answers; its whole cells, its edge cells' points
        levels = [(top, found)]
    else:
        levels = [(c, f) for c, f in _levels(qs, point_field) if c.size <= top.size]
    rows = _area_rows_sql(qs, levels, area, point_field, shift)
    if rows is None:
        return None
    sql, params = rows
    return (
        f"""{sql},
        bins AS MATERIALIZED (SELECT ci AS i, cj AS j, sum(n)::bigint AS n FROM cellrows
                 GROUP BY 1, 2 HAVING sum(n) > 0)
        SELECT i, j, n, NULL::float8 AS w FROM bins ORDER BY i, j LIMIT %s""",
        (*params, max_bins + 1),
    )


def area_count(qs: QuerySet, area: Area, *, point_field: str = "geom") -> int:
    """How many points of ``qs`` lie inside ``area`` (the same number as
    ``area.narrow(qs, point_field).count()``): from the model's registered cells wholly inside
    it and the points along its edge when the cells can answer ``qs``, else by counting."""
    levels = _levels(qs, point_field)
    rows = _area_rows_sql(qs, levels, area, point_field) if levels else None
    if rows is None:
        return area.narrow(qs, point_field).count()
    sql, params = rows
    return int(_run(qs, f"{sql} SELECT coalesce(sum(n), 0) FROM cellrows", params)[0][0])


def heatmap(
    qs: QuerySet,
    grid: BinGrid,
    *,
    point_field: str = "geom",
    weight_field: str | None = None,
    polygons: bool = False,
    max_bins: int = 50_000,
    area: Area | None = None,
) -> Heatmap:
    """Counts (and the sum of ``weight_field``) of the points of ``qs`` per bin of ``grid``.

    Sums the model's registered :class:`CellCounts` instead of scanning the points when
    the bins are square, whole powers of two of the cells, unweighted, and every filter
    of ``qs`` is one the cells answer (:func:`cell_queryset`); the answer is the same.
    ``area`` (a range's shape: :meth:`RangeFilter.split`) narrows ``qs`` to the points inside
    it, summing the cells wholly inside it when they can answer and reading only the points
    along its edge (:func:`_area_cells_sql`).
    """
    built = None
    if area is not None:
        built = _area_cells_sql(qs, grid, point_field, area, max_bins) if weight_field is None else None
        if built is None:
            qs = area.narrow(qs, point_field)
    if built is None and weight_field is None:
        built = _cells_sql(qs, grid, point_field, max_bins)
    if built is None and weight_field is None and area is None:
        built = _window_cells_sql(qs, grid, point_field, max_bins)
    if built is None:
        built = _points_sql(qs, grid, point_field, weight_field, max_bins)
    if built is None:
        return Heatmap(grid, [], 0, 0.0 if weight_field else None)
    sql, params = built
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
    qs: QuerySet,
    grid: BinGrid,
    *,
    point_field: str = "geom",
    max_clusters: int = 50_000,
    area: Area | None = None,
) -> list[Cluster]:
    """The points of ``qs`` gathered per bin of ``grid``: centroid, count, bbox (biggest first).

    The centroid is the mean of the members' web-mercator metres (the map's frame), as WGS84.
    Square bins that are whole powers of two of the model's registered :class:`CellCounts`
    are summed from the finest cells answering ``qs`` (as :func:`heatmap` does); their bbox is
    then the extent of the members' cells — at most one cell wider on each side than the
    points' own (events: ~33 m with the fine cells; ~270 m with the month cells, which answer
    time windows, and within a shape, whose whole coarse cells are summed) — and a lone
    point is looked up by its position (exact point, bbox and id). Otherwise one scan of the
    points: the bbox is theirs exactly.
    ``area`` (a range's shape) narrows ``qs`` to the points inside it, from the cells wholly
    inside it and the points along its edge when the cells can answer.
    """
    built = _cell_clusters_sql(qs, grid, point_field, area)
    if built is None:
        if area is not None:
            qs = area.narrow(qs, point_field)
        built = _point_clusters_sql(qs, grid, point_field)
    if built is None:
        return []
    sql, params = built
    rows = _run(qs, f"{sql} ORDER BY n DESC, ci, cj LIMIT %s", (*params, max_clusters + 1))
    _check_bins(rows, max_clusters)
    lone = _lone_points(
        qs, grid, point_field, [(r[0], r[1]) for r in rows if r[2] == 1 and r[9] is None], area
    )
    found = []
    for ci, cj, n, sx, sy, x0, y0, x1, y1, pk in rows:
        if n == 1 and pk is None and (ci, cj) in lone:
            pk, lon, lat = lone[ci, cj]
            found.append(Cluster(lon, lat, 1, (lon, lat, lon, lat), pk))
            continue
        lon, lat = mercator_to_lonlat(sx / n, sy / n)
        west, south = mercator_to_lonlat(x0, y0)
        east, north = mercator_to_lonlat(x1, y1)
        found.append(Cluster(lon, lat, n, (west, south, east, north), pk if n == 1 else None))
    return found


#: ``SELECT``-able columns of a clusters statement: the bin, count, sums, extent, a lone id
_CLUSTER_BINS = """bins AS MATERIALIZED (
            SELECT ci, cj, sum(n)::bigint AS n, sum(sx) AS sx, sum(sy) AS sy, min(x0) AS x0,
                   min(y0) AS y0, max(x1) AS x1, max(y1) AS y1, max(id) AS id
            FROM cellrows GROUP BY ci, cj HAVING sum(n) > 0)
        SELECT ci, cj, n, sx, sy, x0, y0, x1, y1, id FROM bins"""


def _point_clusters_sql(qs: QuerySet, grid: BinGrid, point_field: str) -> tuple[str, tuple] | None:
    """Clusters by one scan of the points of ``qs`` (any shape of bins)."""
    head = _points_cte(qs, {"rq_pt": F(point_field), "rq_id": F("pk")})
    if head is None:
        return None
    cte, params = head
    sql = f"""{cte}, {grid.cells_sql()},
        cellrows(ci, cj, n, {_DETAIL_COLUMNS}) AS (
            SELECT i, j, 1::bigint, u * %s, v * %s, u * %s, v * %s, u * %s, v * %s, rq_id FROM cells),
        {_CLUSTER_BINS}"""
    return sql, (*params, grid.size, grid.size, *[grid.size] * 6)


def _cell_clusters_sql(
    qs: QuerySet, grid: BinGrid, point_field: str, area: Area | None
) -> tuple[str, tuple] | None:
    """Clusters from the finest registered cells of which the bins are whole powers of two and
    that answer ``qs`` (inside ``area``: its whole cells and its edge's points), or None."""
    levels = []
    for cells, found in _levels(qs, point_field):
        if (shift := _cell_factor(grid, cells)) is not None:
            levels.append((cells, found, shift))
    if not levels and (answering := _answering_cells(qs, grid, point_field)) is not None:
        cells, shift, found = answering  # a fallback table alone (a category's clusters)
        levels = [(cells, found, shift)]
    if not levels:
        return None
    if area is not None:
        shift = levels[0][2]
        rows = _area_rows_sql(qs, [(c, f) for c, f, _ in levels], area, point_field, shift, detail=True)
        return None if rows is None else (f"{rows[0]}, {_CLUSTER_BINS}", rows[1])
    cells, found, shift = levels[-1]
    try:
        inner, params = found.order_by().values(*_cell_columns(True)).query.sql_with_params()
    except EmptyResultSet:
        return None
    sql = f"""WITH cellrows(ci, cj, n, {_DETAIL_COLUMNS}) AS (
            SELECT c.i::bigint >> %s, c.j::bigint >> %s, c.n::bigint, {_CELL_DETAIL} FROM ({inner}) AS c),
        {_CLUSTER_BINS}"""
    return sql, (shift, shift, *[cells.size] * 4, *params)


def _lone_points(
    qs: QuerySet, grid: BinGrid, point_field: str, keys: list[tuple[int, int]], area: Area | None
) -> dict[tuple[int, int], tuple[Any, float, float]]:
    """The point of ``qs`` (inside ``area``) alone in each square bin ``keys`` (counted from
    cells, so known only by its cell): ``(i, j) → (pk, lon, lat)``, found through the spatial
    index by the bins' own squares, a few hundred a statement."""
    out: dict[tuple[int, int], tuple[Any, float, float]] = {}
    s = grid.size
    for at in range(0, len(keys), LONE_BATCH):
        batch = keys[at : at + LONE_BATCH]
        boxes = []
        for i, j in batch:
            west, south = mercator_to_lonlat(i * s, j * s)
            east, north = mercator_to_lonlat((i + 1) * s, (j + 1) * s)
            boxes.append((west, south, east, north))
        near = qs.filter(_InBoxes(point_field, boxes))
        if area is not None:
            near = area.exact(near, point_field)
        head = _points_cte(near, {"rq_pt": F(point_field), "rq_id": F("pk")})
        if head is None:
            return out
        cte, params = head
        sql = f"""{cte}, {grid.cells_sql()}
            SELECT i, j, rq_id, ST_X(rq_pt), ST_Y(rq_pt) FROM cells
            WHERE i * 4294967296 + j = ANY(%s::bigint[])"""
        wanted = [i * 4294967296 + j for i, j in batch]
        for i, j, pk, lon, lat in _run(qs, sql, (*params, s, s, wanted)):
            out[i, j] = (pk, lon, lat)
    return out
