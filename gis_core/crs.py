"""Coordinate reference systems used by Chinese phone map SDKs, and conversions between them.

Pure Python + numpy + pyproj + shapely: no Django imports, so this module can be used from
management commands, Celery tasks, scripts and tests alike.

The four systems
----------------
``wgs84`` (EPSG:4326)
    What GPS receivers report and what the database stores. The canonical CRS of this module:
    every other system converts *to* and *from* WGS84.
``cgcs2000`` (EPSG:4490)
    China Geodetic Coordinate System 2000, the national datum (used e.g. by Tianditu 天地图 and
    government survey data). CGCS2000 and WGS84 agree to a few centimetres, so at map scale the
    conversion is effectively the identity; it is nevertheless done through pyproj so that the
    datum handling stays PROJ's responsibility.
``gcj02``
    GCJ-02, the "Mars coordinates" (火星坐标 / 国测局坐标) that Chinese regulations require for
    published maps: WGS84 plus a deliberate, smoothly varying, non-linear offset, typically a
    few hundred metres. Used by AMap/Gaode, Tencent Maps, WeChat ``wx.getLocation(type='gcj02')``,
    and Google/Apple maps inside mainland China.
``bd09``
    BD-09, Baidu's own system: GCJ-02 with an additional small rotation/scaling (another few
    hundred metres) on top. Used by the Baidu Map SDK and Baidu web APIs.

Accuracy
--------
* The forward formulas (WGS84 -> GCJ-02 and GCJ-02 -> BD-09) are the widely published algorithms
  (Krasovsky ellipsoid ``a = 6378245.0``, ``ee = 0.00669342162296594323`` for GCJ-02; the
  ``x_pi = pi * 3000 / 180`` formula for BD-09), reproduced to floating-point precision (checked
  against published reference values). The official algorithms are not public; these are the
  de-facto standard used by open-source converters (eviltransform, coordtransform, ...).
  The GCJ-02 offset is typically 100-700 m (it dips to ~18 m along a band near 96.6°E); the
  BD-09 offset on top of GCJ-02 is roughly 750-1000 m.
* The inverses (GCJ-02 -> WGS84, BD-09 -> GCJ-02) have no closed form. They are computed by a
  vectorized fixed-point iteration on the forward function (a Newton iteration with the
  Jacobian approximated by the identity, which is exact to ~1e-3 because the offset field varies
  slowly), stopped when every point's forward residual is below 1e-10 degree (or after
  30 iterations). Inside China the inverse error is below 1e-9 degree (sub-millimetre),
  instead of the 1-2 m of the usual one-step approximation.
* :func:`out_of_china` is the customary *rough* bounding box
  (72.004 <= lon <= 137.8347, 0.8293 <= lat <= 55.8271). Points outside it are returned
  unshifted by the GCJ-02 and BD-09 conversions (the BD-09 behaviour follows eviltransform).
  The box is only a rectangle: it includes neighbouring countries and Taiwan, Hong Kong and
  Macau, where providers may not actually apply the offset; and near its edges the inverse
  decides on the *shifted* coordinates, so round trips are only guaranteed well inside it.

All conversion functions accept scalars or array-likes (broadcast against each other) and are
vectorized with numpy: Python/numpy scalar inputs give ``float`` results, array inputs give
``float64`` ndarrays of the broadcast shape. Longitude always comes first (x, y order).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry.base import BaseGeometry

__all__ = [
    "SUPPORTED_CRS",
    "UnknownCRS",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "from_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "normalize_crs",
    "out_of_china",
    "to_wgs84",
    "transform_geometry",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

SUPPORTED_CRS: tuple[str, ...] = ("wgs84", "cgcs2000", "gcj02", "bd09")

#: A coordinate as returned by the conversion functions: ``float`` for scalar input,
#: ``float64`` ndarray for array input.
Coord = float | NDArray[np.float64]
#: A function converting (lon, lat) to (lon, lat).
Converter = Callable[[ArrayLike, ArrayLike], tuple[Coord, Coord]]

_Arr = NDArray[np.float64]
_RawConverter = Callable[[_Arr, _Arr], tuple[_Arr, _Arr]]

_ALIASES: dict[str, str] = {
    "wgs84": "wgs84",
    "epsg:4326": "wgs84",
    "4326": "wgs84",
    "cgcs2000": "cgcs2000",
    "epsg:4490": "cgcs2000",
    "4490": "cgcs2000",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "mars": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
    "baidu": "bd09",
}

# GCJ-02: Krasovsky 1940 ellipsoid semi-major axis and first eccentricity squared.
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323
# BD-09 constant.
_X_PI = math.pi * 3000.0 / 180.0

# China bounding box (rough).
_LON_MIN, _LON_MAX = 72.004, 137.8347
_LAT_MIN, _LAT_MAX = 0.8293, 55.8271

# Inverse iteration: stop when every point's forward residual is below this (degrees).
_INVERSE_TOL = 1e-10
_INVERSE_MAX_ITER = 30

#: the systems with an EPSG code (GCJ-02 and BD-09 have none: they are offsets, not datums)
EPSG_CODES = {"wgs84": "EPSG:4326", "cgcs2000": "EPSG:4490"}


class UnknownCRS(ValueError):
    """Raised by :func:`normalize_crs` for a CRS name that is not supported."""


def normalize_crs(name: str | None) -> str:
    """Return the canonical name (one of :data:`SUPPORTED_CRS`) for a CRS name or alias.

    ``None`` and ``""`` mean WGS84. Matching is case-insensitive and ignores surrounding
    whitespace. Accepted aliases: ``epsg:4326``/``4326`` (wgs84), ``epsg:4490``/``4490``
    (cgcs2000), ``gcj-02``/``mars`` (gcj02), ``bd-09``/``baidu`` (bd09).

    Raises:
        UnknownCRS: for anything else (the message lists the supported values).
    """
    if name is None:
        return "wgs84"
    if isinstance(name, str):
        key = name.strip().lower()
        if not key:
            return "wgs84"
        canonical = _ALIASES.get(key)
        if canonical is not None:
            return canonical
    aliases = ", ".join(sorted(k for k in _ALIASES if k not in SUPPORTED_CRS))
    raise UnknownCRS(
        f"Unknown CRS {name!r}; supported values: {', '.join(SUPPORTED_CRS)} (aliases: {aliases})"
    )


# --------------------------------------------------------------------------- helpers


def _prepare(lon: ArrayLike, lat: ArrayLike) -> tuple[_Arr, _Arr, tuple[int, ...], bool]:
    """Broadcast inputs to flat float64 arrays; also return the shape and whether both were scalars."""
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    scalar = x.ndim == 0 and y.ndim == 0
    bx, by = np.broadcast_arrays(x, y)
    return bx.ravel(), by.ravel(), bx.shape, scalar


def _finish(x: _Arr, y: _Arr, shape: tuple[int, ...], scalar: bool) -> tuple[Coord, Coord]:
    if scalar:
        return float(x[0]), float(y[0])
    return x.reshape(shape), y.reshape(shape)


def _outside_box(x: _Arr, y: _Arr) -> NDArray[np.bool_]:
    return (x < _LON_MIN) | (x > _LON_MAX) | (y < _LAT_MIN) | (y > _LAT_MAX)


def _apply_in_china(
    raw: _RawConverter,
    lon: ArrayLike,
    lat: ArrayLike,
) -> tuple[Coord, Coord]:
    """Apply ``raw`` to the points inside the China box; copy the others unchanged."""
    x, y, shape, scalar = _prepare(lon, lat)
    out_x = x.copy()
    out_y = y.copy()
    inside = ~_outside_box(x, y)
    if inside.any():
        out_x[inside], out_y[inside] = raw(x[inside], y[inside])
    return _finish(out_x, out_y, shape, scalar)


def _invert(
    forward: _RawConverter,
    target_x: _Arr,
    target_y: _Arr,
    guess_x: _Arr,
    guess_y: _Arr,
) -> tuple[_Arr, _Arr]:
    """Solve ``forward(x, y) == (target_x, target_y)`` by fixed-point iteration from a guess.

    Each point is iterated only until its own residual drops below ``_INVERSE_TOL`` (so a
    point's result does not depend on the other points in the batch); non-finite points are
    dropped immediately.
    """
    x = guess_x.copy()
    y = guess_y.copy()
    active = np.arange(x.size)
    for _ in range(_INVERSE_MAX_ITER):
        if active.size == 0:
            break
        fx, fy = forward(x[active], y[active])
        ex = fx - target_x[active]
        ey = fy - target_y[active]
        err = np.maximum(np.abs(ex), np.abs(ey))
        keep = np.isfinite(err) & (err >= _INVERSE_TOL)
        active = active[keep]
        x[active] -= ex[keep]
        y[active] -= ey[keep]
    return x, y


# --------------------------------------------------------------------------- raw formulas


def _gcj_offset(lon: _Arr, lat: _Arr) -> tuple[_Arr, _Arr]:
    """The published WGS84 -> GCJ-02 offset (degrees) at a WGS84 point, with no bounding-box test."""
    x = lon - 105.0
    y = lat - 35.0
    pi = math.pi
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0

    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    d_lat = d_lat + common
    d_lat = d_lat + (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    d_lat = d_lat + (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0

    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    d_lon = d_lon + common
    d_lon = d_lon + (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    d_lon = d_lon + (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0

    rad_lat = lat / 180.0 * pi
    magic = np.sin(rad_lat)
    magic = 1.0 - _GCJ_EE * magic * magic
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrt_magic) * pi)
    d_lon = (d_lon * 180.0) / (_GCJ_A / sqrt_magic * np.cos(rad_lat) * pi)
    return d_lon, d_lat


def _wgs_to_gcj_raw(lon: _Arr, lat: _Arr) -> tuple[_Arr, _Arr]:
    d_lon, d_lat = _gcj_offset(lon, lat)
    return lon + d_lon, lat + d_lat


def _gcj_to_wgs_raw(lon: _Arr, lat: _Arr) -> tuple[_Arr, _Arr]:
    d_lon, d_lat = _gcj_offset(lon, lat)  # the classic one-step approximation as the first guess
    return _invert(_wgs_to_gcj_raw, lon, lat, lon - d_lon, lat - d_lat)


def _gcj_to_bd_raw(lon: _Arr, lat: _Arr) -> tuple[_Arr, _Arr]:
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd_to_gcj_raw(lon: _Arr, lat: _Arr) -> tuple[_Arr, _Arr]:
    # The usual closed-form approximation (~1e-6 degree off) as the first guess, then refine.
    x = lon - 0.0065
    y = lat - 0.006
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return _invert(_gcj_to_bd_raw, lon, lat, z * np.cos(theta), z * np.sin(theta))


# --------------------------------------------------------------------------- public API


def out_of_china(lon: ArrayLike, lat: ArrayLike) -> bool | NDArray[np.bool_]:
    """True where (lon, lat) lies outside the rough China bounding box.

    The box is ``72.004 <= lon <= 137.8347`` and ``0.8293 <= lat <= 55.8271``; it is only a
    rectangle (see the module docstring). Returns a ``bool`` for scalar input and a boolean
    ndarray for array input. NaN coordinates count as inside.
    """
    x, y, shape, scalar = _prepare(lon, lat)
    result = _outside_box(x, y)
    if scalar:
        return bool(result[0])
    return result.reshape(shape)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Coord, Coord]:
    """WGS84 -> GCJ-02 with the published offset algorithm; points out of China are unchanged."""
    return _apply_in_china(_wgs_to_gcj_raw, lon, lat)


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Coord, Coord]:
    """GCJ-02 -> WGS84 by iterating the forward offset (error < 1e-9 degree); out of China unchanged."""
    return _apply_in_china(_gcj_to_wgs_raw, lon, lat)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Coord, Coord]:
    """GCJ-02 -> BD-09 with the published ``x_pi`` formula; points out of China are unchanged."""
    return _apply_in_china(_gcj_to_bd_raw, lon, lat)


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Coord, Coord]:
    """BD-09 -> GCJ-02: closed-form approximation refined by iteration (error < 1e-9 degree).

    Points out of China are unchanged.
    """
    return _apply_in_china(_bd_to_gcj_raw, lon, lat)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Coord, Coord]:
    """WGS84 -> BD-09 (via GCJ-02); points out of China are unchanged."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Coord, Coord]:
    """BD-09 -> WGS84 (via GCJ-02); points out of China are unchanged."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


@cache
def _transformer(source: str, target: str) -> pyproj.Transformer:
    # pyproj >= 3.1 Transformers are thread-safe, so one cached instance can be shared.
    return pyproj.Transformer.from_crs(EPSG_CODES[source], EPSG_CODES[target], always_xy=True)


def _pyproj_convert(source: str, target: str, lon: ArrayLike, lat: ArrayLike) -> tuple[Coord, Coord]:
    """CGCS2000 <-> WGS84 through PROJ.

    The two datums differ by centimetres, so PROJ uses a ballpark (no-op) transformation and
    the result is effectively the identity at map scale.
    """
    x, y, shape, scalar = _prepare(lon, lat)
    tx, ty = _transformer(source, target).transform(np.array(x), np.array(y))
    return _finish(np.asarray(tx, dtype=np.float64), np.asarray(ty, dtype=np.float64), shape, scalar)


def _identity(lon: ArrayLike, lat: ArrayLike) -> tuple[Coord, Coord]:
    x, y, shape, scalar = _prepare(lon, lat)
    return _finish(x.copy(), y.copy(), shape, scalar)


def _cgcs2000_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Coord, Coord]:
    return _pyproj_convert("cgcs2000", "wgs84", lon, lat)


def _wgs84_to_cgcs2000(lon: ArrayLike, lat: ArrayLike) -> tuple[Coord, Coord]:
    return _pyproj_convert("wgs84", "cgcs2000", lon, lat)


_TO_WGS84: dict[str, Converter] = {
    "wgs84": _identity,
    "cgcs2000": _cgcs2000_to_wgs84,
    "gcj02": gcj02_to_wgs84,
    "bd09": bd09_to_wgs84,
}
_FROM_WGS84: dict[str, Converter] = {
    "wgs84": _identity,
    "cgcs2000": _wgs84_to_cgcs2000,
    "gcj02": wgs84_to_gcj02,
    "bd09": wgs84_to_bd09,
}


def to_wgs84(lon: ArrayLike, lat: ArrayLike, crs: str | None) -> tuple[Coord, Coord]:
    """Convert (lon, lat) given in ``crs`` (any name accepted by :func:`normalize_crs`) to WGS84.

    CGCS2000 goes through pyproj (EPSG:4490 -> EPSG:4326); the datums differ by centimetres, so
    this is effectively the identity at map scale.

    Raises:
        UnknownCRS: if ``crs`` is not supported.
    """
    return _TO_WGS84[normalize_crs(crs)](lon, lat)


def from_wgs84(lon: ArrayLike, lat: ArrayLike, crs: str | None) -> tuple[Coord, Coord]:
    """Convert WGS84 (lon, lat) to ``crs`` (any name accepted by :func:`normalize_crs`).

    CGCS2000 goes through pyproj (EPSG:4326 -> EPSG:4490); the datums differ by centimetres, so
    this is effectively the identity at map scale.

    Raises:
        UnknownCRS: if ``crs`` is not supported.
    """
    return _FROM_WGS84[normalize_crs(crs)](lon, lat)


def transform_geometry(geom: BaseGeometry, crs: str | None, *, inverse: bool = False) -> BaseGeometry:
    """Convert a shapely geometry from ``crs`` to WGS84 (or from WGS84 to ``crs`` if ``inverse``).

    All coordinates are converted in one vectorized call via :func:`shapely.transform`; the
    geometry type, structure and vertex count are preserved, and so are Z values (which are
    passed through unchanged). For ``wgs84`` the geometry itself is returned unchanged.

    Raises:
        UnknownCRS: if ``crs`` is not supported.
    """
    name = normalize_crs(crs)
    if name == "wgs84":
        return geom
    convert = _FROM_WGS84[name] if inverse else _TO_WGS84[name]

    def _convert_xy(x: _Arr, y: _Arr, *z: _Arr) -> tuple[_Arr, ...]:
        new_x, new_y = convert(x, y)
        return (new_x, new_y, *z)

    return shapely.transform(geom, _convert_xy, include_z=None, interleaved=False)
