"""Which square web-mercator cells a shape covers wholly, and which it only touches.

Pure shapely/numpy (no Django). A point layer that keeps counts per cell (events:
``events.EventCell``) can then answer a count or a heatmap over any shape exactly by
summing the cells lying wholly inside it and reading only the points of the cells along
its edge — the cost follows the shape's perimeter, not its area.

Cells are numbered as :mod:`gis_core.selectors.density` numbers square bins:
``i = floor(x / size)``, ``j = floor(y / size)`` in EPSG:3857 metres. A cell is a
rectangle in longitude/latitude too (mercator x is linear in longitude, y monotonic in
latitude), so the shapes are tested in WGS84 as they are given.

Exactness rests on two shapes: ``inner``, lying wholly inside the true one (the range
as the database tests it), and ``outer``, holding all of it (for a polygon or a box both
are the shape itself; for a circle on the spheroid, polygons drawn a little inside and a
little outside). A cell is *inside* when ``inner`` properly contains it grown by
``EPS`` degrees (so a point the database puts in the cell, up to rounding, is in the true
shape); it is on the *edge* when ``outer`` meets it grown by ``EPS`` and it is not inside
(so a point of the true shape whose cell is not inside has its cell on the edge).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from .mercator import lonlat_to_mercator, mercator_to_lonlat

__all__ = [
    "EPS", "MAX_CELLS", "Area", "CellCover", "Classifier", "cell_cover", "cell_key", "grouped_boxes",
    "merge_runs", "shape_classifier",
]  # fmt: skip

EPS = 1e-7  # degrees (~1 cm): the rounding margin around a cell
#: cells of a shape's bbox tested at most (~0.1 s of shapely); a bigger shape is left to the scan
MAX_CELLS = 600_000


def cell_key(i, j):
    """One integer per cell (i, j), as the SQL of :mod:`gis_core.selectors.density` computes it."""
    return np.asarray(i, dtype=np.int64) * 4_294_967_296 + np.asarray(j, dtype=np.int64)


@dataclass(frozen=True)
class CellCover:
    """The cells of a shape: runs of inside cells (column ``run_i``, rows ``run_a``..``run_b``,
    inclusive), the keys (:func:`cell_key`) of the edge cells, and ``boxes``: lon/lat
    rectangles (grown by ``EPS``) holding every edge cell, merged so that an index can find
    their points with few probes."""

    size: float
    run_i: np.ndarray
    run_a: np.ndarray
    run_b: np.ndarray
    edge_keys: np.ndarray
    boxes: list[tuple[float, float, float, float]]

    def inside_rectangles(self) -> list[tuple[int, int, int, int]]:
        """The inside cells as rectangles (first, last column i; first, last row j), column runs
        merged across neighbouring columns while their rows stay the same: one for a box."""
        runs = list(zip(self.run_i.tolist(), self.run_a.tolist(), self.run_b.tolist(), strict=True))
        return [(i0, i1, a, b) for i0, i1, a, b in merge_runs(runs)]

    @property
    def inside_cells(self) -> int:
        return int((self.run_b - self.run_a + 1).sum())


def _lon(x: np.ndarray) -> np.ndarray:
    return mercator_to_lonlat(np.asarray(x), np.zeros(1))[0]


def _lat(y: np.ndarray) -> np.ndarray:
    return mercator_to_lonlat(np.zeros(1), np.asarray(y))[1]


def _index(lon: float, lat: float, size: float) -> tuple[int, int]:
    x, y = lonlat_to_mercator(lon, lat)
    return math.floor(x / size), math.floor(y / size)


def _runs(i: np.ndarray, j: np.ndarray) -> list[tuple[int, int, int]]:
    """(row j, first column, last column) of each run of consecutive cells, from cells sorted
    by row, then column."""
    if len(i) == 0:
        return []
    breaks = np.flatnonzero((np.diff(j) != 0) | (np.diff(i) != 1)) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [len(i)]]) - 1
    return list(zip(j[starts].tolist(), i[starts].tolist(), i[ends].tolist(), strict=True))


def _decode(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) of :func:`cell_key` values."""
    keys = np.asarray(keys, dtype=np.int64)
    i = (keys + 2_147_483_648) // 4_294_967_296
    return i, keys - i * 4_294_967_296


def _rectangle(shape: BaseGeometry) -> tuple[float, float, float, float] | None:
    """The bounds of ``shape`` if it is a lon/lat rectangle (a map view's bbox), else None.

    A cell grown by ``EPS`` is then properly inside it exactly when each of its sides lies
    strictly within the rectangle's, and meets it when their closed ranges overlap on both
    axes: the predicates :func:`cell_cover` asks shapely, answered without building a
    polygon per cell (~65 ms for the 17,000 coarse cells of a 40 km view)."""
    if not isinstance(shape, shapely.Polygon) or len(shape.interiors):
        return None
    ring = shapely.get_coordinates(shape.exterior)
    if len(ring) != 5:
        return None
    x0, y0, x1, y1 = shape.bounds
    on_sides = np.isin(ring[:, 0], (x0, x1)) & np.isin(ring[:, 1], (y0, y1))
    corners = {(float(x), float(y)) for x, y in ring}
    return (x0, y0, x1, y1) if on_sides.all() and len(corners) == 4 else None


Classifier = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def shape_classifier(inner: BaseGeometry, outer: BaseGeometry) -> Classifier:
    """The cells' test of two shapes (see the module docstring): the cells' west, south, east,
    north (degrees, grown by ``EPS``) → (inside, edge). Two lon/lat rectangles (a map view) are
    compared side by side; other shapes are asked of shapely, one box per cell."""
    inner_box, outer_box = _rectangle(inner), _rectangle(outer)

    def rectangles(west, south, east, north):
        x0, y0, x1, y1 = inner_box
        inside = (x0 < west) & (east < x1) & (y0 < south) & (north < y1)
        x0, y0, x1, y1 = outer_box
        return inside, (west <= x1) & (east >= x0) & (south <= y1) & (north >= y0) & ~inside

    def polygons(west, south, east, north):
        boxes = shapely.box(west, south, east, north)
        shapely.prepare(inner)
        shapely.prepare(outer)
        inside = shapely.contains_properly(inner, boxes)
        return inside, shapely.intersects(outer, boxes) & ~inside

    return rectangles if inner_box is not None and outer_box is not None else polygons


def cell_cover(
    inner: BaseGeometry,
    outer: BaseGeometry,
    size: float,
    *,
    within: tuple[np.ndarray, int] | None = None,
    classify: Classifier | None = None,
) -> CellCover | None:
    """The cells of ``size`` map metres that ``inner`` holds wholly and the other cells that
    ``outer`` meets (both WGS84; see the module docstring), or None when more than
    :data:`MAX_CELLS` cells would have to be tested.

    ``within`` (keys of coarser cells, log2 of how many of these cells they are wide): only
    the cells inside those (a finer level along a coarser level's edge); else every cell of
    the bbox of ``outer``. ``classify``: the shape's own test of the cells instead of
    :func:`shape_classifier`'s of ``inner`` and ``outer`` (a circle's:
    :class:`gis_core.ground.GroundDisc`)."""
    if within is None:
        x0, y0, x1, y1 = outer.bounds
        i0, j0 = _index(x0, y0, size)
        i1, j1 = _index(x1, y1, size)
        if (i1 - i0 + 1) * (j1 - j0 + 1) > MAX_CELLS:
            return None
        jj, ii = np.meshgrid(np.arange(j0, j1 + 1), np.arange(i0, i1 + 1), indexing="ij")
    else:
        keys, shift = within
        k = 1 << shift
        if len(keys) * k * k > MAX_CELLS:
            return None
        pi, pj = _decode(keys)
        dj, di = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
        ii = pi[:, None] * k + di.ravel()[None, :]
        jj = pj[:, None] * k + dj.ravel()[None, :]
    ii, jj = ii.ravel().astype(np.int64), jj.ravel().astype(np.int64)
    order = np.lexsort((ii, jj))  # by row, then column
    ii, jj = ii[order], jj[order]
    west, east = _lon(ii * size) - EPS, _lon((ii + 1) * size) + EPS
    south, north = _lat(jj * size) - EPS, _lat((jj + 1) * size) + EPS
    inside, edge = (classify or shape_classifier(inner, outer))(west, south, east, north)
    # the inside cells as runs down columns (i fixed, j from a to b): one range of the cells'
    # (i, j, …) key index each
    by_column = np.lexsort((jj[inside], ii[inside]))
    runs = _runs(jj[inside][by_column], ii[inside][by_column])
    run_i = np.array([c for c, _, _ in runs], dtype=np.int64)
    run_a = np.array([a for _, a, _ in runs], dtype=np.int64)
    run_b = np.array([b for _, _, b in runs], dtype=np.int64)
    merged = np.array(merge_runs(_runs(ii[edge], jj[edge])), dtype=np.float64).reshape(-1, 4)
    r0, r1, a, b = merged.T
    rects = list(
        zip(
            (_lon(a * size) - EPS).tolist(),
            (_lat(r0 * size) - EPS).tolist(),
            (_lon((b + 1) * size) + EPS).tolist(),
            (_lat((r1 + 1) * size) + EPS).tolist(),
            strict=True,
        )
    )
    return CellCover(size, run_i, run_a, run_b, cell_key(ii[edge], jj[edge]), rects)


def grouped_boxes(edge_keys: np.ndarray, size: float, shift: int) -> list[tuple[float, float, float, float]]:
    """One lon/lat rectangle (grown by ``EPS``) per cell ``shift`` powers of two coarser, holding
    the cells ``edge_keys`` (of ``size``) inside it: fewer probes than their merged runs when an
    edge wanders, and tighter than the coarse cells themselves."""
    if len(edge_keys) == 0:
        return []
    i, j = _decode(edge_keys)
    parent = cell_key(i >> shift, j >> shift)
    order = np.argsort(parent, kind="stable")
    parent, i, j = parent[order], i[order], j[order]
    starts = np.flatnonzero(np.concatenate([[True], parent[1:] != parent[:-1]]))
    i0, i1 = np.minimum.reduceat(i, starts), np.maximum.reduceat(i, starts) + 1
    j0, j1 = np.minimum.reduceat(j, starts), np.maximum.reduceat(j, starts) + 1
    west, east = _lon(i0 * size) - EPS, _lon(i1 * size) + EPS
    south, north = _lat(j0 * size) - EPS, _lat(j1 * size) + EPS
    return list(zip(west.tolist(), south.tolist(), east.tolist(), north.tolist(), strict=True))


def merge_runs(runs: list[tuple[int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Runs (row, first, last column), in row order, merged down consecutive rows while the
    columns stay the same: rectangles (first row, last row, first column, last column)."""
    open_: dict[tuple[int, int], int] = {}  # (first, last column) -> first row, open at `row`
    done: list[tuple[int, int, int, int]] = []
    row_now = None
    this_row: dict[tuple[int, int], int] = {}
    for row, a, b in runs:
        if row != row_now:
            if row_now is not None:
                for key, r0 in open_.items():  # not continued in row_now
                    done.append((r0, row_now - 1, *key))
                open_ = this_row
                if row != row_now + 1:
                    done.extend((r0, row_now, *key) for key, r0 in open_.items())
                    open_ = {}
            this_row = {}
            row_now = row
        this_row[(a, b)] = open_.pop((a, b), row)
    if row_now is not None:
        for key, r0 in open_.items():
            done.append((r0, row_now - 1, *key))
        done.extend((r0, row_now, *key) for key, r0 in this_row.items())
    return done


@dataclass(frozen=True)
class Area:
    """A range's shape as the cells see it: ``inner`` wholly inside it, ``outer`` holding it
    (WGS84), ``narrow(qs, point_field)``, the range's own filter (an index finds its rows), and
    ``exact(qs, point_field)``, the same test written for rows something else has found."""

    inner: BaseGeometry
    outer: BaseGeometry
    narrow: Callable[[Any, str], Any]
    exact: Callable[[Any, str], Any]
    #: split the coarse edge cells into finer ones: worth it for a curved or slanted edge; a box's
    #: edge cells are rectangles already, found by a few strips whatever the cells' size
    refine: bool = True
    #: the cells' test, when the shape has one of its own (see :func:`cell_cover`)
    classify: Classifier | None = None
