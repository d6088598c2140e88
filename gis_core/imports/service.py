"""Import a file into a layer (all-or-nothing, dry run by default) and export a layer.

Entry points — the ``gis_import`` / ``gis_export`` commands, the upload and
export API endpoints, Celery tasks — all call these two functions.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from django.db import DatabaseError, transaction

from .. import crs as crs_mod
from ..api.params import parse_crs
from ..codes import InvalidCode, pad_code, prefix_of
from ..errors import ApplicationError, InvalidInput
from .readers import read_features
from .registry import ImportLayer, RowError, get_layer

__all__ = ["EXPORT_FORMATS", "ExportResult", "ImportReport", "export_layer", "import_file"]


@dataclass
class ImportReport:
    layer: str
    file: str
    format: str
    source_crs: str
    rows: int
    valid: int
    committed: bool
    dry_run: bool
    created: int = 0
    updated: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _map_columns(layer: ImportLayer, row: dict[str, Any], explicit: dict[str, str]) -> dict[str, Any]:
    lower = {str(k).lower().strip(): k for k in row}
    out: dict[str, Any] = {"geometry": row.get("geometry")}
    for canonical, accepted in layer.columns.items():
        if canonical in explicit:
            source = lower.get(str(explicit[canonical]).lower().strip())
        else:
            source = next((lower[a.lower()] for a in (canonical, *accepted) if a.lower() in lower), None)
        value = row.get(source) if source is not None else None
        out[canonical] = value.strip() if isinstance(value, str) else value
    return out


def import_file(
    *,
    layer: str,
    path: Path | str,
    commit: bool = False,
    crs: str | None = None,
    encoding: str | None = None,
    columns: dict[str, str] | None = None,
    repair: bool = False,
    filename: str | None = None,
    allowed: Callable[[str], bool] | None = None,
) -> ImportReport:
    """Validate every row; write them all in one transaction only if none is bad and ``commit``.

    ``allowed`` (a code → bool test, the caller's jurisdiction) rejects rows
    whose code lies outside it.
    """
    spec = get_layer(layer)
    path = Path(path)
    explicit = columns or {}
    unknown = set(explicit) - set(spec.columns)
    if unknown:
        raise InvalidInput(f"列映射中有未知字段：{'、'.join(sorted(unknown))}", code="unknown_column")
    read = read_features(path, crs=crs, encoding=encoding)
    if read.rows and explicit:
        # a mapping to a column the file lacks would otherwise fail every row with a misleading message
        present = {str(k).lower().strip() for k in read.rows[0]}
        missing = sorted(s for s in explicit.values() if str(s).lower().strip() not in present)
        if missing:
            raise InvalidInput(f"列映射中的源列在文件中不存在：{'、'.join(missing)}", code="unknown_column")
    report = ImportReport(
        layer=layer,
        file=filename or path.name,
        format=read.format,
        source_crs=read.source_crs,
        rows=len(read.rows),
        valid=0,
        committed=False,
        dry_run=not commit,
    )
    if not read.rows:
        report.errors.append({"row": None, "field": None, "message": "文件中没有任何要素"})
        return report
    mapped = [_map_columns(spec, r, explicit) for r in read.rows]
    context = spec.prepare(mapped)
    context["repair"] = repair
    cleaned: list[Any] = []
    clean_rows: list[int] = []
    for i, row in enumerate(mapped):
        if i in read.geometry_errors:
            report.errors.append({"row": i + 1, "field": "geometry", "message": read.geometry_errors[i]})
            continue
        try:
            item = spec.clean_row(row, context)
            if allowed is not None and not allowed(item.code):
                # no code in the message: a row placed by its point would name a grid the caller
                # may not see (the row number says which row)
                raise RowError("code", "该行不在您的管辖范围内")
            cleaned.append(item)
            clean_rows.append(i)
        except RowError as exc:
            report.errors.append({"row": i + 1, "field": exc.field, "message": exc.message})
    for idx, fld, message in spec.check_rows(cleaned):
        report.errors.append({"row": clean_rows[idx] + 1, "field": fld, "message": message})
    report.errors.sort(key=lambda e: e["row"] or 0)
    report.valid = report.rows - len({e["row"] for e in report.errors if e["row"]})
    if report.errors or not commit:
        return report
    try:
        with transaction.atomic():
            counts = spec.write(cleaned)
    except (ApplicationError, ValueError, DatabaseError) as exc:
        reason = exc.message if isinstance(exc, ApplicationError) else str(exc)
        report.errors.append({"row": None, "field": None, "message": f"写入失败，已全部回滚：{reason}"})
        return report
    report.committed = True
    report.created = counts.get("created", 0)
    report.updated = counts.get("updated", 0)
    return report


EXPORT_FORMATS = {
    "geojson": ("GeoJSON", "application/geo+json", "geojson"),
    "gpkg": ("GPKG", "application/geopackage+sqlite3", "gpkg"),
    "csv": ("CSV", "text/csv; charset=utf-8", "csv"),
}


@dataclass
class ExportResult:
    content: bytes
    content_type: str
    filename: str


def export_layer(
    *, layer: str, fmt: str, queryset: Any = None, region: str | None = None, crs: str | None = None
) -> ExportResult:
    """Write a layer (or the given queryset of it) to GeoJSON, GeoPackage or CSV (WKT column).

    ``region`` (a division code of any level) keeps the features whose code lies
    under it — region codes and grid codes both begin with their parents' codes.
    ``crs`` (:data:`gis_core.crs.SUPPORTED_CRS`, default WGS84) is the coordinate system of the
    file: WGS84 and CGCS2000 are declared in it (EPSG:4326, EPSG:4490); GCJ-02 and BD-09 have no
    EPSG code, so their files carry none and say so in the file name (``grids.gcj02.gpkg``).
    A GeoJSON file is WGS84 by its standard (RFC 7946): asked for in another system, it is
    still written, as GDAL does, with the system named where it has a code.
    """
    target = parse_crs(crs)
    spec = get_layer(layer)
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput(
            f"不支持的导出格式“{fmt}”，可选：{'、'.join(EXPORT_FORMATS)}", code="unsupported_format"
        )
    driver, content_type, ext = EXPORT_FORMATS[fmt]
    qs = spec.export_queryset() if queryset is None else queryset
    if region:
        try:
            qs = qs.filter(code__startswith=prefix_of(pad_code(region)))
        except InvalidCode as exc:
            raise InvalidInput(str(exc), details={"region": region}) from None
    records, geoms = [], []
    for obj in qs.iterator(chunk_size=2000):
        props, geom = spec.export_record(obj)
        records.append(props)
        geoms.append(geom)
    if target != "wgs84":
        geoms = [None if g is None else crs_mod.transform_geometry(g, target, inverse=True) for g in geoms]
    gdf = gpd.GeoDataFrame(
        pd.DataFrame.from_records(records), geometry=geoms, crs=crs_mod.EPSG_CODES.get(target)
    )
    filename = f"{layer}.{ext}" if target in crs_mod.EPSG_CODES else f"{layer}.{target}.{ext}"
    if fmt == "csv":
        frame = pd.DataFrame(gdf.drop(columns="geometry"))
        frame["wkt"] = [g.wkt if g is not None else "" for g in gdf.geometry]
        # BOM so that Excel on Chinese Windows opens UTF-8 correctly
        return ExportResult(frame.to_csv(index=False).encode("utf-8-sig"), content_type, filename)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / filename
        with warnings.catch_warnings():  # GCJ-02/BD-09 files carry no CRS on purpose (see above)
            warnings.filterwarnings("ignore", message="'crs' was not provided", category=UserWarning)
            gdf.to_file(out, driver=driver, engine="pyogrio", layer=layer if fmt == "gpkg" else None)
        return ExportResult(out.read_bytes(), content_type, filename)
