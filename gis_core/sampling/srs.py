"""Simple random sampling without replacement, for comparison with the balanced designs.

Equal probabilities: a uniformly random subset in random order. Unequal probabilities (weights,
or sites kept by the minimum-distance loop): the ordered pivotal method on a random order of
the frame, as spsurvey's ``irs()`` (independent random sampling) does, which gives exactly the
asked inclusion probabilities and no spatial structure; the sites are then put in random order.
"""

from __future__ import annotations

import numpy as np
from numpy.random import Generator

from gis_core.sampling.design import make_design
from gis_core.sampling.probs import pivotal

__all__ = ["srs"]


def _draw(xy: np.ndarray, ip: np.ndarray, rng: Generator) -> np.ndarray:
    n_frame = ip.size
    n = round(float(ip.sum()))
    if np.all(ip == ip[0]):
        return rng.permutation(n_frame)[:n]
    order = rng.permutation(n_frame)
    return rng.permutation(order[pivotal(ip[order], rng)])


srs = make_design(
    "srs",
    _draw,
    """A simple random sample of ``n_base`` sites (and ``n_over`` reserve sites); arguments as
    :func:`gis_core.sampling.grts`.""",
    __name__,
)
