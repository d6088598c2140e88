"""Spatial balance of a sample with respect to its frame, as spsurvey's ``sp_balance()``
(Dumelle et al. 2023; the Voronoi statistic of Stevens & Olsen 2004, section 3).

Each sample site owns its Voronoi polygon (Dirichlet tile) clipped to the frame's bounding
box. ``v_i`` is the sum of the inclusion probabilities of the frame points inside site ``i``'s
polygon and ``p_i = v_i / sum(v)``; a perfectly balanced sample has every ``p_i = 1/n``.
For a point frame, a frame point lies in the polygon of its nearest site, so the polygons need
not be built: a k-d tree gives the same ``v_i`` (points on a boundary between two polygons go
to one of them; spsurvey's tiny buffer counts them in both).

Metrics, all 0 for perfect balance and growing as balance worsens (spsurvey's definitions):

* ``"pielou"`` (default): ``1 + sum(p_i ln p_i) / ln(n)``, i.e. one minus Pielou's evenness
  ``J = H / ln(n)`` with Shannon entropy ``H``; between 0 and 1. ``0 ln 0`` counts as 0
  (spsurvey gives NaN when a polygon holds no probability). Defined as 0 for ``n = 1``.
* ``"simpsons"``: ``sum(p_i**2) - 1/n``.
* ``"rmse"``: ``sqrt(mean((p_i - 1/n)**2))``.
"""

from __future__ import annotations

import numpy as np
import shapely
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry

from gis_core.sampling.design import check_frame
from gis_core.sampling.errors import SamplingError, both

__all__ = ["METRICS", "sp_balance", "tile_shares"]

METRICS = ("pielou", "simpsons", "rmse")


def tile_shares(
    xy: object, sample_idx: object, *, probs: object = None, extent: BaseGeometry | None = None
) -> np.ndarray:
    """``p_i``: the share of the frame's inclusion probability in each site's Voronoi tile, in
    the order of ``sample_idx``. With ``extent``, frame points outside it are left out."""
    frame = check_frame(xy)
    idx = np.asarray(sample_idx, dtype=np.int64).ravel()
    if idx.size == 0 or idx.min() < 0 or idx.max() >= frame.shape[0]:
        raise SamplingError(
            both(
                "sample indices must be a non-empty list of frame positions",
                "样本序号须为抽样框内的非空序号列表",
            ),
            code="size",
        )
    ip = np.full(frame.shape[0], idx.size / frame.shape[0]) if probs is None else np.asarray(probs, float)
    if ip.shape != (frame.shape[0],) or not np.isfinite(ip).all() or (ip < 0).any():
        raise SamplingError(
            both(
                "probs must be one non-negative probability per frame point", "入样概率须为每个框点一个非负数"
            ),
            code="weights",
        )
    sites = frame[idx]
    if extent is not None:
        inside = shapely.intersects_xy(extent, frame[:, 0], frame[:, 1])
        frame, ip = frame[inside], ip[inside]
    _, tile = cKDTree(sites).query(frame)
    v = np.bincount(tile, weights=ip, minlength=idx.size)
    total = v.sum()
    if total <= 0:
        raise SamplingError(
            both(
                "the frame holds no inclusion probability inside the extent", "范围内抽样框的入样概率总和为 0"
            ),
            code="frame",
        )
    return v / total


def sp_balance(
    xy: object,
    sample_idx: object,
    *,
    probs: object = None,
    metric: str = "pielou",
    extent: BaseGeometry | None = None,
) -> float:
    """Spatial balance of the sites ``sample_idx`` (indices into the frame ``xy``); 0 is perfect.

    ``probs``: inclusion probabilities of every frame point (default equal, as spsurvey);
    ``metric``: ``"pielou"`` (spsurvey's default), ``"simpsons"`` or ``"rmse"``; ``extent``:
    a polygon in the same coordinates limiting the frame points counted.
    """
    if metric not in METRICS:
        raise SamplingError(
            both(f"unknown balance metric {metric!r}; use one of {METRICS}", f"未知的均衡度指标 {metric!r}"),
            code="size",
        )
    p = tile_shares(xy, sample_idx, probs=probs, extent=extent)
    n = p.size
    if metric == "pielou":
        if n == 1:
            return 0.0
        nonzero = p[p > 0]
        return float(1.0 + np.sum(nonzero * np.log(nonzero)) / np.log(n))
    if metric == "simpsons":
        return float(np.sum(p**2) - 1.0 / n)
    return float(np.sqrt(np.mean((p - 1.0 / n) ** 2)))
