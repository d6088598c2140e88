"""Builds the demo city into the database from :mod:`demo.citygen`.

Later issues add their layers (components, cameras, units, events, tracks)
here, to the same deterministic plan. The address gazetteer (door plates,
compounds, buildings, POIs) goes through the geocoding services, so every
point gets its grid and region codes exactly as an import would.
"""

from __future__ import annotations

import logging

from django.db import transaction
from shapely.geometry import Point

from civilization.demo import demo_civilization_create
from events.demo import demo_events_create
from geocoding.models import Building, DoorPlate, Place, Poi, Street
from geocoding.services.gazetteer import (
    BuildingInput,
    DoorInput,
    DoorRef,
    PlaceInput,
    PoiInput,
    buildings_upsert,
    doors_upsert,
    places_upsert,
    pois_upsert,
)
from geocoding.services.streets import StreetInput, streets_upsert
from gis_core.codes import pad_code
from gis_core.models import LocatorLayer, Region, RegionLevel
from gis_core.services.locator import locator_remove
from gis_core.services.regions import RegionInput, gazetteer_load, regions_upsert
from grids.demo import demo_tracks_create
from grids.demo_assets import demo_assets_create
from grids.models import UnitGrid
from grids.services.grids import GridInput, grids_upsert

from .citygen import CityPlan, DivisionInput, build_city

__all__ = [
    "DEMO_CITY_CODE",
    "DEMO_USERS",
    "demo_city_build",
    "demo_city_exists",
    "demo_city_plan",
    "demo_users_create",
]

log = logging.getLogger(__name__)
DEMO_CITY_CODE = pad_code("5105")  # 泸州市


def _divisions() -> DivisionInput:
    if not Region.objects.filter(code=DEMO_CITY_CODE).exists():
        gazetteer_load()
    city = Region.objects.get(code=DEMO_CITY_CODE)
    districts = []
    for d in Region.objects.filter(parent=city).order_by("code"):
        streets = tuple(
            DivisionInput(s.code, s.name) for s in Region.objects.filter(parent=d).order_by("code")
        )
        districts.append(DivisionInput(d.code, d.name, streets))
    return DivisionInput(city.code, city.name, tuple(districts))


def demo_city_plan(*, seed: int = 1, scale: str = "small") -> CityPlan:
    """The plan :func:`demo_city_build` writes for these arguments, without writing it.

    Deterministic: benchmarks and tests read the true points of door plates, compounds and
    POIs from it (``plan.doors`` …) for a city built with the same seed and scale.
    """
    return build_city(city=_divisions(), seed=seed, scale=scale)


def demo_city_exists() -> bool:
    return UnitGrid.objects.filter(code__startswith=DEMO_CITY_CODE[:4]).exists()


def _clear() -> None:
    prefix = DEMO_CITY_CODE[:4]
    grids = list(UnitGrid.objects.filter(code__startswith=prefix).values_list("code", flat=True))
    locator_remove(layer=LocatorLayer.GRID, codes=grids)
    UnitGrid.objects.filter(code__in=grids).delete()
    communities = Region.objects.filter(code__startswith=prefix, level=RegionLevel.COMMUNITY)
    locator_remove(layer=LocatorLayer.REGION, codes=list(communities.values_list("code", flat=True)))
    communities.delete()
    for model in (Building, Poi, Place, DoorPlate, Street):
        model.objects.filter(district_code__startswith=prefix).delete()


def _write_addresses(plan: CityPlan) -> None:
    """Door plates first: compounds, buildings and POIs name them."""
    doors_upsert(
        items=[
            DoorInput(street=d.road, number=d.number, suffix=d.suffix, point=Point(d.lon, d.lat))
            for d in plan.doors
        ]
    )
    places_upsert(
        items=[
            PlaceInput(
                name=p.name,
                point=Point(p.lon, p.lat),
                kind=p.kind,
                aliases=p.aliases,
                outline=p.outline,
                door=DoorRef(*p.door) if p.door else None,
            )
            for p in plan.places
        ]
    )
    buildings_upsert(
        items=[
            BuildingInput(number=b.number, point=Point(b.lon, b.lat), place=b.place) for b in plan.buildings
        ]
    )
    pois_upsert(
        items=[
            PoiInput(
                name=p.name,
                category=p.category,
                point=Point(p.lon, p.lat),
                aliases=p.aliases,
                door=DoorRef(*p.door) if p.door else None,
            )
            for p in plan.pois
        ]
    )


@transaction.atomic
def demo_city_build(*, seed: int = 1, scale: str = "small", force: bool = False) -> CityPlan | None:
    """Generate the demo city (泸州) and write it; no-op if it exists unless ``force``."""
    if demo_city_exists() and not force:
        return None
    plan = demo_city_plan(seed=seed, scale=scale)
    _clear()
    regions = [plan.city, *plan.regions]
    regions_upsert(
        items=[RegionInput(code=r.code, name=r.name, geom=r.geom) for r in regions], source="demo_city"
    )
    grids_upsert(
        items=[
            GridInput(
                code=g.code,
                name=g.name,
                geom=g.geom,
                kind=g.kind,
                households=g.households,
                population=g.population,
                community_code=g.community_code,
            )
            for g in plan.grids
        ]
    )
    streets_upsert(
        items=[StreetInput(name=r.name, kind=r.kind, geom=r.geom) for r in plan.roads],
        city_code=DEMO_CITY_CODE,
    )
    _write_addresses(plan)
    demo_events_create(seed, city_code=DEMO_CITY_CODE)
    demo_civilization_create(seed, city_code=DEMO_CITY_CODE, plan=plan)
    demo_tracks_create(seed, city_code=DEMO_CITY_CODE)
    demo_assets_create(seed, city_code=DEMO_CITY_CODE, plan=plan)
    log.info(
        "demo city: %d regions, %d grids, %d roads, %d door plates, %d compounds, %d buildings, %d POIs",
        len(regions),
        len(plan.grids),
        len(plan.roads),
        len(plan.doors),
        len(plan.places),
        len(plan.buildings),
        len(plan.pois),
    )
    return plan


# (username, password, role, district code) — printed by `make demo`, listed in README
DEMO_USERS: list[tuple[str, str, str, str | None]] = [
    ("admin", "Luzhou2024-demo", "admin", None),
    *[
        (f"{district}_{role}", f"Luzhou{2025 + i * 5 + j}-demo", role, code)
        for i, (district, code) in enumerate((("jiangyang", "510502"), ("longmatan", "510504")))
        for j, role in enumerate(("admin", "operator", "field_staff", "planner", "auditor"))
    ],
    # a handler of each district's 城市管理局: sees what is dispatched to it and handles it
    ("jiangyang_department", "Luzhou2035-demo", "department", "510502"),
    ("longmatan_department", "Luzhou2036-demo", "department", "510504"),
]


def _department_join(user, district: str) -> None:
    from events.models import Department

    department = Department.objects.filter(region_code=pad_code(district), name="城市管理局").first()
    if department is not None:
        department.handlers.add(user)


@transaction.atomic
def demo_users_create() -> list[tuple[str, str, str, str]]:
    """Create the demo users that do not exist yet; returns every demo user with its jurisdiction."""
    from django.contrib.auth import get_user_model

    from accounts.services import user_create

    existing = set(get_user_model().objects.values_list("username", flat=True))
    rows = []
    for username, password, role, district in DEMO_USERS:
        if district is None:
            where = "全国"
            if username not in existing:
                user_create(
                    username=username, password=password, roles=[role], nationwide=True, superuser=True
                )
        elif role == "field_staff":
            grids = list(
                UnitGrid.objects.filter(district_code=pad_code(district))
                .order_by("code")
                .values_list("code", flat=True)[:3]
            )
            where = "网格 " + "、".join(grids)
            if username not in existing:
                user_create(username=username, password=password, roles=[role], grid_codes=grids)
        else:
            where = Region.objects.get(code=pad_code(district)).name
            if username not in existing:
                user = user_create(username=username, password=password, roles=[role], region_code=district)
                if role == "department":
                    _department_join(user, district)
            if role == "department":
                where += " 城市管理局"
        rows.append((username, password, role, where))
    return rows
