"""Fixtures of the accounts tests: users of each role in 江阳区 (district A),
API keys, the district-B (龙马潭区) data the jurisdiction tests must never leak,
and a clean slate of the Redis rate-limit counters around every test."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.permissions import SCOPES
from accounts.services import apikey_issue, user_create
from gis_core.models import Region
from grids.models import UnitGrid

A_CODE = "510502000000"  # 江阳区
A_PREFIX = "510502"
B_CODE = "510504000000"  # 龙马潭区
B_PREFIX = "510504"
CITY_CODE = "510500000000"  # 泸州市
PASSWORD = "Civgrid-Test-2024"


def _flush_rate_limits() -> None:
    client = cache._cache.get_client(None, write=True)
    keys = list(client.scan_iter(match="civgrid:rl:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def _clean_rate_limits():
    """Counters live in the real Redis: each test starts (and leaves) without any."""
    _flush_rate_limits()
    yield
    _flush_rate_limits()


def _client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def operator_a(db):
    """jiangyang: 指挥中心 of 江阳区."""
    return user_create(username="jiangyang", password=PASSWORD, roles=["operator"], region_code="510502")


@pytest.fixture
def admin_a(db):
    """jiangyang_admin: 管理员 of 江阳区 (every scope, import included), not a superuser."""
    return user_create(username="jiangyang_admin", password=PASSWORD, roles=["admin"], region_code="510502")


@pytest.fixture
def auditor_a(db):
    return user_create(username="jiangyang_audit", password=PASSWORD, roles=["auditor"], region_code="510502")


@pytest.fixture
def operator_a_api(operator_a) -> APIClient:
    return _client_for(operator_a)


@pytest.fixture
def admin_a_api(admin_a) -> APIClient:
    return _client_for(admin_a)


@pytest.fixture
def auditor_a_api(auditor_a) -> APIClient:
    return _client_for(auditor_a)


@pytest.fixture
def key_a(db):
    """A key of another system: 江阳区, every scope except import:write."""
    return apikey_issue(
        name="江阳 12345", scopes=sorted(set(SCOPES) - {"import:write"}), region_code="510502"
    )


@pytest.fixture
def key_a_api(key_a) -> APIClient:
    return bearer(key_a.token)


@pytest.fixture
def import_key_a_api(db) -> APIClient:
    issued = apikey_issue(name="江阳 导入", scopes=["import:write"], region_code="510502")
    return bearer(issued.token)


@dataclass(frozen=True)
class Districts:
    a_grids: list[str]
    b_grids: list[str]
    b_regions: list[str]
    b_grid_point: tuple[float, float]  # lon, lat inside a B grid
    a_grid_point: tuple[float, float]  # lon, lat inside an A grid


@pytest.fixture
def districts(db) -> Districts:
    a_grids = list(UnitGrid.objects.filter(code__startswith=A_PREFIX).values_list("code", flat=True))
    b_grids = list(UnitGrid.objects.filter(code__startswith=B_PREFIX).values_list("code", flat=True))
    assert a_grids and b_grids, "the demo city must have grids in both districts"
    b_regions = list(Region.objects.filter(code__startswith=B_PREFIX).values_list("code", flat=True))
    b_point = UnitGrid.objects.get(code=b_grids[0]).geom.point_on_surface
    a_point = UnitGrid.objects.get(code=a_grids[0]).geom.point_on_surface
    return Districts(a_grids, b_grids, b_regions, (b_point.x, b_point.y), (a_point.x, a_point.y))
