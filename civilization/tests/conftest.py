"""Fixtures of the civilization tests: callers of district A (江阳区) and B (龙马潭区) with and
without personal:read, points inside A and B grids, and units made through the service."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from accounts.scoping import Jurisdiction
from accounts.services import user_create
from civilization.services.units import UnitInput, unit_create
from gis_core.models import LocatorLayer, LocatorPart

A_CODE = "510502000000"  # 江阳区
B_CODE = "510504000000"  # 龙马潭区
A_PREFIX, B_PREFIX = "510502", "510504"
PASSWORD = "Civgrid-Test-2024"
NATIONWIDE = Jurisdiction(nationwide=True)
A = Jurisdiction(region_code=A_CODE)


@dataclass(frozen=True)
class GridPoint:
    grid_code: str
    lon: float
    lat: float


def grid_points(prefix: str, n: int = 5) -> list[GridPoint]:
    """Representative points of the first ``n`` grids of a district (one per grid)."""
    parts = (
        LocatorPart.objects.filter(layer=LocatorLayer.GRID, code__startswith=prefix)
        .order_by("code", "pk")
        .values_list("code", "geom")
    )
    seen, out = set(), []
    for code, geom in parts:
        if code in seen:
            continue
        seen.add(code)
        p = geom.point_on_surface
        out.append(GridPoint(code, p.x, p.y))
        if len(out) == n:
            break
    return out


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def planner_a(db) -> APIClient:
    """文明办 of 江阳区: civilization:read/write/draw and personal:read."""
    return client_for(
        user_create(username="planner_a", password=PASSWORD, roles=["planner"], region_code="510502")
    )


@pytest.fixture
def planner_b(db) -> APIClient:
    return client_for(
        user_create(username="planner_b", password=PASSWORD, roles=["planner"], region_code="510504")
    )


@pytest.fixture
def planner_city(db) -> APIClient:
    return client_for(
        user_create(username="planner_city", password=PASSWORD, roles=["planner"], region_code="5105")
    )


@pytest.fixture
def operator_a(db) -> APIClient:
    """指挥中心 of 江阳区: civilization:read without personal:read."""
    return client_for(
        user_create(username="operator_a", password=PASSWORD, roles=["operator"], region_code="510502")
    )


@pytest.fixture
def points_a(db) -> list[GridPoint]:
    return grid_points(A_PREFIX, 6)


@pytest.fixture
def points_b(db) -> list[GridPoint]:
    return grid_points(B_PREFIX, 6)


def make_unit(name: str, kind: str, point: GridPoint, **extra):
    item = UnitInput(
        name=name,
        unit_type=kind,
        level=extra.pop("level", "city"),
        year_awarded=extra.pop("year_awarded", 2021),
        point=(point.lon, point.lat),
        **extra,
    )
    return unit_create(item=item, jurisdiction=NATIONWIDE)
