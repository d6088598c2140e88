"""Tests for the synthetic demo city generator (pure geometry, no database)."""

import re
from collections import Counter, defaultdict

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from demo.citygen import SCALES, CityPlan, DivisionInput, build_city

RANGES = {"small": (150, 250), "medium": (1300, 1700), "large": (9000, 11000)}
_TO_METRIC = Transformer.from_crs(4326, 32648, always_xy=True)


def _area_m2(geom) -> float:
    return shapely.transform(geom, lambda xy: np.column_stack(_TO_METRIC.transform(xy[:, 0], xy[:, 1]))).area


def _assert_partition(parent, children) -> None:
    """children are valid, pairwise non-overlapping and exactly cover parent."""
    children = list(children)
    assert children
    total = sum(c.area for c in children)
    assert total == pytest.approx(parent.area, rel=1e-9)
    assert shapely.union_all(children).symmetric_difference(parent).area <= 1e-9 * parent.area
    tree = shapely.STRtree(children)
    left, right = tree.query(children, predicate="intersects")
    pairs = left < right
    overlap = shapely.intersection(np.array(children)[left[pairs]], np.array(children)[right[pairs]])
    assert shapely.area(overlap).sum() <= 1e-12 * parent.area
    assert not tree.query(children, predicate="overlaps").size


def _wkb(plan: CityPlan) -> list[bytes]:
    geoms = [plan.city.geom] + [r.geom for r in plan.regions] + [g.geom for g in plan.grids]
    return [shapely.to_wkb(g) for g in geoms + [r.geom for r in plan.roads]]


@pytest.mark.parametrize("scale", ["small", "medium", "large"])
def test_counts_per_scale(plans, luzhou, scale):
    plan = plans[scale]
    low, high = RANGES[scale]
    assert low <= len(plan.grids) <= high
    levels = Counter(r.level for r in plan.regions)
    assert levels[3] == len(luzhou.children) == 7
    max_streets = SCALES[scale].max_streets
    assert levels[4] == sum(min(max_streets, len(d.children)) for d in luzhou.children)
    per_street = Counter(r.parent_code for r in plan.regions if r.level == 5)
    if scale == "small":
        assert set(per_street.values()) == {2}
    if scale == "medium":
        assert 3 <= levels[5] / levels[4] <= 4
    per_community = Counter(g.community_code for g in plan.grids)
    assert len(per_community) == levels[5]
    if scale == "large":
        assert 15 <= np.median(list(per_community.values())) <= 40
    assert plan.roads


def test_streets_taken_in_gazetteer_order(plans, luzhou):
    streets = [r for r in plans["medium"].regions if r.level == 4]
    expected = [(s.code, s.name) for d in luzhou.children for s in d.children[:4]]
    assert [(s.code, s.name) for s in streets] == expected


def test_exact_hierarchical_partition(plan):
    by_parent = defaultdict(list)
    for region in plan.regions:
        by_parent[region.parent_code].append(region.geom)
    grids_by_comm = defaultdict(list)
    for grid in plan.grids:
        grids_by_comm[grid.community_code].append(grid.geom)
    _assert_partition(plan.city.geom, by_parent[plan.city.code])
    for region in plan.regions:
        if region.level < 5:
            _assert_partition(region.geom, by_parent[region.code])
        else:
            _assert_partition(region.geom, grids_by_comm[region.code])
    _assert_partition(plan.city.geom, [g.geom for g in plan.grids])


def test_geometries_valid_and_typed(plan):
    polygonal = [plan.city.geom] + [r.geom for r in plan.regions] + [g.geom for g in plan.grids]
    assert all(isinstance(g, shapely.MultiPolygon) for g in polygonal)
    assert shapely.is_valid(np.array(polygonal)).all()
    assert all(isinstance(r.geom, shapely.LineString) and r.geom.is_valid for r in plan.roads)
    assert len(plan.city.geom.geoms) == 1  # one connected piece
    lon, lat = shapely.get_coordinates(plan.city.geom).mean(0)
    assert abs(lon - 105.44) < 0.05 and abs(lat - 28.87) < 0.05


def test_grid_size(plan):
    areas = np.array([_area_m2(g.geom) for g in plan.grids])
    assert areas.min() >= 100**2
    assert areas.max() <= 300**2 * 1.2


def test_codes_names_and_attributes(plan):
    regions = {r.code: r for r in plan.regions}
    assert len(regions) == len(plan.regions)
    assert re.fullmatch(r"\d{12}", plan.city.code) and plan.city.level == 2
    for r in plan.regions:
        assert re.fullmatch(r"\d{12}", r.code)
        parent = plan.city if r.level == 3 else regions[r.parent_code]
        assert parent.level == r.level - 1
        assert r.code[: {3: 4, 4: 6, 5: 9}[r.level]] == parent.code[: {3: 4, 4: 6, 5: 9}[r.level]]
        if r.level == 5:
            assert r.code[9:] != "000"
            assert r.name.endswith("社区" if parent.name.endswith("街道") else "村")
    communities = [r for r in plan.regions if r.level == 5]
    assert len({c.name for c in communities}) == len(communities)
    assert len({g.code for g in plan.grids}) == len(plan.grids)
    serials = defaultdict(list)
    for g in plan.grids:
        assert re.fullmatch(r"\d{15}", g.code) and g.code[:12] == g.community_code
        assert regions[g.community_code].level == 5
        assert g.name == f"{regions[g.community_code].name}第{int(g.code[12:])}网格"
        assert 80 <= g.households <= 600
        assert g.households * 2.2 - 0.5 <= g.population <= g.households * 3.2 + 0.5
        serials[g.community_code].append(int(g.code[12:]))
    assert all(s == list(range(1, len(s) + 1)) for s in serials.values())
    assert 0.05 <= sum(g.kind == "key" for g in plan.grids) / len(plan.grids) <= 0.20
    assert {g.kind for g in plan.grids} == {"general", "key"}


def test_roads(plan):
    names = [r.name for r in plan.roads]
    assert len(set(names)) == len(names)
    suffix = {"avenue": "大道", "road": "路", "street": "街", "lane": "巷"}
    for road in plan.roads:
        assert road.name.endswith(suffix[road.kind])
        length = shapely.transform(
            road.geom, lambda xy: np.column_stack(_TO_METRIC.transform(xy[:, 0], xy[:, 1]))
        ).length
        assert length >= 300
    # roads run through the shared lattice vertices, inside the city
    vertices = {tuple(xy) for xy in shapely.get_coordinates([g.geom for g in plan.grids]).tolist()}
    for road in plan.roads:
        assert all(tuple(xy) in vertices for xy in road.geom.coords)
    city = plan.city.geom.buffer(1e-9)
    assert all(city.covers(r.geom) for r in plan.roads)
    assert "酒城大道" in names and "重庆路" in names


def test_deterministic(plans, luzhou):
    again = build_city(city=luzhou, seed=1, scale="small")
    assert _wkb(again) == _wkb(plans["small"])
    assert [(g.code, g.name, g.kind, g.households, g.population) for g in again.grids] == [
        (g.code, g.name, g.kind, g.households, g.population) for g in plans["small"].grids
    ]
    assert [(r.code, r.name) for r in again.regions] == [(r.code, r.name) for r in plans["small"].regions]
    assert [(r.name, r.kind) for r in again.roads] == [(r.name, r.kind) for r in plans["small"].roads]
    other = build_city(city=luzhou, seed=2, scale="small")
    assert shapely.to_wkb(other.city.geom) != shapely.to_wkb(plans["small"].city.geom)
    assert _wkb(other) != _wkb(plans["small"])


def test_generic_input_order_and_few_streets(luzhou):
    districts = tuple(reversed(luzhou.children))
    one_street = DivisionInput(districts[0].code, districts[0].name, districts[0].children[:1])
    city = DivisionInput(luzhou.code, luzhou.name, (one_street, *districts[1:]))
    plan = build_city(city=city, seed=7, scale="medium")
    assert [r.code for r in plan.regions if r.level == 3] == [d.code for d in city.children]
    assert sum(r.parent_code == one_street.code for r in plan.regions if r.level == 4) == 1
    _assert_partition(plan.city.geom, [r.geom for r in plan.regions if r.level == 3])


def test_invalid_input(luzhou):
    with pytest.raises(ValueError):
        build_city(city=luzhou, seed=1, scale="huge")
    with pytest.raises(ValueError):
        build_city(city=DivisionInput("5105", "泸州市", luzhou.children), seed=1, scale="small")
