"""Tests for grids.services.grids: checks, stored codes and areas, the point locator kept in step."""

from __future__ import annotations

import pytest
import shapely
from pyproj import Geod
from shapely.geometry import MultiPolygon

from gis_core.errors import InvalidInput
from gis_core.models import LocatorLayer, LocatorPart
from gis_core.selectors.locate import locate_point
from gis_core.tests.test_imports import (
    TEST_COMMUNITY,
    TEST_STREET,
    bowtie,
    carve_community,
    local_box,
    lonlat,
)
from grids.models import GridKind, UnitGrid
from grids.services.grids import GridInput, grid_clean, grid_delete, grids_upsert

CODE = f"{TEST_COMMUNITY}001"
DEMO_COMMUNITY = "510502001001"  # 白湖社区 of the demo city


@pytest.fixture
def community(db):
    return carve_community()


def _grid(code: str = CODE, geom=None, **kw) -> GridInput:
    return GridInput(code=code, name=kw.pop("name", "试验网格"), geom=geom or local_box(0, 0, 200, 300), **kw)


def _clean(item: GridInput, **kw) -> GridInput:
    return grid_clean(item, communities={TEST_COMMUNITY, DEMO_COMMUNITY}, **kw)


@pytest.mark.parametrize(
    ("item", "field", "words"),
    [
        (_grid(code="51050200390100"), "code", "15 位数字"),
        (_grid(code="51050200390100a"), "code", "15 位数字"),
        (_grid(code="510502003902001"), "community_code", "510502003902 不存在"),
        (_grid(community_code=DEMO_COMMUNITY), "code", "与所属社区 510502001001 不符"),
        (_grid(name="  "), "name", "名称"),
        (_grid(kind="urgent"), "kind", "urgent"),
        (_grid(households=-1), "households", "负数"),
        (_grid(geom=bowtie(0, 0, 200, 300)), "geometry", "网格边界无效：几何图形无效：Self-intersection"),
        (_grid(geom=shapely.Point(105.5, 28.95)), "geometry", "应为面"),
        (_grid(geom=shapely.box(542_000, 3_200_000, 542_100, 3_200_100)), "geometry", "不在中国境内"),
    ],
)
def test_grid_clean_rejections(db, item, field, words):
    with pytest.raises(InvalidInput) as exc:
        _clean(item)
    assert list(exc.value.details) == [field]
    assert words in exc.value.message


def test_grid_clean_normalizes_and_repairs(db):
    item = _clean(_grid(code=f" {CODE} ", name=" 试验网格 "))
    assert (item.code, item.name, item.community_code) == (CODE, "试验网格", TEST_COMMUNITY)
    assert isinstance(item.geom, MultiPolygon)

    repaired = _clean(_grid(geom=bowtie(0, 0, 200, 300)), repair=True)
    assert repaired.geom.is_valid and len(repaired.geom.geoms) == 2


def test_grids_upsert_stores_codes_area_and_locator(community):
    geom = local_box(0, 0, 200, 300)

    created, updated = grids_upsert(items=[_grid(geom=geom, kind=GridKind.KEY, households=12, population=30)])

    assert (created, updated) == (1, 0)
    grid = UnitGrid.objects.get(code=CODE)
    assert (grid.community_id, grid.community_code) == (community.id, TEST_COMMUNITY)
    assert (grid.street_code, grid.district_code) == (TEST_STREET, "510502000000")
    assert (grid.kind, grid.households, grid.population) == ("key", 12, 30)
    expected = abs(Geod(ellps="WGS84").geometry_area_perimeter(geom)[0])
    assert grid.area_m2 == pytest.approx(expected, rel=1e-9)
    assert grid.area_m2 == pytest.approx(200 * 300, rel=0.01)  # and it is square metres on the ground

    location = locate_point(*lonlat(100, 150))
    assert location.grid == {"code": CODE, "name": "试验网格"}
    assert [r["code"] for r in location.regions][-2:] == [TEST_STREET, TEST_COMMUNITY]
    assert LocatorPart.objects.filter(layer=LocatorLayer.GRID, code=CODE).exists()


def test_grids_upsert_update_replaces_locator_parts(community):
    grids_upsert(items=[_grid()])
    assert locate_point(*lonlat(50, 150)).grid["code"] == CODE

    created, updated = grids_upsert(items=[_grid(name="改名网格", geom=local_box(200, 0, 400, 300))])

    assert (created, updated) == (0, 1)
    old_place = locate_point(*lonlat(50, 150))
    assert old_place.grid is None and old_place.regions[-1]["code"] == TEST_COMMUNITY
    assert locate_point(*lonlat(300, 150)).grid == {"code": CODE, "name": "改名网格"}
    grid = UnitGrid.objects.get(code=CODE)
    assert grid.name == "改名网格" and grid.area_m2 == pytest.approx(200 * 300, rel=0.01)


def test_grids_upsert_refuses_bad_items_and_writes_nothing(community):
    before = UnitGrid.objects.count()
    with pytest.raises(InvalidInput):
        grids_upsert(items=[_grid(), _grid(code=f"{TEST_COMMUNITY}002", geom=bowtie(200, 0, 400, 300))])
    assert UnitGrid.objects.count() == before

    grids_upsert(items=[_grid(code=f"{TEST_COMMUNITY}002", geom=bowtie(200, 0, 400, 300))], repair=True)
    assert UnitGrid.objects.get(code=f"{TEST_COMMUNITY}002").geom.valid


def test_grid_delete_removes_locator_parts(community):
    grids_upsert(items=[_grid()])
    grid = UnitGrid.objects.get(code=CODE)

    grid_delete(grid=grid)

    assert not UnitGrid.objects.filter(code=CODE).exists()
    assert not LocatorPart.objects.filter(layer=LocatorLayer.GRID, code=CODE).exists()
    assert locate_point(*lonlat(100, 150)).grid is None


def test_demo_grids_are_located(db):
    grid = UnitGrid.objects.filter(community_code=DEMO_COMMUNITY).first()
    point = grid.geom.point_on_surface
    assert locate_point(point.x, point.y).grid["code"] == grid.code
