"""Fixtures of the tiles tests: callers of district A (江阳区) and B (龙马潭区), a
private tile-cache namespace and base-map directory per test, and MVT decoding."""

from __future__ import annotations

import uuid

import mapbox_vector_tile
import pytest
from rest_framework.test import APIClient

from accounts.services import apikey_issue, user_create
from grids.models import UnitGrid
from tiles.tilemath import Tile, lonlat_to_tile

A_CODE = "510502000000"  # 江阳区
A_PREFIX = "510502"
B_CODE = "510504000000"  # 龙马潭区
B_PREFIX = "510504"
PASSWORD = "Civgrid-Test-2024"


@pytest.fixture(autouse=True)
def tile_namespace(settings, tmp_path):
    """Each test its own Redis key space and MapProxy directory."""
    civgrid = dict(settings.CIVGRID)
    civgrid["TILE_CACHE_NAMESPACE"] = uuid.uuid4().hex
    civgrid["BASEMAP_DIR"] = str(tmp_path / "basemap")
    settings.CIVGRID = civgrid
    from tiles.selectors import mvt

    mvt.forget_statements()  # no compiled statement of another test's data
    return civgrid


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def a_api(db) -> APIClient:
    """指挥中心 (operator) of district A: every map scope, events included."""
    return client_for(
        user_create(username="tl_op_a", password=PASSWORD, roles=["operator"], region_code="510502")
    )


@pytest.fixture
def b_api(db) -> APIClient:
    return client_for(
        user_create(username="tl_op_b", password=PASSWORD, roles=["operator"], region_code="510504")
    )


@pytest.fixture
def a_key_api(db) -> APIClient:
    """An API key of district A (Authorization: Bearer)."""
    issued = apikey_issue(
        name="tiles-a",
        scopes=[
            "regions:read",
            "grids:read",
            "events:read",
            "geocode:read",
            "components:read",
            "cameras:read",
            "civilization:read",
            "tracks:read",
        ],
        region_code="510502",
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.token}")
    return client


def decode(body: bytes) -> dict:
    """An MVT's layers: {name: [features with 'properties', 'geometry' (tile units, y up), 'id']}."""
    layers = mapbox_vector_tile.decode(body) if body else {}
    return {name: layer["features"] for name, layer in layers.items()}


def tile_url(layer: str, tile: Tile, query: str = "") -> str:
    return f"/tiles/{layer}/{tile.z}/{tile.x}/{tile.y}.mvt" + (f"?{query}" if query else "")


def grid_tile(prefix: str, z: int, index: int = 0) -> tuple[UnitGrid, Tile]:
    grid = UnitGrid.objects.filter(code__startswith=prefix).order_by("code")[index]
    p = grid.geom.point_on_surface
    return grid, lonlat_to_tile(p.x, p.y, z)
