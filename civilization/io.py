"""Files in and out: the ``civilization_units`` import layer (registered in CivilizationConfig.ready),
address-list imports through the geocoder, and the CSV/Excel export of units.

Columns are matched by English or Chinese names (名称, 类型, 荣誉级别, 授予年份, 届次, 复查年份, 状态,
地址, 联系人); types, levels and statuses by code or Chinese name (文明家庭, 省级, 有效 …). A file
with points (GeoJSON, Shapefile, GeoPackage, CSV with lon/lat or WKT) goes through gis_core's
import service; a table without them (CSV or .xlsx with an address column) is placed through
the geocoder, and every row that does not geocode is reported by its number. Either way nothing
is written unless every row is good.

The generic ``/api/v1/export/civilization_units`` leaves families out: their exact points are
personal data, exported only by ``/api/v1/civilization/units/export`` to callers allowed to
see them (others get the coarsened point there).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db.models import F
from shapely import wkb

from accounts.scoping import Jurisdiction
from gis_core import crs as crs_mod
from gis_core.errors import InvalidInput
from gis_core.imports.registry import ImportLayer, RowError
from gis_core.imports.service import ImportReport, import_file
from gis_core.selectors.stats import rows_to_csv, rows_to_xlsx
from jobs.tabular import open_table

from .models import CivilizationUnit, HonourLevel, UnitStatus, UnitType
from .services.units import UnitInput, unit_problems, units_check, units_geocode, units_locate, units_upsert

__all__ = ["EXPORT_COLUMNS", "UNIT_LAYER", "units_export", "units_import"]

NATIONWIDE = Jurisdiction(nationwide=True)
COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("名称", "单位名称", "mc", "dwmc"),
    "unit_type": ("类型", "荣誉类型", "创建类型", "type", "lx"),
    "level": ("荣誉级别", "级别", "jb"),
    "year_awarded": ("授予年份", "命名年份", "年份", "year", "year_awarded"),
    "term": ("届次", "届", "jc"),
    "review_year": ("复查年份", "复查", "review"),
    "status": ("状态", "zt"),
    "address": ("地址", "详细地址", "dz"),
    "contact": ("联系人", "联系方式", "联系电话", "lxr"),
}
EXPORT_COLUMNS = [
    ("id", "编号"),
    ("name", "名称"),
    ("unit_type", "类型"),
    ("level", "荣誉级别"),
    ("year_awarded", "授予年份"),
    ("term", "届次"),
    ("review_year", "复查年份"),
    ("status", "状态"),
    ("address", "地址"),
    ("contact", "联系人"),
    ("lon", "经度"),
    ("lat", "纬度"),
    ("grid_code", "单元网格"),
    ("region_code", "所在社区"),
    ("district_code", "区县"),
    ("coarsened", "位置已模糊到社区"),
]
_CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True)
class Cleaned:
    code: str  # the unit grid: the importer's jurisdiction must cover it
    item: UnitInput


def _text(row: Mapping[str, Any], field: str) -> str:
    value = row.get(field)
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _year(row: Mapping[str, Any], field: str) -> int | None:
    text = _text(row, field).removesuffix("年").removeprefix("第").removesuffix("届")
    if not text:
        return None
    try:
        return int(float(text))
    except ValueError:
        raise RowError(field, f"应为整数，实际为“{_text(row, field)}”") from None


def row_input(row: Mapping[str, Any], point: tuple[float, float] | None) -> UnitInput:
    """A row (canonical keys) → a unit input; RowError on the first bad field."""
    item = UnitInput(
        name=_text(row, "name"),
        unit_type=_text(row, "unit_type"),
        level=_text(row, "level"),
        year_awarded=_year(row, "year_awarded"),  # type: ignore[arg-type]
        term=_year(row, "term"),
        review_year=_year(row, "review_year"),
        status=_text(row, "status") or UnitStatus.VALID,
        address=_text(row, "address"),
        contact=_text(row, "contact"),
        point=point,
    )
    for field, message in unit_problems(item):
        raise RowError(field, message)
    return item


def _point(geom) -> tuple[float, float] | None:
    if geom is None or geom.is_empty:
        return None
    if geom.geom_type == "MultiPoint" and len(geom.geoms) == 1:
        geom = geom.geoms[0]
    if geom.geom_type != "Point":
        raise RowError("geometry", f"位置应为一个点（Point），实际为 {geom.geom_type}")
    return (geom.x, geom.y)


def _prepare(rows: list[dict[str, Any]]) -> dict[str, Any]:
    points = []
    for row in rows:
        try:
            points.append(_point(row.get("geometry")))
        except RowError:
            points.append(None)
    return {"where": {p: w for p, w in zip(points, units_locate(points), strict=True) if p is not None}}


def _clean(row: dict[str, Any], ctx: dict[str, Any]) -> Cleaned:
    point = _point(row.get("geometry"))
    if point is None:
        raise RowError("geometry", "缺少位置（文件中没有点；只有地址时请上传不含坐标列的表格）")
    item = row_input(row, point)
    where = ctx["where"].get(point)
    if where is None:
        raise RowError("geometry", f"位置 ({point[0]:.6f}, {point[1]:.6f}) 不在任何单元网格内")
    return Cleaned(where.grid_code, item)


def _check(cleaned: list[Cleaned]):
    _, _, problems = units_check([c.item for c in cleaned], jurisdiction=NATIONWIDE)
    yield from problems


def _write(cleaned: list[Cleaned]) -> dict[str, int]:
    created, updated = units_upsert(items=[c.item for c in cleaned], jurisdiction=NATIONWIDE)
    return {"created": created, "updated": updated}


def _export_record(unit: CivilizationUnit) -> tuple[dict[str, Any], Any]:
    props = {
        "code": unit.grid_code,
        "name": unit.name,
        "unit_type": unit.get_unit_type_display(),
        "level": unit.get_level_display(),
        "year_awarded": unit.year_awarded,
        "term": unit.term,
        "review_year": unit.review_year,
        "status": unit.get_status_display(),
        "address": unit.address,
        "contact": unit.contact,
        "grid_code": unit.grid_code,
        "region_code": unit.region_code,
        "district_code": unit.district_code,
    }
    return props, wkb.loads(bytes(unit.geom.wkb))


UNIT_LAYER = ImportLayer(
    name="civilization_units",
    title="文明创建单位",
    columns=COLUMNS,
    clean_row=_clean,
    write=_write,
    # families are personal data: never in the generic export (see the module docstring)
    export_queryset=lambda: CivilizationUnit.objects.exclude(unit_type=UnitType.FAMILY).annotate(
        code=F("grid_code")
    ),
    export_record=_export_record,
    check_rows=_check,
    prepare=_prepare,
)


# ------------------------------------------------------------------ imports


def _map(header: list[str]) -> dict[str, int]:
    """Canonical column → index in the header."""
    lower = {h.lower().strip(): i for i, h in enumerate(header)}
    out = {}
    for canonical, accepted in COLUMNS.items():
        hit = next((lower[a.lower()] for a in (canonical, *accepted) if a.lower() in lower), None)
        if hit is not None:
            out[canonical] = hit
    return out


def _address_import(
    path: Path,
    *,
    filename: str,
    jurisdiction: Jurisdiction,
    commit: bool,
    encoding: str | None,
    city: str | None,
) -> ImportReport:
    table = open_table(path, encoding=encoding)
    mapping = _map(table.columns)
    if "address" not in mapping:
        raise InvalidInput(
            "文件中既没有坐标（lon/lat、wkt）也没有地址列（地址/address）",
            code="unknown_column",
            details={"columns": table.columns},
        )
    report = ImportReport(
        layer="civilization_units",
        file=filename,
        format=table.format,
        source_crs="",
        rows=0,
        valid=0,
        committed=False,
        dry_run=not commit,
    )
    items: list[UnitInput] = []
    numbers: list[int] = []
    for row in table.rows:
        report.rows += 1
        if row.error:
            report.errors.append({"row": row.row_no, "field": None, "message": row.error})
            continue
        values = {k: (row.values[i] if i < len(row.values) else "") for k, i in mapping.items()}
        try:
            items.append(row_input(values, None))
            numbers.append(row.row_no)
        except RowError as exc:
            report.errors.append({"row": row.row_no, "field": exc.field, "message": exc.message})
    placed, problems = units_geocode(items, jurisdiction=jurisdiction, city=city)
    geocoded_bad = {i for i, _, _ in problems}
    _, _, checked = units_check(placed, jurisdiction=jurisdiction)
    problems += [p for p in checked if p[0] not in geocoded_bad]
    report.errors += [{"row": numbers[i], "field": f, "message": m} for i, f, m in problems]
    report.errors.sort(key=lambda e: e["row"] or 0)
    report.valid = report.rows - len({e["row"] for e in report.errors if e["row"]})
    if report.errors or not commit or not items:
        return report
    created, updated = units_upsert(items=placed, jurisdiction=jurisdiction)
    report.committed, report.created, report.updated = True, created, updated
    return report


def units_import(
    *,
    upload,
    jurisdiction: Jurisdiction,
    commit: bool = False,
    crs: str | None = None,
    encoding: str | None = None,
    city: str | None = None,
) -> ImportReport:
    """Import an uploaded file of units (see the module docstring); raises on any bad row."""
    suffix = Path(upload.name).suffix.lower()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload{suffix}"
        with path.open("wb") as fh:
            for chunk in upload.chunks():
                fh.write(chunk)
        if suffix in (".xlsx", ".xlsm") or (suffix in (".csv", ".txt") and not _has_points(path, encoding)):
            report = _address_import(
                path,
                filename=upload.name,
                jurisdiction=jurisdiction,
                commit=commit,
                encoding=encoding,
                city=city,
            )
        else:
            report = import_file(
                layer="civilization_units",
                path=path,
                commit=commit,
                crs=crs,
                encoding=encoding,
                filename=upload.name,
                allowed=jurisdiction.covers_code,
            )
    for error in report.errors:
        # gis_core names the grid a refused point lies in: a grid outside the caller's jurisdiction
        # is not theirs to learn, so the row says only that the point is outside
        if str(error.get("message", "")).endswith("不在您的管辖范围内"):
            error["message"] = "位置不在您的管辖范围内"
    if report.errors:
        raise InvalidInput(
            f"{len(report.errors)} 处错误，未写入任何数据", code="invalid_rows", details=report.as_dict()
        )
    return report


def _has_points(path: Path, encoding: str | None) -> bool:
    from gis_core.imports.readers import LAT_COLUMNS, LON_COLUMNS, WKT_COLUMNS

    table = open_table(path, encoding=encoding)
    names = {c.lower().strip() for c in table.columns}
    return bool(names & set(WKT_COLUMNS)) or (
        bool(names & set(LON_COLUMNS)) and bool(names & set(LAT_COLUMNS))
    )


# ------------------------------------------------------------------ exports


def export_rows(units: Sequence[CivilizationUnit], *, public: bool, crs: str) -> list[dict[str, Any]]:
    """One row per unit; ``public``: families at their coarsened point, without address and contact."""
    import numpy as np

    rows = []
    for unit in units:
        coarse = public and unit.unit_type == UnitType.FAMILY
        point = unit.public_geom if public else unit.geom
        rows.append(
            {
                "id": unit.pk,
                "name": unit.name,
                "unit_type": UnitType(unit.unit_type).label,
                "level": HonourLevel(unit.level).label,
                "year_awarded": unit.year_awarded,
                "term": unit.term,
                "review_year": unit.review_year,
                "status": UnitStatus(unit.status).label,
                "address": "" if coarse else unit.address,
                "contact": "" if coarse else unit.contact,
                "lon": point.x,
                "lat": point.y,
                "grid_code": unit.public_grid_code if public else unit.grid_code,
                "region_code": unit.region_code,
                "district_code": unit.district_code,
                "coarsened": "是" if coarse else "",
            }
        )
    if rows and crs != "wgs84":
        xs, ys = crs_mod.from_wgs84(
            np.array([r["lon"] for r in rows]), np.array([r["lat"] for r in rows]), crs
        )
        for row, x, y in zip(rows, np.atleast_1d(xs), np.atleast_1d(ys), strict=True):
            row["lon"], row["lat"] = float(x), float(y)
    for row in rows:
        row["lon"], row["lat"] = round(row["lon"], 7), round(row["lat"], 7)
    return rows


def units_export(units: Sequence[CivilizationUnit], *, fmt: str, public: bool, crs: str) -> tuple[bytes, str]:
    """CSV (UTF-8 with BOM) or Excel bytes of units, and the content type."""
    if fmt not in _CONTENT_TYPES:
        raise InvalidInput(f"format 应为 csv 或 xlsx，实际为“{fmt}”", details={"format": fmt})
    rows = export_rows(units, public=public, crs=crs)
    if fmt == "csv":
        return rows_to_csv(rows, EXPORT_COLUMNS), _CONTENT_TYPES[fmt]
    return rows_to_xlsx(rows, EXPORT_COLUMNS, title="文明创建单位"), _CONTENT_TYPES[fmt]
