"""Tests for grids.selectors.topology: every kind of issue in a community with a known layout.

The test community (400 m × 300 m, local metres east/north of its south-west corner):

    y 300 +-----------------+-------------------+--+
          |                 |   003  [hole 2×2] |  |  ← 003 sticks 20 m out east (outside)
      200 |       001       +-------------------+--+
          |                 |  gap  [004 bowtie]|     ← 004 is made invalid with raw SQL
      150 |              +--+-------------------+
          |              |//|       002         |     ← 001 and 002 overlap 10 m × 150 m
        0 +--------------+--+-------------------+
          0             190 200                 400

Every edge is a meridian or a parallel, so the expected shapes are exact in lon/lat
and their ground areas come from pyproj.Geod.
"""

from __future__ import annotations

import pytest
import shapely
from django.db import connection
from pyproj import Geod

from gis_core.tests.test_imports import (
    TEST_COMMUNITY,
    bowtie,
    carve_community,
    local_box,
    local_polygon,
    lonlat,
)
from grids.models import UnitGrid
from grids.selectors.topology import topology_check
from grids.services.grids import GridInput, grids_upsert

_GEOD = Geod(ellps="WGS84")
DEMO_DISTRICT = "510502"


def ground_area(geom) -> float:
    return abs(_GEOD.geometry_area_perimeter(geom)[0])


def code(serial: int, community: str = TEST_COMMUNITY) -> str:
    return f"{community}{serial:03d}"


def make_invalid(grid_code: str, geom) -> None:
    """Store an invalid geometry the way a careless bulk load would: straight into the table."""
    with connection.cursor() as cur:
        table = UnitGrid._meta.db_table
        cur.execute(
            f"UPDATE {table} SET geom = ST_Multi(ST_GeomFromText(%s, 4326)) WHERE code = %s",
            [geom.wkt, grid_code],
        )


def build_faulty_community() -> dict[str, object]:
    """The layout above; returns the expected issue shapes."""
    carve_community()
    a = local_box(0, 0, 200, 300)
    b = local_box(190, 0, 400, 150)
    c = local_polygon(
        [(200, 200), (420, 200), (420, 300), (200, 300)],
        holes=[[(300, 250), (302, 250), (302, 252), (300, 252)]],
    )
    grids_upsert(
        items=[
            GridInput(code=code(1), name="一号网格", geom=a),
            GridInput(code=code(2), name="二号网格", geom=b),
            GridInput(code=code(3), name="三号网格", geom=c),
            GridInput(code=code(4), name="四号网格", geom=local_box(250, 160, 290, 190)),
        ]
    )
    invalid = bowtie(250, 160, 290, 190)
    make_invalid(code(4), invalid)
    return {
        "overlap": a.intersection(b),
        "gap": local_box(200, 150, 400, 200),
        "sliver": local_box(300, 250, 302, 252),
        "outside": local_box(400, 200, 420, 300),
        "invalid": invalid,
    }


def issues_by_type(reports) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in reports:
        for issue in r.issues:
            out.setdefault(issue["type"], []).append(issue)
    return out


def assert_point_within(issue: dict, geom, tol: float = 1e-7) -> None:
    assert issue["location"]["type"] == "Point"
    point = shapely.Point(issue["location"]["coordinates"])
    assert geom.buffer(tol).covers(point)


def test_demo_district_is_clean(db):
    reports = topology_check(region_code=DEMO_DISTRICT)
    assert reports and all(r.community["code"].startswith(DEMO_DISTRICT) for r in reports)
    assert sum(r.grids for r in reports) == UnitGrid.objects.filter(district_code="510502000000").count()
    assert [r.issues for r in reports if not r.ok] == []


def test_every_kind_of_issue_is_reported(db):
    expected = build_faulty_community()

    [report] = topology_check(region_code=TEST_COMMUNITY)

    assert report.community == {"code": TEST_COMMUNITY, "name": "试验社区"}
    assert report.grids == 4 and not report.ok
    found = issues_by_type([report])
    assert sorted(found) == ["gap", "invalid", "outside", "overlap", "sliver"]
    assert all(len(v) == 1 for v in found.values()), found
    for issue in report.issues:
        assert issue["location"]["type"] == "Point" and "area_m2" in issue and issue["message"]

    [overlap] = found["overlap"]
    assert overlap["grids"] == [code(1), code(2)]
    assert overlap["area_m2"] == pytest.approx(ground_area(expected["overlap"]), rel=0.01)
    assert overlap["area_m2"] == pytest.approx(1500, rel=0.01)
    assert code(1) in overlap["message"] and code(2) in overlap["message"] and "重叠" in overlap["message"]

    [gap] = found["gap"]
    assert gap["grids"] == [] and gap["area_m2"] == pytest.approx(ground_area(expected["gap"]), rel=0.01)
    assert "未被任何网格覆盖" in gap["message"]

    [sliver] = found["sliver"]
    assert sliver["of"] == "gap" and sliver["area_m2"] < 10
    assert sliver["area_m2"] == pytest.approx(ground_area(expected["sliver"]), rel=0.01)

    [outside] = found["outside"]
    assert outside["grids"] == [code(3)] and "超出所属社区" in outside["message"]
    assert outside["area_m2"] == pytest.approx(ground_area(expected["outside"]), rel=0.01)

    [invalid] = found["invalid"]
    assert invalid["grids"] == [code(4)] and invalid["area_m2"] is None
    assert "Self-intersection" in invalid["message"]
    # the reason's location is where the ring crosses itself: the middle of the bowtie
    crossing = shapely.Point(lonlat(270, 175))
    assert shapely.Point(invalid["location"]["coordinates"]).distance(crossing) < 1e-7

    for kind in ("overlap", "gap", "sliver", "outside"):
        issue = found[kind][0]
        assert_point_within(issue, expected[kind])
        shape = shapely.geometry.shape(issue["geometry"])
        assert shapely.hausdorff_distance(shape, expected[kind]) < 1e-7


def test_thin_overlap_is_a_sliver_whatever_its_area(db):
    carve_community()
    grids_upsert(
        items=[
            GridInput(code=code(1), name="西", geom=local_box(0, 0, 200.5, 300)),
            GridInput(code=code(2), name="东", geom=local_box(200, 0, 400, 300)),
        ]
    )
    [report] = topology_check(region_code=TEST_COMMUNITY)
    [issue] = report.issues
    assert (issue["type"], issue["of"], issue["grids"]) == ("sliver", "overlap", [code(1), code(2)])
    assert issue["area_m2"] == pytest.approx(150, rel=0.01)  # 0.5 m × 300 m: above 10 m², but thin
    assert "重叠" in issue["message"]


def test_community_without_grids_is_one_gap(db):
    community = carve_community()
    [report] = topology_check(region_code=TEST_COMMUNITY)
    assert report.grids == 0
    [gap] = report.issues
    assert gap["type"] == "gap" and gap["area_m2"] == pytest.approx(community.area_m2, rel=0.001)


def test_region_filter_by_street(db):
    build_faulty_community()
    reports = topology_check(region_code="510502003")
    assert [r.community["code"] for r in reports] == [TEST_COMMUNITY]
    assert topology_check(region_code="510502003000") == reports


def test_overlap_with_a_neighbouring_communitys_grid(db):
    west, east = TEST_COMMUNITY, "510502003902"
    carve_community()
    carve_community(code=east, name="东邻社区", box=(400, 0, 800, 300))
    grids_upsert(
        items=[
            # the west community's grid reaches 10 m into the east community
            GridInput(code=code(1, west), name="西网格", geom=local_box(0, 0, 410, 300)),
            GridInput(code=code(1, east), name="东网格", geom=local_box(400, 0, 800, 300)),
        ]
    )
    for region, kinds in ((east, ["overlap"]), (west, ["outside", "overlap"])):
        [report] = topology_check(region_code=region)
        assert sorted(i["type"] for i in report.issues) == sorted(kinds), region
        [overlap] = [i for i in report.issues if i["type"] == "overlap"]
        assert overlap["grids"] == [code(1, west), code(1, east)]
        assert overlap["area_m2"] == pytest.approx(10 * 300, rel=0.01)


@pytest.mark.parametrize(
    ("inner", "area"),
    [((100, 100, 150, 150), 50 * 50), ((0, 0, 400, 300), 400 * 300)],
    ids=["nested", "duplicate"],
)
def test_grid_inside_another_is_an_overlap(db, inner, area):
    carve_community()
    grids_upsert(
        items=[
            GridInput(code=code(1), name="大网格", geom=local_box(0, 0, 400, 300)),
            GridInput(code=code(2), name="小网格", geom=local_box(*inner)),
        ]
    )
    [report] = topology_check(region_code=TEST_COMMUNITY)
    [issue] = report.issues
    assert (issue["type"], issue["grids"]) == ("overlap", [code(1), code(2)])
    assert issue["area_m2"] == pytest.approx(area, rel=0.01)
