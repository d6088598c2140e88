"""Parsing of the query parameters every spatial endpoint shares.

Bad values raise InvalidInput (400) with a message that says what was wrong.
"""

from __future__ import annotations

import math

import numpy as np

from .. import crs as crs_mod
from ..codes import InvalidCode, pad_code
from ..errors import InvalidInput

__all__ = [
    "parse_bbox",
    "parse_choices",
    "parse_code",
    "parse_crs",
    "parse_float",
    "parse_lonlat",
    "parse_points",
    "parse_simplify",
]


def parse_choices(value, name: str, allowed, label: str) -> list[str]:
    """A comma-separated list of codes, each one of ``allowed`` (``[]`` when empty); else 400."""
    wanted = [v.strip() for v in str(value or "").split(",") if v.strip()]
    if bad := [v for v in wanted if v not in allowed]:
        raise InvalidInput(
            f"{label} {name} 应为 {'、'.join(allowed)}（可逗号分隔多个），实际为“{'、'.join(bad)}”",
            details={name: value, "allowed": list(allowed)},
        )
    return wanted


def parse_crs(value: str | None) -> str:
    try:
        return crs_mod.normalize_crs(value)
    except crs_mod.UnknownCRS as exc:
        raise InvalidInput(str(exc), code="unknown_crs", details={"crs": value}) from None


def parse_float(value, name: str) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidInput(f"缺少参数 {name}", details={name: "required"})
    if isinstance(value, bool):
        raise InvalidInput(f"参数 {name} 应为数字", details={name: value})
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"参数 {name} 应为数字，实际为“{value}”", details={name: value}) from None
    if not math.isfinite(number):
        raise InvalidInput(f"参数 {name} 不是有限数值", details={name: value})
    return number


def _check_range(lon: float, lat: float) -> None:
    if not -180 <= lon <= 180:
        raise InvalidInput(f"经度 {lon} 超出范围 [-180, 180]", details={"lon": lon})
    if not -90 <= lat <= 90:
        raise InvalidInput(f"纬度 {lat} 超出范围 [-90, 90]", details={"lat": lat})


def parse_lonlat(lon, lat, crs: str) -> tuple[float, float]:
    """A point in ``crs`` → WGS84 (lon, lat)."""
    x, y = parse_float(lon, "lon"), parse_float(lat, "lat")
    _check_range(x, y)
    wx, wy = crs_mod.to_wgs84(x, y, crs)
    return float(wx), float(wy)


def parse_points(points, crs: str, *, max_points: int) -> tuple[np.ndarray, np.ndarray, list]:
    """A list of ``[lon, lat]`` pairs or ``{"id", "lon", "lat"}`` objects → WGS84 arrays and ids."""
    from ..errors import TooLarge

    if not isinstance(points, list) or not points:
        raise InvalidInput('points 应为非空数组：[[lon, lat], …] 或 [{"id":…, "lon":…, "lat":…}, …]')
    if len(points) > max_points:
        raise TooLarge(f"一次最多 {max_points} 个点，收到 {len(points)} 个", details={"max": max_points})
    lons = np.empty(len(points))
    lats = np.empty(len(points))
    ids: list = []
    for i, p in enumerate(points):
        try:
            if isinstance(p, dict):
                x, y, pid = p.get("lon"), p.get("lat"), p.get("id")
            elif isinstance(p, list | tuple) and len(p) == 2:
                (x, y), pid = p, None
            else:
                raise InvalidInput("应为 [lon, lat] 或 {lon, lat}")
            lons[i], lats[i] = parse_float(x, "lon"), parse_float(y, "lat")
            _check_range(lons[i], lats[i])
        except InvalidInput as exc:
            raise InvalidInput(f"第 {i + 1} 个点无效：{exc.message}", details={"index": i}) from None
        ids.append(pid)
    wx, wy = crs_mod.to_wgs84(lons, lats, crs)
    return np.asarray(wx, dtype=float), np.asarray(wy, dtype=float), ids


def parse_bbox(value: str | None, crs: str) -> tuple[float, float, float, float] | None:
    """``minlon,minlat,maxlon,maxlat`` in ``crs`` → WGS84 bounds, or None."""
    if not value:
        return None
    parts = value.split(",")
    if len(parts) != 4:
        raise InvalidInput("bbox 应为 minlon,minlat,maxlon,maxlat", details={"bbox": value})
    x0, y0, x1, y1 = (parse_float(p, "bbox") for p in parts)
    if x0 >= x1 or y0 >= y1:
        raise InvalidInput("bbox 的最小值应小于最大值", details={"bbox": value})
    _check_range(x0, y0)
    _check_range(x1, y1)
    (wx0, wx1), (wy0, wy1) = crs_mod.to_wgs84(np.array([x0, x1]), np.array([y0, y1]), crs)
    return float(wx0), float(wy0), float(wx1), float(wy1)


def parse_simplify(value: str | None) -> float | None:
    """Simplification tolerance in metres (0–1000), or None."""
    if value in (None, ""):
        return None
    tol = parse_float(value, "simplify")
    if not 0 <= tol <= 1000:
        raise InvalidInput("simplify 为以米计的容差，取值 0–1000", details={"simplify": value})
    return tol or None


def parse_code(value: str) -> str:
    """A division code of any length (2–12 digits) → its 12-digit form."""
    try:
        return pad_code(value)
    except InvalidCode as exc:
        raise InvalidInput(str(exc), details={"code": value}) from None
