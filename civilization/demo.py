"""Demo civilization units and population for the demo city, written through the services.

Deterministic for a seed and a city plan (``demo.citygen.CityPlan``): the city itself (文明城市),
a share of its communities (文明社区), towns (文明村镇), schools (文明校园), hospitals, banks,
offices and shops (文明单位) among the demo POIs, and a few families (文明家庭) per community at
points inside its grids. The population of every community is the sum of its grids' demo
population; streets, districts and the city add up their parts. The number of units follows
the plan's scale (small ~100, large several thousand).
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict

import shapely
from django.db import transaction

from accounts.scoping import Jurisdiction

from .models import CivilizationUnit, RegionPopulation
from .services.population import PopulationInput, populations_upsert
from .services.units import UnitInput, units_locate, units_upsert

__all__ = ["demo_civilization_create"]

log = logging.getLogger(__name__)

LEVELS = (("district", 50), ("city", 30), ("provincial", 15), ("national", 5))
STATUSES = (("valid", 85), ("review", 10), ("revoked", 5))
UNIT_CATEGORIES = ("医院", "银行", "政府机构", "商场")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
GIVEN = "明华建国志强秀英玉兰桂芳德胜文军红梅丽娟海燕春生永福家兴"
POPULATION_YEAR = 2024


def _pick(rng: random.Random, weighted) -> str:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights)[0]


def _unit(rng: random.Random, name: str, kind: str, point, address: str = "", contact: str = "") -> UnitInput:
    year = rng.randint(2015, 2025)
    return UnitInput(
        name=name,
        unit_type=kind,
        level=_pick(rng, LEVELS),
        year_awarded=year,
        term=(year - 2015) // 3 + 1,
        review_year=year + 3,
        status=_pick(rng, STATUSES),
        address=address,
        contact=contact,
        point=(round(point[0], 7), round(point[1], 7)),
    )


def _inside(rng: random.Random, geom) -> tuple[float, float]:
    x0, y0, x1, y1 = geom.bounds
    for _ in range(50):
        p = shapely.Point(rng.uniform(x0, x1), rng.uniform(y0, y1))
        if geom.contains(p):
            return p.x, p.y
    p = geom.representative_point()
    return p.x, p.y


def _populations(plan) -> list[PopulationInput]:
    totals: dict[str, int] = defaultdict(int)
    for grid in plan.grids:
        community = grid.community_code
        for code in {community, community[:9].ljust(12, "0"), community[:6].ljust(12, "0"), plan.city.code}:
            totals[code] += grid.population
    return [PopulationInput(code, POPULATION_YEAR, n, "演示数据") for code, n in sorted(totals.items())]


@transaction.atomic
def demo_civilization_create(seed: int, *, city_code: str, plan) -> int:
    """Replace the city's units and population with demo ones; returns the number of units."""
    rng = random.Random(seed * 7919 + 11)
    prefix = city_code[:4]
    CivilizationUnit.objects.filter(district_code__startswith=prefix).delete()
    RegionPopulation.objects.filter(region_code__startswith=prefix).delete()
    items: list[UnitInput] = []
    communities = [r for r in plan.regions if r.level == 5]
    towns = [r for r in plan.regions if r.level == 4]
    grids_of: dict[str, list] = defaultdict(list)
    for grid in plan.grids:
        grids_of[grid.community_code].append(grid.geom)
    centre = (
        plan.regions[0].geom.representative_point() if plan.regions else plan.city.geom.representative_point()
    )
    items.append(_unit(rng, plan.city.name, "city", (centre.x, centre.y)))
    for town in towns:
        if town.name.endswith(("镇", "乡")) and rng.random() < 0.4:
            p = town.geom.representative_point()
            items.append(_unit(rng, town.name, "village", (p.x, p.y)))
    for community in communities:
        if rng.random() < 0.4:
            p = community.geom.representative_point()
            items.append(_unit(rng, community.name, "community", (p.x, p.y)))
        grids = grids_of.get(community.code, [])
        for _ in range(rng.randint(0, 3) if grids else 0):
            name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=2))
            point = _inside(rng, rng.choice(grids))
            address = (
                f"{community.name}{rng.randint(1, 30)}栋{rng.randint(1, 6)}单元{rng.randint(101, 1802)}室"
            )
            contact = f"1{rng.randint(30, 99)}{rng.randint(0, 99_999_999):08d}"
            items.append(_unit(rng, f"{name}家庭", "family", point, address=address, contact=contact))
    for poi in plan.pois:
        if poi.category == "学校" and rng.random() < 0.5:
            items.append(_unit(rng, poi.name, "campus", (poi.lon, poi.lat)))
        elif poi.category in UNIT_CATEGORIES and rng.random() < 0.4:
            items.append(_unit(rng, poi.name, "unit", (poi.lon, poi.lat)))
    # a name drawn twice in one district (two families 王明华家庭) keeps the first
    seen, unique = set(), []
    for item in items:
        key = (item.unit_type, item.name)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    # a demo point that falls outside every grid (a boundary's representative point) is left out
    unique = [
        i for i, w in zip(unique, units_locate([i.point for i in unique]), strict=True) if w is not None
    ]
    created, _ = units_upsert(items=unique, jurisdiction=Jurisdiction(nationwide=True))
    populations_upsert(items=_populations(plan))
    log.info("demo civilization units: %d", created)
    return created
