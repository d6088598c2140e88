"""The result of a draw (:class:`Sample`), the sampler's one error type, input checks, and the
driver that the three designs (GRTS, BAS, SRS) share: validate, compute inclusion
probabilities for base + over sample, draw (honouring a minimum distance when asked), split
the draw order into base and over sites.

Semantics of the over (reserve) sample follow spsurvey's ``grts_stratum()`` (Dumelle et al.
2023, spsurvey 5): one sample of ``n_base + n_over`` sites is drawn with inclusion
probabilities for that total; the first ``n_base`` sites in draw order are the base sample, the
rest are the reserve sites in order of use; the inclusion probabilities reported are the total
ones scaled by ``n_base / (n_base + n_over)`` (spsurvey's ``ip_init * n_base / n_total``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Protocol

import numpy as np
from numpy.random import PCG64, Generator

from gis_core.sampling.errors import SamplingError, both
from gis_core.sampling.mindist import draw_with_min_dist
from gis_core.sampling.probs import cap_probabilities

__all__ = ["Design", "DrawOnce", "Sample", "check_frame", "make_design", "run_design"]

#: ``draw_once(xy, ip, rng)`` → indices of the ``round(sum(ip))`` selected points in draw order
DrawOnce = Callable[[np.ndarray, np.ndarray, Generator], np.ndarray]


@dataclass(frozen=True)
class Sample:
    """One draw. ``base`` and ``over`` index the frame; ``base`` is in draw order (reverse
    hierarchical order for GRTS, Halton order for BAS, random order for SRS), ``over`` holds the
    reserve sites in order of use. ``probs`` are the first-order inclusion probabilities of every
    frame point for the base sample (they sum to ``n_base``)."""

    base: tuple[int, ...]
    over: tuple[int, ...]
    probs: np.ndarray
    seed: int
    method: str

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sample):
            return NotImplemented
        return (
            (self.base, self.over, self.seed, self.method)
            == (other.base, other.over, other.seed, other.method)
            and self.probs.shape == other.probs.shape
            and bool(np.array_equal(self.probs, other.probs))
        )

    def __hash__(self) -> int:
        return hash((self.base, self.over, self.seed, self.method, self.probs.tobytes()))


def check_frame(xy: object) -> np.ndarray:
    """The frame as a float (n, 2) array of finite coordinates, n >= 1."""
    try:
        arr = np.asarray(xy, dtype=float)
    except (TypeError, ValueError) as exc:
        raise SamplingError(
            both(
                "the frame must be an (n, 2) array of projected coordinates",
                "抽样框须为 (n, 2) 的投影坐标数组",
            ),
            code="frame",
        ) from exc
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0:
        raise SamplingError(
            both(
                f"the frame must be a non-empty (n, 2) array of projected coordinates, got shape {arr.shape}",
                f"抽样框须为非空的 (n, 2) 投影坐标数组，实际形状为 {arr.shape}",
            ),
            code="frame",
        )
    if not np.isfinite(arr).all():
        raise SamplingError(
            both("the frame has points without valid coordinates", "抽样框中有坐标缺失或无效的点"),
            code="frame",
        )
    return arr


def _check_int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or int(value) < minimum:
        raise SamplingError(
            both(
                f"{name} must be an integer >= {minimum}, got {value!r}",
                f"{name} 须为不小于 {minimum} 的整数，实际为 {value!r}",
            ),
            code="seed" if name == "seed" else "size",
        )
    return int(value)


def _check_weights(weights: object, n_frame: int) -> np.ndarray:
    if weights is None:
        return np.ones(n_frame)
    try:
        w = np.asarray(weights, dtype=float)
    except (TypeError, ValueError) as exc:
        raise SamplingError(both("weights must be numbers", "权重须为数值"), code="weights") from exc
    if w.shape != (n_frame,):
        raise SamplingError(
            both(
                f"weights must have one value per frame point ({n_frame}), got shape {w.shape}",
                f"权重个数须与抽样框点数（{n_frame}）一致，实际形状为 {w.shape}",
            ),
            code="weights",
        )
    bad = ~np.isfinite(w) | (w <= 0)
    if bad.any():
        raise SamplingError(
            both(
                f"weights must be positive and finite; {int(bad.sum())} are not "
                f"(first at index {int(np.argmax(bad))})",
                f"权重须为有限正数；有 {int(bad.sum())} 个不符合（首个位于第 {int(np.argmax(bad))} 个）",
            ),
            code="weights",
        )
    return w


def run_design(
    method: str,
    draw_once: DrawOnce,
    xy: object,
    n_base: int,
    *,
    seed: int,
    weights: object,
    n_over: int,
    min_dist: float | None,
    max_tries: int,
    allow_fewer: bool,
) -> Sample:
    """Validate, draw ``n_base + n_over`` sites with ``draw_once``, split into base and over."""
    frame = check_frame(xy)
    n_frame = frame.shape[0]
    n_base = _check_int(n_base, "n_base", 1)
    n_over = _check_int(n_over, "n_over", 0)
    seed = _check_int(seed, "seed", 0)
    n_total = n_base + n_over
    if n_total > n_frame:
        raise SamplingError(
            both(
                f"{n_total} sites asked (base {n_base} + reserve {n_over}) "
                f"but the frame holds only {n_frame}",
                f"要求抽取 {n_total} 个点位（基本 {n_base} + 备选 {n_over}），"
                f"但抽样框只有 {n_frame} 个候选点",
            ),
            code="size",
        )
    w = _check_weights(weights, n_frame)
    if min_dist is not None and (
        isinstance(min_dist, bool)
        or not isinstance(min_dist, Real)
        or not np.isfinite(min_dist)
        or min_dist < 0
    ):
        raise SamplingError(
            both(
                f"min_dist must be a distance in metres >= 0, got {min_dist!r}",
                f"最小间距须为不小于 0 的米数，实际为 {min_dist!r}",
            ),
            code="min_dist",
        )

    rng = Generator(PCG64(seed))
    ip_total = cap_probabilities(n_total, w)
    if min_dist:
        order = draw_with_min_dist(
            frame, w, n_total, float(min_dist), rng, draw_once, max_tries=max_tries, allow_fewer=allow_fewer
        )
    else:
        order = draw_once(frame, ip_total, rng)
    order = [int(i) for i in order]
    probs = ip_total * (n_base / n_total)
    probs.setflags(write=False)
    return Sample(
        base=tuple(order[:n_base]), over=tuple(order[n_base:]), probs=probs, seed=seed, method=method
    )


class Design(Protocol):
    """The signature every design shares (see :func:`gis_core.sampling.grts`)."""

    __name__: str

    def __call__(
        self,
        xy: object,
        n_base: int,
        *,
        seed: int,
        weights: object = None,
        n_over: int = 0,
        min_dist: float | None = None,
        max_tries: int = 10,
        allow_fewer: bool = False,
    ) -> Sample: ...


def make_design(method: str, draw_once: DrawOnce, doc: str, module: str) -> Design:
    """The public function of one design: the shared signature over :func:`run_design`."""

    def design(
        xy: object,
        n_base: int,
        *,
        seed: int,
        weights: object = None,
        n_over: int = 0,
        min_dist: float | None = None,
        max_tries: int = 10,
        allow_fewer: bool = False,
    ) -> Sample:
        return run_design(
            method,
            draw_once,
            xy,
            n_base,
            seed=seed,
            weights=weights,
            n_over=n_over,
            min_dist=min_dist,
            max_tries=max_tries,
            allow_fewer=allow_fewer,
        )

    design.__name__ = design.__qualname__ = method
    design.__doc__ = doc
    design.__module__ = module
    return design
