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

__all__ = ["EPS", "MAX_CELLS", "Area", "CellCover", "cell_cover", "cell_key", "merge_runs"]

EARTH_R = 6_378_137.0
MAX_LAT = 85.05112878
EPS = 1e-7  # degrees (~1 cm): the rounding margin around a cell
#: cells of a shape's bbox tested at most (~0.1 s of shapely); a bigger shape is left to the scan
MAX_CELLS = 600_000


def cell_key(i, j):
    """One integer per cell (i, j), as the SQL of :mod:`gis_core.selectors.density` computes it."""
    return np.asarray(i, dtype=np.int64) * 4_294_967_296 + np.asarray(j, dtype=np.int64)


@dataclass(frozen=True)
class CellCover:
    """The cells of a shape: ``runs`` of inside cells (row ``j``, columns ``a``..``b``,
    inclusive), the keys (:func:`cell_key`) of the edge cells, and ``boxes``: lon/lat
    rectangles (grown by ``EPS``) holding every edge cell, merged so that an index can find
    their points with few probes."""

    size: float
    run_j: np.ndarray
    run_a: np.ndarray
    run_b: np.ndarray
    edge_keys: np.ndarray
    boxes: list[tuple[float, float, float, float]]

    @property
    def inside_cells(self) -> int:
        return int((self.run_b - self.run_a + 1).sum())


def _lon(x: np.ndarray) -> np.ndarray:
    return np.degrees(x / EARTH_R)


def _lat(y: np.ndarray) -> np.ndarray:
    return np.degrees(2 * np.arctan(np.exp(y / EARTH_R)) - math.pi / 2)


def _index(lon: float, lat: float, size: float) -> tuple[int, int]:
    lat = min(max(lat, -MAX_LAT), MAX_LAT)
    x = EARTH_R * math.radians(lon)
    y = EARTH_R * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
    return math.floor(x / size), math.floor(y / size)


def _runs(mask: np.ndarray) -> list[tuple[int, int, int]]:
    """(row, first column, last column) of each run of True in a 2-D mask (rows × columns)."""
    padded = np.zeros((mask.shape[0], mask.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    rows, cols = np.nonzero(np.diff(padded, axis=1))
    starts, ends = cols[0::2], cols[1::2] - 1
    return list(zip(rows[0::2].tolist(), starts.tolist(), ends.tolist(), strict=True))


def cell_cover(inner: BaseGeometry, outer: BaseGeometry, size: float) -> CellCover | None:
    """The cells of ``size`` map metres that ``inner`` holds wholly and the other cells that
    ``outer`` meets (both WGS84; see the module docstring), or None when the bbox of
    ``outer`` spans more than :data:`MAX_CELLS` cells."""
    x0, y0, x1, y1 = outer.bounds
    i0, j0 = _index(x0, y0, size)
    i1, j1 = _index(x1, y1, size)
    ni, nj = i1 - i0 + 1, j1 - j0 + 1
    if ni * nj > MAX_CELLS:
        return None
    lon_edges = _lon(np.arange(i0, i1 + 2) * size)
    lat_edges = _lat(np.arange(j0, j1 + 2) * size)
    # boxes row by row (j), columns (i) within a row
    west = np.tile(lon_edges[:-1], nj) - EPS
    east = np.tile(lon_edges[1:], nj) + EPS
    south = np.repeat(lat_edges[:-1], ni) - EPS
    north = np.repeat(lat_edges[1:], ni) + EPS
    boxes = shapely.box(west, south, east, north)
    shapely.prepare(inner)
    shapely.prepare(outer)
    inside = shapely.contains_properly(inner, boxes).reshape(nj, ni)
    edge = (shapely.intersects(outer, boxes).reshape(nj, ni)) & ~inside
    runs = _runs(inside)
    run_j = np.array([j0 + r for r, _, _ in runs], dtype=np.int64)
    run_a = np.array([i0 + a for _, a, _ in runs], dtype=np.int64)
    run_b = np.array([i0 + b for _, _, b in runs], dtype=np.int64)
    rows, cols = np.nonzero(edge)
    edge_keys = cell_key(i0 + cols, j0 + rows)
    rects = []
    for r0, r1, a, b in merge_runs(_runs(edge)):
        rects.append(
            (
                float(lon_edges[a] - EPS),
                float(lat_edges[r0] - EPS),
                float(lon_edges[b + 1] + EPS),
                float(lat_edges[r1 + 1] + EPS),
            )
        )
    return CellCover(size, run_j, run_a, run_b, edge_keys, rects)


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
    (WGS84), and ``narrow(qs, point_field)``, the exact test the range itself applies."""

    inner: BaseGeometry
    outer: BaseGeometry
    narrow: Callable[[Any, str], Any]
