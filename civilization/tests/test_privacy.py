"""A family's exact point is personal data: only callers with personal:read see it; everyone
else gets its community's representative point, everywhere — list, detail, bbox, circle, grid
filter, heatmap, clusters, statistics, export and "near me" — and no query can find the exact one."""

from __future__ import annotations

import csv
import io

import pytest

from civilization.models import CivilizationUnit

from .conftest import A_PREFIX, grid_points, make_unit


@pytest.fixture
def family(db):
    """A family in a grid of A that is not the grid of its community's representative point."""
    for point in grid_points(A_PREFIX, 40):
        unit = make_unit("测试王家庭", "family", point, address="某小区1栋101", contact="13800000000")
        if unit.public_grid_code != unit.grid_code:
            return unit
        unit.delete()
    pytest.skip("no community of A with two grids")


def _ids(body: dict) -> set[int]:
    return {f["id"] for f in body["features"]}


def test_the_planner_sees_the_exact_point_and_the_operator_the_community_point(family, planner_a, operator_a):
    exact = planner_a.get(f"/api/v1/civilization/units/{family.pk}").json()
    assert exact["geometry"]["coordinates"] == pytest.approx([family.geom.x, family.geom.y])
    assert exact["properties"]["address"] == "某小区1栋101" and not exact["properties"]["coarsened"]
    coarse = operator_a.get(f"/api/v1/civilization/units/{family.pk}").json()
    assert coarse["geometry"]["coordinates"] == pytest.approx([family.public_geom.x, family.public_geom.y])
    assert coarse["properties"]["coarsened"] is True
    assert coarse["properties"]["address"] == coarse["properties"]["contact"] == ""
    assert coarse["properties"]["grid_code"] == family.public_grid_code != family.grid_code
    assert str(family.geom.x)[:9] not in str(coarse)


def test_no_range_query_finds_the_exact_point_without_personal_read(family, planner_a, operator_a):
    x, y = family.geom.x, family.geom.y
    px, py = family.public_geom.x, family.public_geom.y
    tiny = f"{x - 1e-5},{y - 1e-5},{x + 1e-5},{y + 1e-5}"
    around_public = f"{px - 1e-5},{py - 1e-5},{px + 1e-5},{py + 1e-5}"
    url = "/api/v1/civilization/units"
    cases = [
        ({"bbox": tiny}, True, False),
        ({"lon": x, "lat": y, "radius": 3}, True, False),
        ({"grid": family.grid_code}, True, False),
        ({"bbox": around_public}, False, True),
        ({"grid": family.public_grid_code}, None, True),
    ]
    for params, planner_sees, operator_sees in cases:
        if planner_sees is not None:
            assert (family.pk in _ids(planner_a.get(url, params).json())) is planner_sees, params
        assert (family.pk in _ids(operator_a.get(url, params).json())) is operator_sees, params
    # a drawn polygon by POST as well
    ring = [[x - 1e-5, y - 1e-5], [x + 1e-5, y - 1e-5], [x + 1e-5, y + 1e-5], [x - 1e-5, y + 1e-5]]
    polygon = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
    body = operator_a.post(url, {"polygon": polygon}, format="json")
    assert body.status_code == 403  # POST on the list creates units: the operator may not
    body = operator_a.post(url + "/heatmap", {"polygon": polygon, "size": 50}, format="json").json()
    assert body["count"] == 0


def test_aggregates_and_exports_use_the_community_point(family, operator_a, planner_a):
    x, y = family.geom.x, family.geom.y
    circle = {"lon": x, "lat": y, "radius": 3}
    assert operator_a.get("/api/v1/civilization/units/heatmap", {**circle, "size": 20}).json()["count"] == 0
    assert planner_a.get("/api/v1/civilization/units/heatmap", {**circle, "size": 20}).json()["count"] == 1
    clusters = operator_a.get("/api/v1/civilization/units/clusters", {**circle, "size": 20}).json()
    assert clusters["count"] == 0
    grid_stats = operator_a.get("/api/v1/civilization/units/stats", {"by": "grid", "type": "family"}).json()
    grids = {r["code"] for r in grid_stats["results"]}
    assert family.public_grid_code in grids
    exact_grids = {
        r["code"] for r in planner_a.get("/api/v1/civilization/units/stats", {"by": "grid"}).json()["results"]
    }
    assert family.grid_code in exact_grids
    for client, point, address in (
        (operator_a, family.public_geom, ""),
        (planner_a, family.geom, "某小区1栋101"),
    ):
        text = client.get("/api/v1/civilization/units/export", {"format": "csv", "q": "测试王"}).content
        rows = list(csv.DictReader(io.StringIO(text.decode("utf-8-sig"))))
        assert len(rows) == 1
        assert float(rows[0]["经度"]) == pytest.approx(point.x) and rows[0]["地址"] == address
    near = operator_a.get(
        "/api/v1/civilization/near", {"lon": x, "lat": y, "type": "family", "limit": 1}
    ).json()
    feature = near["units"]["features"][0]
    assert feature["geometry"]["coordinates"] == pytest.approx([family.public_geom.x, family.public_geom.y])
    assert feature["properties"]["distance_m"] > 1


def test_the_generic_layer_export_leaves_families_out(family, db):
    from gis_core.imports.registry import get_layer

    assert not get_layer("civilization_units").export_queryset().filter(pk=family.pk).exists()
    assert CivilizationUnit.objects.filter(pk=family.pk).exists()


def test_a_redrawn_community_moves_its_families_public_point(family):
    """The community point is placed from the boundary: redrawing the community moves it (and
    the grid it is shown in) for every family there; the exact point stays."""
    from shapely.geometry import box

    from civilization.services.units import community_public_points
    from gis_core.models import Region
    from gis_core.services.regions import region_set_boundary

    community = Region.objects.get(code=family.region_code)
    before = (family.public_geom.x, family.public_geom.y)
    # the community shrunk to a small box around the family's own grid point
    x, y = family.geom.x, family.geom.y
    region_set_boundary(region=community, geom=box(x - 2e-4, y - 2e-4, x + 2e-4, y + 2e-4))
    family.refresh_from_db()
    lon, lat, grid = community_public_points({community.code})[community.code]
    assert (family.public_geom.x, family.public_geom.y) == pytest.approx((lon, lat))
    assert (lon, lat) != pytest.approx(before)
    assert family.public_grid_code == grid == family.grid_code  # the box lies in the family's grid
    assert family.geom.x == x and family.geom.y == y
