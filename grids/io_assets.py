"""The ``components`` and ``cameras`` import/export layers (城市部件, 视频点位; registered with
gis_core in GridsConfig.ready): GeoJSON, GeoPackage, Shapefile or CSV (WKT or lon/lat columns),
UTF-8 or GBK, any supported crs, dry run by default — everything the gis_core import service
(``POST /api/v1/import/<layer>``, ``manage.py gis_import``) does for every layer.

A component row: a code (optional: without one the next serial of its district and class is
given on write), a minor class code, a point, line or polygon, and its attributes. The import
service checks it against the caller's jurisdiction by :attr:`ComponentRow.code` — the
component code when given, else the unit grid the component falls in.

A camera row: a point, name, category (code or 公安/交通/安全/社会), direction, angle, range and
its attributes; a 20-digit device code is optional (without one the district's next code is
given on write), and a row with the code of a stored camera updates it. The jurisdiction is
checked by the unit grid the camera stands in (:attr:`CameraRow.code`); a stored camera is
updated only where it stands now — an import cannot move it into another grid (that is a
change through the API, checked against both places).

Each row is checked like a write through the API; nothing is written unless every row is good.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from shapely import wkb

from gis_core.errors import InvalidInput
from gis_core.imports.registry import ImportLayer, RowError

from .assets import Camera, CameraCategory, CityComponent, ComponentClass, ComponentStatus
from .services.cameras import CameraInput, camera_clean, cameras_upsert
from .services.components import ComponentInput, component_clean, components_upsert

__all__ = ["CAMERA_LAYER", "COMPONENT_LAYER", "CameraRow", "ComponentRow"]

_STATUSES = {
    **{value: value for value in ComponentStatus.values},
    **{label: value for value, label in ComponentStatus.choices},
    "": ComponentStatus.INTACT,
}


@dataclass(frozen=True)
class ComponentRow:
    item: ComponentInput

    @property
    def code(self) -> str:
        """What the import service checks against the jurisdiction."""
        return self.item.code or self.item.placed.grid_code


def _prepare(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"classes": {c.code: c for c in ComponentClass.objects.select_related("major")}}


def _text(row: dict[str, Any], field: str) -> str:
    value = row.get(field)
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a code read as a number by a spreadsheet
    return str(value).strip()


def _row_error(exc: InvalidInput) -> RowError:
    """The service's error on the field it names."""
    field = next(iter(exc.details), "row") if isinstance(exc.details, dict) else "row"
    return RowError(field, exc.message)


def _clean(row: dict[str, Any], ctx: dict[str, Any]) -> ComponentRow:
    status = _STATUSES.get(_text(row, "status").lower()) or _STATUSES.get(_text(row, "status"))
    if status is None:
        raise RowError("status", f"状态“{row.get('status')}”无效，可选：完好/破损/丢失/移除")
    class_code = _text(row, "class_code")
    if len(class_code) == 3 and class_code.isdigit():
        class_code = class_code.zfill(4)  # 0101 read as the number 101
    item = ComponentInput(
        code=_text(row, "code"),
        class_code=class_code,
        geom=row.get("geometry"),
        name=_text(row, "name"),
        owner_department=_text(row, "owner_department"),
        maintainer=_text(row, "maintainer"),
        status=status,
        note=_text(row, "note"),
    )
    try:
        cleaned, _ = component_clean(item, jurisdiction=None, classes=ctx["classes"])
    except InvalidInput as exc:
        raise _row_error(exc) from None
    return ComponentRow(cleaned)


def _duplicate_codes(rows: list, what: str) -> Iterable[tuple[int, str, str]]:
    counts = Counter(r.item.code for r in rows if r.item.code)
    for idx, row in enumerate(rows):
        if row.item.code and counts[row.item.code] > 1:
            yield idx, "code", f"{what} {row.item.code} 在文件中重复"


def _check(rows: list[ComponentRow]) -> Iterable[tuple[int, str, str]]:
    return _duplicate_codes(rows, "部件编码")


def _write(rows: list[ComponentRow]) -> dict[str, int]:
    created, updated = components_upsert(items=[r.item for r in rows], clean=False)
    return {"created": created, "updated": updated}


def _export_record(component: CityComponent) -> tuple[dict[str, Any], Any]:
    props = {
        "code": component.code,
        "class_code": component.component_class.code,
        "class_name": component.component_class.name,
        "name": component.name,
        "status": component.status,
        "owner_department": component.owner_department,
        "maintainer": component.maintainer,
        "note": component.note,
        "grid_code": component.grid_code,
    }
    return props, wkb.loads(bytes(component.geom.wkb))


COMPONENT_LAYER = ImportLayer(
    name="components",
    title="城市部件",
    columns={
        "code": ("部件编码", "bjbm", "标识码", "component_code"),
        "class_code": ("小类代码", "部件小类", "xldm", "class", "类别代码"),
        "name": ("名称", "部件名称", "mc"),
        "owner_department": ("主管部门", "权属单位", "zgbm", "owner"),
        "maintainer": ("养护单位", "维护单位", "yhdw"),
        "status": ("状态", "部件状态", "zt"),
        "note": ("备注", "bz"),
    },
    clean_row=_clean,
    write=_write,
    export_queryset=lambda: CityComponent.objects.select_related("component_class"),
    export_record=_export_record,
    check_rows=_check,
    prepare=_prepare,
)


# ------------------------------------------------------------------ cameras (视频点位)

_CATEGORIES = {
    **{value: value for value in CameraCategory.values},
    **{label: value for value, label in CameraCategory.choices},
}


@dataclass(frozen=True)
class CameraRow:
    item: CameraInput
    grid_code: str

    @property
    def code(self) -> str:
        """What the import service checks against the jurisdiction: the grid it stands in."""
        return self.grid_code


def _camera_prepare(rows: list[dict[str, Any]]) -> dict[str, Any]:
    codes = {_text(r, "code") for r in rows} - {""}
    stored = Camera.objects.filter(code__in=codes).values_list("code", "grid_code", "stream_url")
    return {"stored": {code: (grid, url) for code, grid, url in stored}}


def _number(row: dict[str, Any], field: str) -> Any:
    value = row.get(field)
    return "" if value is None else value  # camera_check names a missing one


def _camera_clean(row: dict[str, Any], ctx: dict[str, Any]) -> CameraRow:
    geom = row.get("geometry")
    if geom is None or geom.geom_type != "Point":
        raise RowError("geometry", "摄像机位置应为点（经度/纬度列，或点几何）")
    category = _CATEGORIES.get(_text(row, "category").lower()) or _CATEGORIES.get(_text(row, "category"))
    if category is None:
        raise RowError("category", f"类别“{row.get('category') or ''}”无效，可选：公安/交通/安全/社会")
    item = CameraInput(
        name=_text(row, "name"),
        category=category,
        lon=geom.x,
        lat=geom.y,
        direction=_number(row, "direction"),
        angle=_number(row, "angle"),
        range_m=_number(row, "range_m"),
        code=_text(row, "code"),
        owner_unit=_text(row, "owner_unit"),
        responsible_person=_text(row, "responsible_person"),
        responsible_phone=_text(row, "responsible_phone"),
        stream_url=_text(row, "stream_url"),
    )
    stored_grid, stored_url = ctx["stored"].get(item.code, (None, ""))
    if stored_grid is not None and not item.stream_url:
        # the export leaves stream URLs out: re-importing it must not erase them
        item = replace(item, stream_url=stored_url)
    try:
        cleaned, placed = camera_clean(item)
    except InvalidInput as exc:
        raise _row_error(exc) from None
    if stored_grid is not None and stored_grid != placed.grid_code:
        raise RowError(
            "geometry",
            f"设备编码 {cleaned.code} 的点位在网格 {stored_grid}，导入不能把它移到网格 {placed.grid_code}"
            "（请在点位详情中修改位置）",
        )
    return CameraRow(cleaned, placed.grid_code)


def _camera_write(rows: list[CameraRow]) -> dict[str, int]:
    created, updated = cameras_upsert(items=[r.item for r in rows])
    return {"created": created, "updated": updated}


def _camera_export_record(camera: Camera) -> tuple[dict[str, Any], Any]:
    props = {
        "code": camera.code,
        "name": camera.name,
        "category": camera.category,
        "direction": camera.direction,
        "angle": camera.angle,
        "range_m": camera.range_m,
        "owner_unit": camera.owner_unit,
        "responsible_person": camera.responsible_person,
        "responsible_phone": camera.responsible_phone,
        "grid_code": camera.grid_code,
    }  # no stream URL: it is served only to holders of cameras:stream (an import keeps it)
    return props, wkb.loads(bytes(camera.geom.wkb))


CAMERA_LAYER = ImportLayer(
    name="cameras",
    title="视频点位",
    columns={
        "code": ("设备编码", "国标编码", "sbbm", "device_code"),
        "name": ("名称", "点位名称", "mc"),
        "category": ("类别", "点位类别", "lb"),
        "direction": ("朝向", "方向", "direction_deg"),
        "angle": ("视角", "fov"),
        "range_m": ("可视距离", "距离", "range"),
        "owner_unit": ("权属单位", "owner"),
        "responsible_person": ("负责人",),
        "responsible_phone": ("负责人电话", "电话", "phone"),
        "stream_url": ("视频流地址", "stream", "url"),
    },
    clean_row=_camera_clean,
    write=_camera_write,
    export_queryset=lambda: Camera.objects.all(),
    export_record=_camera_export_record,
    check_rows=lambda rows: _duplicate_codes(rows, "设备编码"),
    prepare=_camera_prepare,
)
