"""What every kind of draw shares: the design by name, the seed of a stratum, and the balance
of a stratum's sites beside the mean balance of simple random samples of the same size."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from gis_core.errors import InvalidInput
from gis_core.sampling import SamplingError, bas, grts, sp_balance, srs

from ..models import DrawMethod

__all__ = ["SAMPLERS", "balance", "sampling_error", "srs_balance_mean", "stratum_seed"]

SAMPLERS = {DrawMethod.GRTS: grts, DrawMethod.BAS: bas, DrawMethod.SRS: srs}


def stratum_seed(seed: int, key: str) -> int:
    """The seed of one stratum: the draw's seed and the stratum's name through SHA-256 (63 bits)."""
    digest = hashlib.sha256(f"{seed}|{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def balance(xy: np.ndarray, idx: Sequence[int], probs: np.ndarray | None) -> float | None:
    """sp_balance, or None where it is not defined (a stratum drawn whole, or too small)."""
    if len(idx) < 1 or len(idx) >= len(xy):
        return None
    try:
        return float(sp_balance(xy, list(idx), probs=probs))
    except (SamplingError, ValueError):
        return None


def srs_balance_mean(xy: np.ndarray, n: int, *, seed: int, key: str, replicates: int) -> float | None:
    """Mean balance of ``replicates`` simple random samples of ``n`` sites from the frame ``xy``."""
    if not replicates or n >= len(xy):
        return None
    values = [
        balance(xy, srs(xy, n, seed=stratum_seed(seed, f"{key}|srs|{r}")).base, None)
        for r in range(replicates)
    ]
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def sampling_error(exc: SamplingError, label: str, spec: dict, min_distance_m: float | None) -> InvalidInput:
    """The sampler's error as the API's, naming the stratum."""
    if exc.code == "min_dist":
        return InvalidInput(
            f"层 {label} 无法满足最小间距 {min_distance_m:g} 米：最多能抽 {exc.placed} 个"
            "（可减小间距或抽取数，或设 allow_partial=true 尽量多抽）",
            code="min_distance_unmet",
            details={"stratum": spec["key"], "placed": exc.placed, "asked": spec["n"] + spec["n_over"]},
        )
    return InvalidInput(f"层 {label}：{exc.message}", code=f"sampling_{exc.code}")
