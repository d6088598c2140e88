"""Cleaning GPS fixes on arrival, as Traccar's FilterHandler does.

A fix is rejected, with a reason code, when it is

* ``not_finite`` — a coordinate or the time is NaN or infinite;
* ``out_of_range`` — longitude outside [-180, 180] or latitude outside [-90, 90];
* ``zero`` — exactly (0, 0), what many phones send before their first fix;
* ``invalid_fix`` — the device itself flagged the fix as invalid;
* ``low_accuracy`` — its reported accuracy radius is larger than ``max_accuracy_m``;
* ``future`` / ``too_old`` — its time lies after ``now + future_skew_s`` or before
  ``now - max_age_s``;
* ``duplicate`` — another fix of the same person has the same time (a stored one, or an
  earlier one in the same batch);
* ``speed`` — reaching it from the previous accepted fix would need more than
  ``max_speed_mps`` (a GPS jump). As in Traccar, the check is skipped when the previous
  accepted fix is older than ``skip_after_s``: after a long gap anything may have happened,
  and one bad fix must not make every later good one look like a jump.

Fixes already stored are truths: new fixes are merged with them in time order (so a late,
out-of-order batch is checked against its real neighbours), and only new ones are judged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .geo import step_distances

__all__ = ["REASONS", "CleanRules", "clean_fixes", "clean_fixes_steps"]

REASONS: dict[str, str] = {
    "not_finite": "坐标或时间不是有限数值",
    "out_of_range": "坐标超出范围（经度 -180–180，纬度 -90–90）",
    "zero": "坐标为 (0, 0)，设备尚未定位",
    "invalid_fix": "设备标记为无效定位",
    "low_accuracy": "定位精度过低",
    "future": "定位时间晚于当前时间",
    "too_old": "定位时间过早",
    "duplicate": "同一时间的位置已存在（重复上报）",
    "speed": "与前一位置相比速度不可能（定位漂移）",
}


@dataclass(frozen=True)
class CleanRules:
    max_speed_mps: float = 120 / 3.6
    max_accuracy_m: float = 200.0
    future_skew_s: float = 300.0
    max_age_s: float = 30 * 86_400.0
    skip_after_s: float = 1_800.0


def _checks(t, lon, lat, accuracy, valid, now: float, rules: CleanRules) -> np.ndarray:
    """Per-fix reasons that need no neighbour ('' = passes)."""
    n = len(t)
    reason = np.full(n, "", dtype=object)

    def mark(mask: np.ndarray, code: str) -> None:
        reason[mask & (reason == "")] = code

    with np.errstate(invalid="ignore"):
        mark(~(np.isfinite(t) & np.isfinite(lon) & np.isfinite(lat)), "not_finite")
        mark((np.abs(lon) > 180) | (np.abs(lat) > 90), "out_of_range")
        mark((lon == 0) & (lat == 0), "zero")
        mark(~valid, "invalid_fix")
        mark(accuracy > rules.max_accuracy_m, "low_accuracy")  # NaN (unknown) passes
        mark(t > now + rules.future_skew_s, "future")
        mark(t < now - rules.max_age_s, "too_old")
    return reason


def clean_fixes(t: np.ndarray, lon: np.ndarray, lat: np.ndarray, **options: Any) -> np.ndarray:
    """Reason per new fix of one person ('' = accepted), in input order.

    ``t`` are epoch seconds; ``options`` are those of :func:`clean_fixes_steps` (``now``,
    ``accuracy``, ``valid``, ``stored_t/lon/lat`` — that person's stored fixes around the new
    ones, at least the last one before them, in time order — and ``rules``).
    """
    return clean_fixes_steps(t, lon, lat, **options)[0]


def clean_fixes_steps(
    t: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    *,
    now: float,
    accuracy: np.ndarray | None = None,
    valid: np.ndarray | None = None,
    stored_t: np.ndarray | None = None,
    stored_lon: np.ndarray | None = None,
    stored_lat: np.ndarray | None = None,
    rules: CleanRules = CleanRules(),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`clean_fixes`, and the time order it judged the speeds in (the stored fixes and
    the new ones that passed every other check: times ``m_t``) with the geodesic steps along
    it (metres, ``len(m_t) - 1``): a caller that needs the distances along the same fixes
    need not measure them again."""
    t = np.asarray(t, dtype=float)
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    n = len(t)
    accuracy = np.full(n, np.nan) if accuracy is None else np.asarray(accuracy, dtype=float)
    valid = np.ones(n, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    reason = _checks(t, lon, lat, accuracy, valid, now, rules)

    ok = np.flatnonzero(reason == "")
    ok = ok[np.argsort(t[ok], kind="stable")]
    # the same time twice in the batch: the first one sent wins
    if len(ok) > 1:
        same = np.flatnonzero(t[ok][1:] == t[ok][:-1]) + 1
        reason[ok[same]] = "duplicate"
        ok = np.delete(ok, same)
    s_t = np.zeros(0) if stored_t is None else np.asarray(stored_t, dtype=float)
    if len(s_t):
        hit = np.isin(t[ok], s_t)
        reason[ok[hit]] = "duplicate"
        ok = ok[~hit]
    if not len(ok):
        return reason, np.zeros(0), np.zeros(0)

    # merge with the stored fixes in time order; stored ones are never judged
    m_t = np.concatenate([s_t, t[ok]])
    m_lon = np.concatenate([np.asarray(stored_lon if len(s_t) else [], dtype=float), lon[ok]])
    m_lat = np.concatenate([np.asarray(stored_lat if len(s_t) else [], dtype=float), lat[ok]])
    m_new = np.concatenate([np.full(len(s_t), -1), ok])
    order = np.argsort(m_t, kind="stable")
    m_t, m_lon, m_lat, m_new = m_t[order], m_lon[order], m_lat[order], m_new[order]

    dist = step_distances(m_lon, m_lat)
    dt = np.diff(m_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        fast = (dist / dt > rules.max_speed_mps) & (dt <= rules.skip_after_s)
    if not fast.any():  # the usual case: nothing to judge one by one
        return reason, m_t, dist
    # sequential: each fix is compared with the previous *accepted* one
    prev = 0
    for i in range(1, len(m_t)):
        gap = m_t[i] - m_t[prev]
        if gap <= rules.skip_after_s and m_new[i] >= 0:
            d = step_distances(m_lon[[prev, i]], m_lat[[prev, i]])[0]
            if d > rules.max_speed_mps * max(gap, 1e-9):
                reason[m_new[i]] = "speed"
                continue
        prev = i
    return reason, m_t, dist
