"""Writes of unit grids: validated, region codes stored, locator kept in step."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from django.contrib.gis.geos import GEOSGeometry
from django.db import transaction
from shapely.geometry import MultiPolygon
from shapely.geometry.base import BaseGeometry

from gis_core.codes import prefix_of
from gis_core.errors import InvalidInput
from gis_core.geometry import GeometryProblem, geodesic_area_m2, polygonal
from gis_core.models import LocatorLayer, Region, RegionLevel
from gis_core.services.locator import LocatorItem, locator_remove, locator_replace
from gis_core.signals import model_values, rows_written

from ..models import GridKind, UnitGrid

__all__ = ["GridInput", "community_codes", "grid_clean", "grid_delete", "grids_upsert"]

GRID_CODE = re.compile(r"^\d{15}$")
GRID_LEVEL = 6  # below communities (5) in the locator


@dataclass(frozen=True)
class GridInput:
    code: str
    name: str
    geom: BaseGeometry
    kind: str = GridKind.GENERAL
    households: int = 0
    population: int = 0
    community_code: str | None = None


def grid_clean(item: GridInput, *, communities: set[str], repair: bool = False) -> GridInput:
    """Check one grid; returns it normalized or raises InvalidInput(details={field: message}).

    ``communities`` holds the community codes known to exist.
    """
    code = (item.code or "").strip()
    if not GRID_CODE.match(code):
        raise InvalidInput("网格编码应为 15 位数字（社区代码 12 位 + 顺序码 3 位）", details={"code": code})
    community = (item.community_code or code[:12]).strip()
    if community not in communities:
        raise InvalidInput(f"所属社区 {community} 不存在", details={"community_code": community})
    if not code.startswith(community):
        raise InvalidInput(f"网格编码 {code} 与所属社区 {community} 不符", details={"code": code})
    if not (item.name or "").strip():
        raise InvalidInput("缺少网格名称", details={"name": ""})
    if item.kind not in GridKind.values:
        raise InvalidInput(
            f"网格类型“{item.kind}”无效，可选 general（一般）/ key（重点）", details={"kind": item.kind}
        )
    if item.households < 0 or item.population < 0:
        raise InvalidInput("户数和人口不能为负数", details={"households": item.households})
    try:
        geom = polygonal(item.geom, repair=repair)
    except GeometryProblem as exc:
        raise InvalidInput(f"网格边界无效：{exc}", details={"geometry": str(exc)}) from None
    return replace(item, code=code, name=item.name.strip(), community_code=community, geom=geom)


def community_codes(codes: set[str]) -> set[str]:
    return set(
        Region.objects.filter(code__in=codes, level=RegionLevel.COMMUNITY).values_list("code", flat=True)
    )


@transaction.atomic
def grids_upsert(*, items: list[GridInput], repair: bool = False, clean: bool = True) -> tuple[int, int]:
    """Create or update grids by code; returns (created, updated).

    Each grid is checked (``clean=False`` when the caller already did), its
    area is computed on the ellipsoid, its community/street/district codes are
    stored, and its locator parts replaced — all in one transaction.
    """
    if clean:
        known = community_codes({(i.community_code or i.code[:12]) for i in items})
        items = [grid_clean(i, communities=known, repair=repair) for i in items]
    regions = dict(
        Region.objects.filter(code__in={i.community_code for i in items}).values_list("code", "id")
    )
    existing = {g.code: g for g in UnitGrid.objects.filter(code__in=[i.code for i in items])}
    before = {code: model_values(g) for code, g in existing.items()}
    to_create, to_update = [], []
    for item in items:
        geom: MultiPolygon = item.geom  # type: ignore[assignment]
        grid = existing.get(item.code) or UnitGrid(code=item.code)
        grid.name = item.name
        grid.kind = item.kind
        grid.households = item.households
        grid.population = item.population
        grid.community_id = regions[item.community_code]
        grid.community_code = item.community_code
        grid.street_code = prefix_of(item.community_code, 4).ljust(12, "0")
        grid.district_code = prefix_of(item.community_code, 3).ljust(12, "0")
        grid.geom = GEOSGeometry(memoryview(geom.wkb), srid=4326)
        grid.area_m2 = geodesic_area_m2(geom)
        (to_update if grid.pk else to_create).append(grid)
    UnitGrid.objects.bulk_create(to_create, batch_size=2000)
    UnitGrid.objects.bulk_update(
        to_update,
        [
            "name",
            "kind",
            "households",
            "population",
            "community",
            "community_code",
            "street_code",
            "district_code",
            "geom",
            "area_m2",
        ],
        batch_size=2000,
    )
    rows_written.send(
        UnitGrid,
        changes=[(g.code, g.code, before.get(g.code), model_values(g)) for g in (*to_create, *to_update)],
    )
    locator_replace(
        layer=LocatorLayer.GRID,
        items=[
            LocatorItem(
                code=i.code, name=i.name, level=GRID_LEVEL, region_code=i.community_code, wkb=i.geom.wkb
            )
            for i in items
        ],
    )
    return len(to_create), len(to_update)


@transaction.atomic
def grid_delete(*, grid: UnitGrid) -> None:
    locator_remove(layer=LocatorLayer.GRID, codes=[grid.code])
    grid.delete()  # post_delete: audited
