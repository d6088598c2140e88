"""Read GeoJSON, zipped Shapefile, GeoPackage and CSV into one row format.

Files go through pyogrio (GDAL) and geopandas; CSV through pandas, with the
geometry from a WKT column or from lon/lat columns. Text is UTF-8, and GBK
(GB 18030) is accepted when a file is not valid UTF-8. Geometries leave here in
WGS84: the file's CRS is detected and reprojected with pyproj, and GCJ-02 /
BD-09 (which have no EPSG code) are converted when the caller says so.
"""

from __future__ import annotations

import io
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from .. import crs as crs_mod
from ..errors import InvalidInput

__all__ = ["FORMATS", "ReadResult", "decode_text", "read_features"]

FORMATS = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".zip": "Shapefile",
    ".shp": "Shapefile",
    ".gpkg": "GeoPackage",
    ".csv": "CSV",
}
WKT_COLUMNS = ("wkt", "geometry", "geom", "the_geom", "几何", "边界")
LON_COLUMNS = ("lon", "lng", "longitude", "x", "经度")
LAT_COLUMNS = ("lat", "latitude", "y", "纬度")
TEXT_ENCODINGS = ("utf-8-sig", "gb18030")


@dataclass
class ReadResult:
    format: str
    source_crs: str
    rows: list[dict[str, Any]]  # original column names, plus "geometry" (shapely or None)
    geometry_errors: dict[int, str]  # row index → why its geometry could not be read


def _parse_source_crs(name: str | None) -> tuple[str | None, CRS | None]:
    """(China-specific name, pyproj CRS) for a user-given CRS; both None if not given."""
    if not name:
        return None, None
    try:
        return crs_mod.normalize_crs(name), None
    except crs_mod.UnknownCRS:
        pass
    try:
        return None, CRS.from_user_input(name)
    except CRSError:
        raise InvalidInput(
            f"无法识别坐标系“{name}”：可用 wgs84、cgcs2000、gcj02、bd09 或 EPSG 代码", code="unknown_crs"
        ) from None


def decode_text(data: bytes, encoding: str | None = None) -> str:
    if encoding:
        try:
            return data.decode(encoding)
        except (LookupError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"无法按 {encoding} 解码文件：{exc}", code="bad_encoding") from None
    for enc in TEXT_ENCODINGS:
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise InvalidInput("文件编码无法识别：请使用 UTF-8 或 GBK", code="bad_encoding")


def _pick(columns: list[str], names: tuple[str, ...]) -> str | None:
    lower = {c.lower().strip(): c for c in columns}
    return next((lower[n] for n in names if n in lower), None)


def _read_csv(path: Path, encoding: str | None = None) -> tuple[pd.DataFrame, dict[int, str]]:
    text = decode_text(path.read_bytes(), encoding)
    df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    cols = list(df.columns)
    wkt_col = _pick(cols, WKT_COLUMNS)
    lon_col, lat_col = _pick(cols, LON_COLUMNS), _pick(cols, LAT_COLUMNS)
    errors: dict[int, str] = {}
    geoms: list[Any] = []
    if wkt_col:
        for i, value in enumerate(df[wkt_col]):
            try:
                geoms.append(shapely.from_wkt(value) if value.strip() else None)
            except shapely.errors.GEOSException as exc:
                geoms.append(None)
                errors[i] = f"WKT 无法解析：{exc}"
        df = df.drop(columns=[wkt_col])
    elif lon_col and lat_col:
        for i, (x, y) in enumerate(zip(df[lon_col], df[lat_col], strict=True)):
            try:
                fx, fy = float(x), float(y)
                if not (math.isfinite(fx) and math.isfinite(fy)):
                    raise ValueError
                geoms.append(shapely.Point(fx, fy))
            except ValueError:
                geoms.append(None)
                errors[i] = f"经纬度无效：{x!r}, {y!r}"
    else:
        geoms = [None] * len(df)
    return gpd.GeoDataFrame(df, geometry=geoms, crs=None), errors


def _has_cpg(path: Path) -> bool:
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as zf:
            return any(n.lower().endswith(".cpg") for n in zf.namelist())
    return path.with_suffix(".cpg").exists()


def _read_vector(path: Path, fmt: str, encoding: str | None) -> gpd.GeoDataFrame:
    if fmt == "Shapefile" and not encoding and not _has_cpg(path):
        # no .cpg: GDAL would assume Latin-1; Chinese shapefiles are UTF-8 or GBK
        for enc in ("utf-8", "gb18030"):
            try:
                return gpd.read_file(path, engine="pyogrio", encoding=enc)
            except UnicodeDecodeError:
                continue
    return gpd.read_file(path, engine="pyogrio", encoding=encoding)


def _beyond_lonlat(gdf: gpd.GeoDataFrame) -> bool:
    """True if some coordinate cannot be a longitude/latitude (projected metres, most likely)."""
    coords = shapely.get_coordinates(gdf.geometry.dropna().values)
    return bool(len(coords)) and (abs(coords[:, 0]).max() > 180 or abs(coords[:, 1]).max() > 90)


def _to_wgs84(gdf: gpd.GeoDataFrame, given: str | None) -> tuple[gpd.GeoDataFrame, str]:
    china_name, given_crs = _parse_source_crs(given)
    if china_name in ("gcj02", "bd09"):
        geoms = [None if g is None else crs_mod.transform_geometry(g, china_name) for g in gdf.geometry]
        return gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index), crs=None), china_name
    if china_name == "cgcs2000":
        given_crs = CRS.from_epsg(4490)
    elif china_name == "wgs84":
        # a CRS the caller names overrides the file's, as every other name does
        given_crs = CRS.from_epsg(4326)
    source = given_crs or gdf.crs
    # GeoJSON without a "crs" member is read as WGS84 (RFC 7946) even when it holds metres
    if (source is None or source.is_geographic) and _beyond_lonlat(gdf):
        declared = "文件没有坐标系信息" if source is None else f"坐标系 {source.name} 为经纬度"
        raise InvalidInput(
            f"{declared}，但坐标不是经纬度：请用 crs 参数说明坐标系（如 EPSG:4544）", code="unknown_crs"
        )
    if source is None:
        return gdf, "wgs84"
    gdf = gdf.set_crs(source, allow_override=True)
    label = source.to_string()
    if source.to_epsg() != 4326:
        gdf = gdf.to_crs(4326)
    return gdf, label


def read_features(path: Path, *, crs: str | None = None, encoding: str | None = None) -> ReadResult:
    """Read every feature of a file; geometry errors are per row, not fatal."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidInput(
            f"不支持的文件类型“{path.suffix}”：支持 GeoJSON、Shapefile（zip）、GeoPackage、CSV",
            code="unsupported_format",
        )
    try:
        if fmt == "CSV":
            gdf, geometry_errors = _read_csv(path, encoding)
        else:
            gdf, geometry_errors = _read_vector(path, fmt, encoding), {}
    except InvalidInput:
        raise
    except (
        pyogrio.errors.DataSourceError,
        pyogrio.errors.DataLayerError,
        zipfile.BadZipFile,
        pd.errors.ParserError,
        ValueError,
    ) as exc:
        raise InvalidInput(f"无法读取 {fmt} 文件：{exc}", code="unreadable_file") from None
    gdf, source_crs = _to_wgs84(gdf, crs)
    geometry = gdf.geometry
    records = pd.DataFrame(gdf.drop(columns=[gdf.geometry.name])).to_dict("records")
    rows = []
    for i, rec in enumerate(records):
        g = geometry.iloc[i]
        rec["geometry"] = None if g is None or (hasattr(g, "is_empty") and g.is_empty) else g
        rows.append({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in rec.items()})
    return ReadResult(format=fmt, source_crs=source_crs, rows=rows, geometry_errors=geometry_errors)
