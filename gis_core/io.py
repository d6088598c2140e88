"""The ``regions`` import/export layer."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from shapely import wkb

from .codes import InvalidCode, level_of, pad_code, parent_code
from .geometry import GeometryProblem, polygonal
from .imports.registry import ImportLayer, RowError
from .models import Region
from .services.regions import RegionInput, regions_upsert

__all__ = ["REGION_LAYER"]


def _clean(row: dict[str, Any], ctx: dict[str, Any]) -> RegionInput:
    try:
        code = pad_code(row.get("code") or "")
        level_of(code)
    except InvalidCode as exc:
        raise RowError("code", str(exc)) from None
    name = (row.get("name") or "").strip()
    if not name:
        raise RowError("name", "缺少名称")
    geom = None
    if row.get("geometry") is not None:
        try:
            geom = polygonal(row["geometry"], repair=ctx["repair"])
        except GeometryProblem as exc:
            raise RowError("geometry", str(exc)) from None
    aliases = [a for a in str(row.get("aliases") or "").replace("，", ",").replace("、", ",").split(",") if a]
    return RegionInput(code=code, name=name, geom=geom, aliases=[a.strip() for a in aliases])


def _check(items: list[RegionInput]) -> Iterable[tuple[int, str, str]]:
    counts = Counter(i.code for i in items)
    in_file = set(counts)
    known = set(
        Region.objects.filter(code__in={parent_code(i.code) for i in items} - {None}).values_list(
            "code", flat=True
        )
    )
    for idx, item in enumerate(items):
        if counts[item.code] > 1:
            yield idx, "code", f"区划代码 {item.code} 在文件中重复"
        parent = parent_code(item.code)
        if parent and parent not in known and parent not in in_file:
            yield idx, "code", f"上级区划 {parent} 不存在（数据库和文件中都没有）"


def _write(items: list[RegionInput]) -> dict[str, int]:
    created, updated = regions_upsert(items=items, source="import")
    return {"created": created, "updated": updated}


def _export_record(region: Region) -> tuple[dict[str, Any], Any]:
    props = {
        "code": region.code,
        "name": region.name,
        "level": region.level,
        "parent_code": parent_code(region.code),
        "area_m2": region.area_m2,
    }
    return props, wkb.loads(bytes(region.geom.wkb)) if region.geom else None


REGION_LAYER = ImportLayer(
    name="regions",
    title="行政区划",
    columns={
        "code": ("区划代码", "qhdm", "adcode", "编码", "代码", "region_code"),
        "name": ("名称", "区划名称", "qhmc", "region_name"),
        "aliases": ("别名", "曾用名", "alias"),
    },
    clean_row=_clean,
    write=_write,
    export_queryset=lambda: Region.objects.with_geometry(),
    export_record=_export_record,
    check_rows=_check,
)
