"""Minimum distance between selected sites, as spsurvey's ``grtspts_mindis()`` does it: draw,
keep the sites that respect the distance, redraw with the kept sites taken with certainty
(spsurvey treats them as legacy sites, ``grtspts_ipleg()``), up to ``max_tries`` times.

Two changes from spsurvey, both to converge faster and never to return a sample that breaks
the distance: sites are checked in draw order and a site closer than ``min_dist`` to an
already accepted one is dropped (spsurvey drops both sites of a close pair), and frame points
closer than ``min_dist`` to a kept site get probability 0 in the redraw (and if that leaves
too few points, the next try starts afresh). When the distance
still cannot be met, :class:`~gis_core.sampling.errors.SamplingError` is raised (spsurvey
warns and returns the sample anyway), unless ``allow_fewer`` asks for as many sites as fit.

The reported inclusion probabilities stay the design ones (spsurvey does the same): a
minimum distance makes the true ones unequal near dense clusters, by an amount that depends on
the frame.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.random import Generator
from scipy.spatial import cKDTree

from gis_core.sampling.errors import min_dist_error
from gis_core.sampling.probs import cap_probabilities

__all__ = ["draw_with_min_dist", "far_enough"]


def far_enough(
    xy: np.ndarray, order: np.ndarray, min_dist: float, accepted: list[int], limit: int | None = None
) -> list[int]:
    """``accepted`` extended, in ``order``, by every point at least ``min_dist`` from all
    points accepted before it (stopping at ``limit`` points)."""
    out = list(accepted)
    seen = set(out)
    chosen = xy[out] if out else np.empty((0, 2))
    for i in order:
        i = int(i)
        if limit is not None and len(out) >= limit:
            break
        if i in seen:
            continue
        if chosen.shape[0] and np.min(np.hypot(*(chosen - xy[i]).T)) < min_dist:
            continue
        out.append(i)
        seen.add(i)
        chosen = np.vstack([chosen, xy[i]])
    return out


def draw_with_min_dist(
    xy: np.ndarray,
    weights: np.ndarray,
    n_total: int,
    min_dist: float,
    rng: Generator,
    draw_once: Callable[[np.ndarray, np.ndarray, Generator], np.ndarray],
    *,
    max_tries: int,
    allow_fewer: bool,
) -> list[int]:
    """Indices of ``n_total`` sites in draw order, pairwise at least ``min_dist`` apart."""
    n_frame = xy.shape[0]
    tree = cKDTree(xy)
    kept: list[int] = []
    best: list[int] = []
    for _ in range(max(1, max_tries)):
        eligible = np.ones(n_frame, bool)
        if kept:
            for near in tree.query_ball_point(xy[kept], r=min_dist, return_sorted=False):
                eligible[near] = False
            eligible[kept] = True
        if int(eligible.sum()) < n_total:  # the kept sites block too much: start afresh
            kept = []
            eligible[:] = True
        certain = np.zeros(n_frame, bool)
        certain[kept] = True
        ip = cap_probabilities(n_total, np.where(eligible, weights, 0.0), certain)
        drawn = draw_once(xy, ip, rng)
        accepted = far_enough(xy, np.asarray([i for i in drawn if not certain[i]]), min_dist, kept)
        if len(accepted) == n_total:
            return [int(i) for i in drawn]
        kept = accepted
        if len(accepted) > len(best):
            best = accepted
    if not allow_fewer:
        raise min_dist_error(n_total, n_frame, min_dist, max_tries, len(best))
    # as many as fit: the kept sites, then any frame point still far enough, in random order
    return far_enough(xy, rng.permutation(n_frame), min_dist, best, limit=n_total)
