"""The sampler's one error type. Messages are English, then Chinese, so that the API layer can
show them as they are (抽样参数错误)."""

from __future__ import annotations

__all__ = ["SamplingError", "both", "min_dist_error"]


class SamplingError(ValueError):
    """A draw that cannot be made as asked.

    ``code`` says which check failed: ``"frame"``, ``"size"``, ``"weights"``, ``"seed"`` or
    ``"min_dist"``; for ``"min_dist"``, ``placed`` is the largest number of sites the sampler
    managed to place at the asked distance.
    """

    def __init__(self, message: str, *, code: str, placed: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.placed = placed


def both(en: str, zh: str) -> str:
    return f"{en} / {zh}"


def min_dist_error(n_total: int, n_frame: int, min_dist: float, tries: int, placed: int) -> SamplingError:
    return SamplingError(
        both(
            f"cannot place {n_total} sites at least {min_dist:g} m apart in a frame of {n_frame} points "
            f"(best after {tries} tries: {placed}); lower the distance or the number of sites",
            f"无法在 {n_frame} 个候选点中抽取 {n_total} 个相距不少于 {min_dist:g} 米的点位"
            f"（尝试 {tries} 次，最多 {placed} 个）；请减小最小间距或抽取数量",
        ),
        code="min_dist",
        placed=placed,
    )
