"""First-order inclusion probabilities proportional to size, capped at 1, and the ordered
pivotal method that selects a fixed-size sample with exactly those probabilities.

* Capping follows spsurvey's ``grtspts_ip(type = "proportional")`` and ``grtspts_ipleg()``
  (Olsen, Kincaid, Dumelle; R package spsurvey 5): units whose probability reaches 1 are taken
  with certainty and the others are rescaled to the remaining sample size, repeatedly, until
  none exceeds 1.
* Selection is the ordered (sequential) pivotal method of Deville & Tillé (1998), "Unequal
  probability sampling without replacement through a splitting method", Biometrika 85(1),
  applied to units in a given order as spsurvey 5 does with ``UPpivotal()`` on the GRTS
  address order: neighbours in the order "fight" for probability mass, so the sample is spread
  along the order (hence in space, when the order is a space-filling one) and every unit's
  inclusion probability is exactly its ``p``.
"""

from __future__ import annotations

import numpy as np
from numpy.random import Generator

from gis_core.sampling.errors import SamplingError, both

__all__ = ["cap_probabilities", "inclusion_probabilities", "pivotal"]

#: probabilities this close to 0 or 1 are treated as 0 or 1 (float noise of the rescaling)
EPS = 1e-9


def cap_probabilities(n: int, weights: np.ndarray, certain: np.ndarray | None = None) -> np.ndarray:
    """Probabilities proportional to ``weights`` summing to ``n``, none above 1.

    ``weights`` may hold zeros (never selected); ``certain`` marks units forced to 1 (spsurvey's
    legacy sites; here also the sites already kept by the minimum-distance loop).
    """
    w = np.asarray(weights, dtype=float)
    fixed = np.zeros(w.shape, bool) if certain is None else np.asarray(certain, bool).copy()
    positive = w > 0
    if fixed.sum() > n or (positive | fixed).sum() < n:
        raise SamplingError(
            both(
                f"cannot give {n} units probabilities from {int((positive | fixed).sum())} eligible units",
                f"无法在 {int((positive | fixed).sum())} 个可抽单元中分配 {n} 个样本",
            ),
            code="size",
        )
    p = np.zeros(w.shape)
    while True:
        free = positive & ~fixed
        p[fixed] = 1.0
        rest = n - int(fixed.sum())
        p[free] = rest * w[free] / w[free].sum() if rest > 0 and free.any() else 0.0
        reached = free & (p >= 1.0 - EPS)
        if not reached.any():
            return p
        fixed |= reached


def inclusion_probabilities(n_base: int, weights: object, *, certain: object = None) -> np.ndarray:
    """First-order inclusion probabilities of a sample of ``n_base`` proportional to positive
    ``weights``, capped at 1 iteratively as spsurvey does; they sum to ``n_base``."""
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1 or w.size == 0 or not np.isfinite(w).all() or (w <= 0).any():
        raise SamplingError(
            both("weights must be a non-empty list of positive finite numbers", "权重须为非空的有限正数列表"),
            code="weights",
        )
    if isinstance(n_base, bool) or int(n_base) != n_base or not 1 <= n_base <= w.size:
        raise SamplingError(
            both(
                f"n_base must be an integer from 1 to {w.size}, got {n_base!r}",
                f"样本量须为 1 到 {w.size} 的整数，实际为 {n_base!r}",
            ),
            code="size",
        )
    return cap_probabilities(int(n_base), w, None if certain is None else np.asarray(certain, bool))


def pivotal(p: np.ndarray, rng: Generator) -> np.ndarray:
    """Positions (ascending) selected from ``p`` (probabilities in the order to follow) by the
    ordered pivotal method; ``len`` is ``round(sum(p))``. Units with ``p`` 1 are always taken,
    units with ``p`` 0 never."""
    probs = np.asarray(p, dtype=float).tolist()
    draws = rng.random(len(probs)).tolist()
    chosen: list[int] = []
    a, pa = -1, 0.0  # the unit currently holding undecided probability mass
    for b, pb in enumerate(probs):
        if pb >= 1.0 - EPS:
            chosen.append(b)
            continue
        if pb <= EPS:
            continue
        if a < 0:
            a, pa = b, pb
            continue
        s = pa + pb
        if s < 1.0:  # one of the two gets s, the other 0
            if draws[b] * s < pb:
                a = b
            pa = s
        else:  # one of the two gets 1, the other s - 1
            if draws[b] * (2.0 - s) < 1.0 - pb:
                chosen.append(a)
                a = b
            else:
                chosen.append(b)
            pa = s - 1.0
        if pa >= 1.0 - EPS:
            chosen.append(a)
            a = -1
        elif pa <= EPS:
            a = -1
    if a >= 0 and pa > 0.5:  # the last undecided mass is 0 or 1 up to float noise
        chosen.append(a)
    return np.sort(np.asarray(chosen, dtype=np.int64))
