"""A uniform-bin index answering “which polygon contains this point” for
millions of points at once. Pure numpy + shapely, no Django.

Why not ``STRtree.query(points)``: that needs a shapely Point per input point,
and making a million Points costs more than the whole lookup here. Instead
points are binned arithmetically, candidates come from a CSR table of the
polygons overlapping each bin, and the exact test is
``shapely.intersects_xy`` on prepared polygons, vectorized over (point,
candidate) pairs. A point on a shared edge or vertex intersects every polygon
touching it; the one with the smallest ``rank`` wins, so ties are resolved
deterministically by the caller's ordering.
"""

from __future__ import annotations

import numpy as np
import shapely

__all__ = ["PolygonBinIndex"]


class PolygonBinIndex:
    """Polygons (ideally small, e.g. ST_Subdivide output) binned on a regular grid.

    ``target_per_bin`` sets the bin size: about that many polygon bounding boxes
    overlap an average bin. The index is immutable; build a new one when the
    polygons change.
    """

    def __init__(self, geoms: np.ndarray, ranks: np.ndarray, *, target_per_bin: float = 2.0) -> None:
        self.geoms = np.asarray(geoms, dtype=object)
        self.ranks = np.asarray(ranks, dtype=np.int64)
        self.size = len(self.geoms)
        if self.size == 0:
            return
        shapely.prepare(self.geoms)
        bounds = shapely.bounds(self.geoms)
        self.x0, self.y0 = bounds[:, 0].min(), bounds[:, 1].min()
        x1, y1 = bounds[:, 2].max(), bounds[:, 3].max()
        # bin side from the median polygon size, so a bin holds a few polygons
        side = float(np.sqrt(np.median((bounds[:, 2] - bounds[:, 0]) * (bounds[:, 3] - bounds[:, 1]))))
        side = max(side * np.sqrt(target_per_bin), 1e-9)
        self.side = side
        self.nx = max(int(np.ceil((x1 - self.x0) / side)), 1)
        self.ny = max(int(np.ceil((y1 - self.y0) / side)), 1)
        ix0, iy0 = self._cell(bounds[:, 0], bounds[:, 1])
        ix1, iy1 = self._cell(bounds[:, 2], bounds[:, 3])
        spans_x, spans_y = ix1 - ix0 + 1, iy1 - iy0 + 1
        per_poly = spans_x * spans_y
        poly = np.repeat(np.arange(self.size), per_poly)
        # offset of each (polygon, bin) pair within its polygon's bin rectangle
        offset = np.arange(per_poly.sum()) - np.repeat(np.cumsum(per_poly) - per_poly, per_poly)
        bx = ix0[poly] + offset // spans_y[poly]
        by = iy0[poly] + offset % spans_y[poly]
        bins = bx * self.ny + by
        order = np.argsort(bins, kind="stable")
        self.members = poly[order]
        self.starts = np.searchsorted(bins[order], np.arange(self.nx * self.ny + 1))

    def _cell(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ix = np.clip(((x - self.x0) / self.side).astype(np.int64), 0, self.nx - 1)
        iy = np.clip(((y - self.y0) / self.side).astype(np.int64), 0, self.ny - 1)
        return ix, iy

    def best(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Index of the lowest-ranked polygon intersecting each point, -1 for none."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        out = np.full(len(x), -1, dtype=np.int64)
        if self.size == 0 or len(x) == 0:
            return out
        inside = np.flatnonzero(
            (x >= self.x0)
            & (y >= self.y0)
            & (x <= self.x0 + self.nx * self.side)
            & (y <= self.y0 + self.ny * self.side)
        )
        ix, iy = self._cell(x[inside], y[inside])
        b = ix * self.ny + iy
        counts = self.starts[b + 1] - self.starts[b]
        point = np.repeat(inside, counts)
        first = np.repeat(self.starts[b], counts)
        cand = self.members[first + np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)]
        hit = shapely.intersects_xy(self.geoms[cand], x[point], y[point])
        point, cand = point[hit], cand[hit]
        if len(point):
            order = np.lexsort((self.ranks[cand], point))
            keep = order[np.unique(point[order], return_index=True)[1]]
            out[point[keep]] = cand[keep]
        return out
