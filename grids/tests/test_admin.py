"""The grid admin validates with the service's rules and saves through the service."""

from __future__ import annotations

import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon

from gis_core.models import LocatorPart, Region, RegionLevel
from gis_core.selectors.locate import locate_point
from grids.models import UnitGrid


@pytest.fixture
def admin_client_logged_in(client, django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw-Boss-12345")
    client.force_login(user)
    return client


def _form(community: Region, geom: MultiPolygon, code: str) -> dict:
    return {
        "code": code, "name": "测试网格", "community": community.pk, "kind": "general",
        "geom": geom.geojson, "households": "10", "population": "25",
    }  # fmt: skip


@pytest.mark.django_db
def test_admin_rejects_invalid_geometry_and_writes_nothing(admin_client_logged_in):
    community = Region.objects.filter(level=RegionLevel.COMMUNITY, code__startswith="5105").first()
    bowtie = MultiPolygon(
        Polygon(((105.0, 28.0), (105.01, 28.01), (105.01, 28.0), (105.0, 28.01), (105.0, 28.0)))
    )
    code = community.code + "999"
    r = admin_client_logged_in.post("/admin/grids/unitgrid/add/", _form(community, bowtie, code))
    assert r.status_code == 200  # the form is shown again
    assert "网格边界无效" in r.content.decode()
    assert not UnitGrid.objects.filter(code=code).exists()
    assert not LocatorPart.objects.filter(code=code).exists()


@pytest.mark.django_db
def test_admin_add_goes_through_the_service(admin_client_logged_in):
    community = Region.objects.filter(level=RegionLevel.COMMUNITY, code__startswith="5105").first()
    square = MultiPolygon(Polygon.from_bbox((106.0, 29.5, 106.002, 29.502)))
    code = community.code + "998"
    r = admin_client_logged_in.post("/admin/grids/unitgrid/add/", _form(community, square, code))
    assert r.status_code == 302, r.content.decode()[-2000:]
    grid = UnitGrid.objects.get(code=code)
    assert grid.area_m2 > 40_000  # ~195 m × 222 m, computed on the ellipsoid
    assert grid.district_code == community.code[:6] + "000000"
    assert locate_point(106.001, 29.501).grid["code"] == code
