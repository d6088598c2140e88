"""The ``components`` import/export layer (城市部件; registered with gis_core in GridsConfig.ready):
GeoJSON, GeoPackage, Shapefile or CSV (WKT or lon/lat columns), UTF-8 or GBK, dry run by default —
everything the gis_core import service does for every layer.

A row is a component: a code (optional: without one the next serial of its district and class
is given on write), a minor class code, a point, line or polygon, and its attributes. Each row
is located and checked like a component created through the API; the import service then
checks the row against the caller's jurisdiction by :attr:`ComponentRow.code` — the component
code when given, else the unit grid the component falls in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shapely import wkb

from gis_core.errors import InvalidInput
from gis_core.imports.registry import ImportLayer, RowError

from .assets import CityComponent, ComponentClass, ComponentStatus
from .services.components import ComponentInput, component_clean, components_upsert

__all__ = ["COMPONENT_LAYER", "ComponentRow"]

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
        field = next(iter(exc.details), "row") if isinstance(exc.details, dict) else "row"
        raise RowError(field, exc.message) from None
    return ComponentRow(cleaned)


def _check(rows: list[ComponentRow]) -> Iterable[tuple[int, str, str]]:
    counts = Counter(r.item.code for r in rows if r.item.code)
    for idx, row in enumerate(rows):
        if row.item.code and counts[row.item.code] > 1:
            yield idx, "code", f"部件编码 {row.item.code} 在文件中重复"


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
