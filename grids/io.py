"""The ``grids`` import/export layer (registered with gis_core in GridsConfig.ready)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from shapely import wkb

from gis_core.errors import InvalidInput
from gis_core.imports.registry import ImportLayer, RowError

from .models import GridKind, UnitGrid
from .services.grids import GridInput, community_codes, grid_clean, grids_upsert

__all__ = ["GRID_LAYER"]

_KINDS = {
    "general": GridKind.GENERAL,
    "一般": GridKind.GENERAL,
    "一般网格": GridKind.GENERAL,
    "key": GridKind.KEY,
    "重点": GridKind.KEY,
    "重点网格": GridKind.KEY,
    "": GridKind.GENERAL,
}


def _int(row: dict[str, Any], field: str) -> int:
    value = row.get(field)
    if value in (None, ""):
        return 0
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RowError(field, f"应为整数，实际为“{value}”") from None
    if number != int(number):
        raise RowError(field, f"应为整数，实际为“{value}”")
    return int(number)


def _prepare(rows: list[dict[str, Any]]) -> dict[str, Any]:
    wanted = {str(r.get("community_code") or str(r.get("code") or "")[:12]) for r in rows}
    return {"communities": community_codes(wanted)}


def _clean(row: dict[str, Any], ctx: dict[str, Any]) -> GridInput:
    kind = _KINDS.get(str(row.get("kind") or "").strip().lower())
    if kind is None:
        raise RowError("kind", f"网格类型“{row.get('kind')}”无效，可选：一般/重点（general/key）")
    item = GridInput(
        code=str(row.get("code") or ""),
        name=str(row.get("name") or ""),
        geom=row.get("geometry"),
        kind=kind,
        households=_int(row, "households"),
        population=_int(row, "population"),
        community_code=str(row["community_code"]) if row.get("community_code") else None,
    )
    try:
        return grid_clean(item, communities=ctx["communities"], repair=ctx["repair"])
    except InvalidInput as exc:
        field = next(iter(exc.details), "row") if isinstance(exc.details, dict) else "row"
        raise RowError(field, exc.message) from None


def _check(items: list[GridInput]) -> Iterable[tuple[int, str, str]]:
    counts = Counter(i.code for i in items)
    for idx, item in enumerate(items):
        if counts[item.code] > 1:
            yield idx, "code", f"网格编码 {item.code} 在文件中重复"


def _write(items: list[GridInput]) -> dict[str, int]:
    created, updated = grids_upsert(items=items, clean=False)
    return {"created": created, "updated": updated}


def _export_record(grid: UnitGrid) -> tuple[dict[str, Any], Any]:
    props = {
        "code": grid.code,
        "name": grid.name,
        "community_code": grid.community_code,
        "kind": grid.kind,
        "households": grid.households,
        "population": grid.population,
        "area_m2": round(grid.area_m2, 1),
    }
    return props, wkb.loads(bytes(grid.geom.wkb))


GRID_LAYER = ImportLayer(
    name="grids",
    title="单元网格",
    columns={
        "code": ("网格编码", "grid_code", "wgbm", "编码"),
        "name": ("网格名称", "grid_name", "wgmc", "名称"),
        "community_code": ("社区代码", "所属社区", "community", "sqdm"),
        "kind": ("网格类型", "type", "类型"),
        "households": ("户数", "hs"),
        "population": ("人口", "人口数", "rks"),
    },
    clean_row=_clean,
    write=_write,
    export_queryset=lambda: UnitGrid.objects.all(),
    export_record=_export_record,
    check_rows=_check,
    prepare=_prepare,
)
