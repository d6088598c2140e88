"""One vector tile (Mapbox Vector Tile) of a layer, built by PostGIS in one statement.

The layer's queryset — scoped to the caller's jurisdiction by
:func:`accounts.scoping.scope_queryset` and narrowed by the layer's filters and
the shared range filter, all in the ORM — is compiled
(``qs.query.sql_with_params()``, values bound, never formatted) and wrapped in
``ST_AsMVT(ST_AsMVTGeom(ST_Transform(geom, 3857), ST_TileEnvelope(z, x, y)))``.
Geometries are stored in 4326, so the candidate rows are chosen with ``&&``
against the tile's WGS84 box (grown by the buffer), which the GiST index on the
geometry column answers; only those rows are transformed.

Low zooms: a point layer declared with ``aggregate_below`` answers, below that
zoom, one point per square cell (``CIVGRID["TILE_CELLS"]`` cells across the
tile, the cells of :class:`gis_core.selectors.density.BinGrid`, aligned with
tile edges) at the mean position of its points, with ``count``. Only points
inside the tile itself are counted, so the counts of a zoom's tiles add up to
the filtered total and none is counted twice. Where the layer's model keeps counts per
cell (events: ``gis_core.selectors.density.CellCounts``) and the filters are ones the
cells keep, the tile sums them instead (same cells, counts and centroids).
Lines and polygons smaller than
``min_size_px`` screen pixels are left out (thinning); a point tile holds at
most ``CIVGRID["TILE_MAX_FEATURES"]`` points (the rest are thinned away).

The same statement reads the tile's *change stamp* (see :mod:`tiles.cache`) in
the same snapshot, so a cached tile is never newer or older than its stamp, and — for a
feature tile of a layer with ``turns`` — its *next turn*, from the very rows of the tile, so
it is exactly when the colours the tile was built with would change.
"""

from __future__ import annotations

import math
import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.gis.geos import Polygon
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import F, QuerySet

from gis_core.api.ranges import range_filter_from_params
from gis_core.errors import InvalidInput
from gis_core.selectors.density import BinGrid, cell_bins_sql

from ..registry import TileLayer
from ..tilemath import Tile

__all__ = [
    "BUFFER",
    "EXTENT",
    "NOW_SQL",
    "RenderedTile",
    "forget_statements",
    "is_aggregated",
    "layer_queryset",
    "moves_with_clock",
    "prepared_queryset",
    "rows_key",
    "stamp_sql",
    "tile_render",
]  # fmt: skip

EXTENT = 4096  # MVT units across a tile
BUFFER = 64  # MVT units around it (1/64 of the tile)
#: the statement's time on the database's clock (the one the colours are computed with), epoch s
NOW_SQL = "extract(epoch from statement_timestamp())::float8"


@dataclass(frozen=True)
class RenderedTile:
    data: bytes
    stamp: str
    aggregated: bool
    #: when it was built: the statement's time (database clock, epoch seconds)
    at: float
    #: its next turn (epoch seconds): the tile is as built only before then; None: no turn ahead
    #: (a layer without ``turns``, an aggregated tile, or no running clock among its features)
    expires: int | None = None

    @property
    def expired(self) -> bool:
        """Built within the second of a turn (see :func:`_next_turn_sql`): not to be kept."""
        return self.expires is not None and self.expires <= self.at


def _cfg(name: str) -> int:
    return settings.CIVGRID[name]


def layer_queryset(
    layer: TileLayer, params: Mapping[str, Any], jurisdiction, memo: Hashable | None = None
) -> QuerySet:
    """The layer's rows the caller may see, narrowed by the request's filters (bad ones: 400).

    With ``memo`` (:func:`rows_key`) the queryset is kept for ``STATEMENT_SECONDS`` in this
    process and given again (a copy) for the same layer, jurisdiction and filters — already
    checked — to this path and to the lean one (:func:`prepared_queryset`)."""
    if memo is not None:
        found = prepared_queryset(memo)
        if found is not None:
            return found
    qs = _layer_queryset(layer, params, jurisdiction)
    if memo is not None:
        _keep(memo, _Prepared(time.monotonic(), qs))
    return qs


def _layer_queryset(layer: TileLayer, params: Mapping[str, Any], jurisdiction) -> QuerySet:
    unknown = sorted(set(params) - layer.accepted_params)
    if unknown:
        accepted = "、".join(sorted(layer.accepted_params)) or "无"
        raise InvalidInput(
            f"图层 {layer.name} 不支持参数 {'、'.join(unknown)}（可用：{accepted}）",
            code="unknown_filter",
            details={"unknown": unknown, "accepted": sorted(layer.accepted_params)},
        )
    qs = layer.scoped(layer.queryset(), jurisdiction)
    if layer.filters is not None:
        qs = layer.filters(qs, params)
    if layer.range_filter:
        rf = range_filter_from_params(params)
        qs = rf.apply(qs, point_field=layer.geom_field, time_field=layer.time_field)
    return qs


def _box(bounds: tuple[float, float, float, float]) -> Polygon:
    box = Polygon.from_bbox(bounds)
    box.srid = 4326
    return box


def is_aggregated(layer: TileLayer, tile: Tile) -> bool:
    """Whether the tile holds counted cells rather than the layer's features."""
    return layer.aggregate_below is not None and tile.z < layer.aggregate_below


def moves_with_clock(layer: TileLayer, tile: Tile) -> bool:
    """Whether the tile carries attributes that turn with the clock, and so an expiry."""
    return bool(layer.turns) and not is_aggregated(layer, tile)


def stamp_sql(layer: TileLayer, tile: Tile) -> tuple[str, list]:
    """SQL of the tile's change stamp, and its parameters (see :mod:`tiles.cache`): the change
    log in the tile's box (with its buffer)."""
    tables = [t for t, _ in layer.tables()]
    box = list(tile.bounds_4326(BUFFER / EXTENT))
    # two branches, so the boxed one can use the GiST index (an OR with IS NULL could not)
    sql = (
        "(SELECT count(*)::text || ':' || coalesce(sum(id), 0)::text FROM ("
        "SELECT id FROM tiles_tilechange WHERE table_name = ANY(%s) AND bbox IS NULL UNION ALL "
        "SELECT id FROM tiles_tilechange WHERE table_name = ANY(%s) "
        "AND bbox && ST_MakeEnvelope(%s, %s, %s, %s, 4326)) AS c)"
    )
    return sql, [tables, tables, *box]


def _next_turn_sql(layer: TileLayer) -> str:
    """SQL of the next turn of the tile ``t`` (an aggregate over its rows): the earliest of its
    running features' turns still ahead at the statement's time.

    The turns are whole seconds, floored: a turn at second ``f`` happens within ``[f, f + 1)``,
    so one is ahead if ``f + 1`` is, and the expiry is ``f`` — up to a second early, never late.
    A tile built within the second of a turn thus expires as soon as it is built (not kept)."""
    if not layer.turns:
        return "NULL::bigint"
    running = f't."{layer.clock_attribute}" IS NOT NULL'
    ahead = [f'min(t."{a}") FILTER (WHERE {running} AND t."{a}" + 1 > {NOW_SQL})' for a in layer.turns]
    return f"LEAST({', '.join(ahead)})"


def _compiled(qs: QuerySet) -> tuple[str, tuple] | None:
    try:
        sql, params = qs.query.sql_with_params()
    except EmptyResultSet:
        return None
    return sql, tuple(params)


#: how long a process reuses the checked queryset and the compiled rows statement of a layer for
#: one jurisdiction and set of filters (:func:`layer_queryset`, :func:`_rows_sql`)
STATEMENT_SECONDS = 5.0
_MAX_STATEMENTS = 2_000
_UNCOMPILED = object()


@dataclass
class _Prepared:
    """What the tiles of one layer, jurisdiction and set of filters share: the queryset (scoped,
    filtered, its filters checked) and, once a feature tile compiled it, its rows statement."""

    at: float
    qs: QuerySet
    rows: Any = _UNCOMPILED


_prepared: dict[Hashable, _Prepared] = {}


def rows_key(layer: TileLayer, params: Mapping[str, Any], jurisdiction) -> Hashable:
    """What the queryset and compiled rows statement of a layer depend on (the ``memo`` of
    :func:`layer_queryset` and :func:`tile_render`)."""
    return (layer.name, layer.variant, jurisdiction, tuple(sorted(params.items())), connection.alias)


def forget_statements() -> None:
    _prepared.clear()


def _fresh(memo: Hashable) -> _Prepared | None:
    found = _prepared.get(memo)
    return found if found is not None and time.monotonic() - found.at < STATEMENT_SECONDS else None


def _keep(memo: Hashable, prepared: _Prepared) -> None:
    if len(_prepared) >= _MAX_STATEMENTS:
        _prepared.clear()
    _prepared[memo] = prepared


def prepared_queryset(memo: Hashable) -> QuerySet | None:
    """A copy of the queryset :func:`layer_queryset` prepared under ``memo`` less than
    ``STATEMENT_SECONDS`` ago (its filters checked then), or None."""
    found = _fresh(memo)
    return None if found is None else found.qs.all()


def _rows_sql(layer: TileLayer, qs: QuerySet, memo: Hashable | None) -> tuple[str, tuple] | None:
    """The layer's rows of ``qs`` with the tile's columns (``tile_g`` and ``a_0``…), compiled —
    for any tile: the tile's own conditions are added around it (:func:`_features_sql`).

    Compiling the queryset (Django's query building: the scoping, the filters, the joins of
    the attributes) costs 0.2–0.6 ms of CPU, as much as PostgreSQL spends on a small tile, and
    it is the same for every tile a caller asks with the same filters. With ``memo`` (a key
    naming the layer, its variant, the jurisdiction and the filters — given by the view for
    requests whose statement does not move with the clock) it is reused for
    ``STATEMENT_SECONDS`` in this process; a jurisdiction read from the database (a region's
    boundary) is thus re-read at most that much later, as the lean path re-checks callers."""
    found = None if memo is None else _fresh(memo)
    if found is not None and found.rows is not _UNCOMPILED:
        return found.rows
    columns = {f"a_{i}": (F(v) if isinstance(v, str) else v) for i, v in enumerate(layer.attributes.values())}
    compiled = _compiled(qs.order_by().values(tile_g=F(layer.geom_field), **columns))
    if memo is not None:
        if found is None:
            found = _Prepared(time.monotonic(), qs)
            _keep(memo, found)
        found.rows = compiled
    return compiled


def _features_sql(
    layer: TileLayer, qs: QuerySet, tile: Tile, memo: Hashable | None = None
) -> tuple[str, tuple] | None:
    rows = _rows_sql(layer, qs, memo)
    if rows is None:
        return None
    sql, params = rows
    names = list(layer.attributes)
    lon0, lat0, lon1, lat1 = bounds = tile.bounds_4326(BUFFER / EXTENT)
    # the tile's conditions around the compiled rows (PostgreSQL pulls the subquery up, so the
    # box is an index condition as if written inside it)
    where, where_params = "r.tile_g && ST_MakeEnvelope(%s, %s, %s, %s, 4326)", list(bounds)
    if layer.min_size_px and layer.geometry != "point":
        # a feature narrower and lower than min_size_px of a 256-pixel tile is not drawn
        # (a degree of latitude is 1/cos(lat) mercator degrees: near the tile, a fair pixel measure)
        deg = layer.min_size_px * (lon1 - lon0) / 256 / (1 + 2 * BUFFER / EXTENT)
        where += (
            " AND (ST_XMax(r.tile_g) - ST_XMin(r.tile_g) >= %s"
            " OR ST_YMax(r.tile_g) - ST_YMin(r.tile_g) >= %s)"
        )
        where_params += [deg, deg * math.cos(math.radians((lat0 + lat1) / 2))]
    limit = ""
    if layer.geometry == "point":
        limit, where_params = " LIMIT %s", [*where_params, _cfg("TILE_MAX_FEATURES")]
    # OFFSET 0 keeps the middle query a subquery: inlined, the planner would run ST_AsMVTGeom
    # twice per row (once for the IS NOT NULL filter, once for the output)
    renamed = ", ".join(f's."a_{i}" AS "{name}"' for i, name in enumerate(names))
    fid = ', s."a_0" AS "tile_fid"' if names and names[0] == "id" else ""
    feature_id = ", 'tile_fid'" if fid else ""
    return (
        f"""SELECT ST_AsMVT(t, %s, {EXTENT}, 'geom'{feature_id}) AS mvt, {_next_turn_sql(layer)} AS expires
        FROM (
            SELECT ST_AsMVTGeom(ST_Transform(s.tile_g, 3857), ST_TileEnvelope(%s, %s, %s),
                                {EXTENT}, {BUFFER}, true) AS geom{", " + renamed if renamed else ""}{fid}
            FROM (SELECT * FROM ({sql}) AS r WHERE {where}{limit}) AS s OFFSET 0) AS t
        WHERE t.geom IS NOT NULL""",
        (layer.name, tile.z, tile.x, tile.y, *params, *where_params),
    )


def _aggregate_sql(layer: TileLayer, qs: QuerySet, tile: Tile) -> tuple[str, tuple] | None:
    cells = _cfg("TILE_CELLS")
    grid = BinGrid("square", tile.size_m / cells)
    x0, y0, _, _ = tile.bounds_3857()
    i0, j0 = round(x0 / grid.size), round(y0 / grid.size)  # exact: cells line up with tile edges
    # a model with counts kept per fine cell (events: gis_core CellCounts), at a zoom whose cells
    # are whole groups of them and under filters they keep: sum those, never touch the points
    summed = cell_bins_sql(qs, grid, point_field=layer.geom_field, within=(i0, i0 + cells, j0, j0 + cells))
    if summed is not None:
        sql, params = summed
        return (
            f"""WITH agg AS ({sql})
            SELECT ST_AsMVT(t, %s, {EXTENT}, 'geom') AS mvt, NULL::bigint AS expires FROM (
                SELECT ST_AsMVTGeom(ST_SetSRID(ST_MakePoint(x / n, y / n), 3857),
                                    ST_TileEnvelope(%s, %s, %s), {EXTENT}, 0, false) AS geom, n AS count
                FROM agg) AS t WHERE t.geom IS NOT NULL""",
            (*params, layer.name, tile.z, tile.x, tile.y),
        )
    qs = qs.filter(**{f"{layer.geom_field}__bboverlaps": _box(tile.bounds_4326())})
    compiled = _compiled(qs.order_by().values(rq_pt=F(layer.geom_field)))
    if compiled is None:
        return None
    sql, params = compiled
    return (
        # the mercator arithmetic once per point (OFFSET 0: inlined, the planner repeats it in
        # the filter, the grouping and both averages) and a hash of the cells, not a sort
        f"""WITH pts AS ({sql}), {grid.cells_sql(once=True)},
            agg AS (SELECT n, mu, mv FROM (
                        SELECT i, j, count(*) AS n, avg(u) AS mu, avg(v) AS mv FROM cells
                        GROUP BY i, j OFFSET 0) AS g
                    WHERE i >= %s AND i < %s AND j >= %s AND j < %s)
        SELECT ST_AsMVT(t, %s, {EXTENT}, 'geom') AS mvt, NULL::bigint AS expires FROM (
            SELECT ST_AsMVTGeom(ST_SetSRID(ST_MakePoint(mu * %s, mv * %s), 3857),
                                ST_TileEnvelope(%s, %s, %s), {EXTENT}, 0, false) AS geom, n AS count
            FROM agg) AS t WHERE t.geom IS NOT NULL""",
        (
            *params, grid.size, grid.size, i0, i0 + cells, j0, j0 + cells,
            layer.name, grid.size, grid.size, tile.z, tile.x, tile.y,
        ),
    )  # fmt: skip


def tile_render(layer: TileLayer, tile: Tile, qs: QuerySet, memo: Hashable | None = None) -> RenderedTile:
    """The tile of ``qs`` (already scoped and filtered: :func:`layer_queryset`), its stamp, the
    time it was built at and its next turn — one statement. ``memo``: see :func:`_rows_sql`."""
    aggregated = is_aggregated(layer, tile)
    built = _aggregate_sql(layer, qs, tile) if aggregated else _features_sql(layer, qs, tile, memo)
    # nothing can match (e.g. an empty jurisdiction): an empty tile, still stamped
    body, body_params = built or ("SELECT ''::bytea AS mvt, NULL::bigint AS expires", ())
    stamp, stamp_params = stamp_sql(layer, tile)
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT b.mvt, {stamp}, {NOW_SQL}, b.expires FROM ({body}) AS b", (*stamp_params, *body_params)
        )
        data, stamp_value, at, expires = cur.fetchone()
    return RenderedTile(bytes(data or b""), stamp_value, aggregated, at, expires)
