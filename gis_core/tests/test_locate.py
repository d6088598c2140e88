"""Tests for gis_core.selectors.locate: one point (SQL) and many points (in-memory index).

Run against the demo city 泸州 (seed 1) that the conftest builds: its unit grids
share bit-identical vertices, so points exactly on shared edges and vertices exist.
"""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction
from itertools import pairwise

import numpy as np
import pytest
import shapely
from django.contrib.gis.geos import Point
from django.db import transaction

from gis_core.codes import ancestor_codes
from gis_core.models import Region
from gis_core.selectors.locate import Location, locate_grid_codes, locate_point, locate_points
from gis_core.services.regions import region_clear_boundary, region_set_boundary
from grids.models import UnitGrid

from .factories import FAR_POINT, FAR_STREET_CODE, CommunityFactory, square, to_shapely

pytestmark = pytest.mark.django_db

DEMO_CITY = "510500000000"
OUTSIDE = (105.30, 28.70)  # south-west of the demo city, still in 泸州's real territory


@pytest.fixture
def demo_grids() -> dict[str, tuple[str, shapely.MultiPolygon]]:
    """Grid code → (community code, boundary) of every demo grid."""
    grids = {
        code: (community, to_shapely(geom))
        for code, community, geom in UnitGrid.objects.filter(code__startswith="5105").values_list(
            "code", "community_code", "geom"
        )
    }
    assert len(grids) > 100
    return grids


def _codes(loc: Location) -> list[str]:
    return [r["code"] for r in loc.regions]


def _one(lon: float, lat: float) -> Location:
    return locate_points(np.array([lon]), np.array([lat]))[0]


def _segments(geom) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    result = []
    for poly in geom.geoms:
        for ring in (poly.exterior, *poly.interiors):
            coords = list(ring.coords)
            result += [tuple(sorted((a, b))) for a, b in pairwise(coords)]
    return result


def _exact_midpoint(a, b) -> tuple[float, float] | None:
    """The midpoint of segment ab if it is representable exactly (then it lies exactly on ab)."""
    mx, my = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
    if 2 * Fraction(mx) == Fraction(a[0]) + Fraction(b[0]) and 2 * Fraction(my) == Fraction(a[1]) + Fraction(
        b[1]
    ):
        return mx, my
    return None


# --------------------------------------------------------------------------- single points


def test_representative_point_of_every_demo_grid(demo_grids):
    for code, (community, geom) in demo_grids.items():
        p = geom.representative_point()
        loc = locate_point(p.x, p.y)
        assert loc.inside
        assert loc.grid["code"] == code
        assert _codes(loc) == ancestor_codes(community)


def test_region_chain_of_a_demo_grid():
    grid = UnitGrid.objects.filter(code__startswith="5105").order_by("code").first()
    p = to_shapely(grid.geom).representative_point()
    loc = locate_point(p.x, p.y)
    assert loc.grid == {"code": grid.code, "name": grid.name}
    assert [r["level"] for r in loc.regions] == [1, 2, 3, 4, 5]
    assert [r["name"] for r in loc.regions[:2]] == ["四川省", "泸州市"]
    _, city, district, street, community = loc.regions
    assert city["code"] == DEMO_CITY
    assert district["code"] == grid.district_code
    assert street["code"] == grid.street_code
    assert community == {
        "code": grid.community_code,
        "name": grid.community.name,
        "level": 5,
        "level_name": "村级（社区/村）",
    }
    assert district["name"] == Region.objects.get(code=grid.district_code).name


def test_point_outside_the_city():
    for lon, lat in (OUTSIDE, (0.0, 0.0), (116.4, 39.9)):
        for loc in (locate_point(lon, lat), _one(lon, lat)):
            assert loc == Location()
            assert loc.grid is None
            assert loc.regions == ()
            assert not loc.inside


def test_point_on_a_shared_edge_goes_to_the_smaller_code(demo_grids):
    owners = defaultdict(set)
    for code, (_, geom) in demo_grids.items():
        for seg in _segments(geom):
            owners[seg].add(code)
    points = []
    for seg, codes in owners.items():
        if len(codes) == 2 and (mid := _exact_midpoint(*seg)):
            points.append((mid, min(codes), max(codes)))
    assert len(points) >= 20
    points = points[:60]
    lons = np.array([p[0][0] for p in points])
    lats = np.array([p[0][1] for p in points])
    bulk = locate_points(lons, lats)
    for ((x, y), smaller, larger), many in zip(points, bulk, strict=True):
        # both grids really contain the point (edges included)
        covering = set(UnitGrid.objects.covering(Point(x, y, srid=4326)).values_list("code", flat=True))
        assert covering == {smaller, larger}
        one = locate_point(x, y)
        assert one.grid["code"] == smaller
        assert one == many
    assert list(locate_grid_codes(lons, lats)) == [p[1] for p in points]


def test_point_on_a_shared_vertex_goes_to_the_smallest_code(demo_grids):
    owners = defaultdict(set)
    for code, (_, geom) in demo_grids.items():
        for poly in geom.geoms:
            for xy in poly.exterior.coords:
                owners[xy].add(code)
    vertices = [(xy, min(codes)) for xy, codes in owners.items() if len(codes) >= 3]
    assert len(vertices) >= 20
    vertices = vertices[:60]
    lons = np.array([v[0][0] for v in vertices])
    lats = np.array([v[0][1] for v in vertices])
    for ((x, y), smallest), many in zip(vertices, locate_points(lons, lats), strict=True):
        one = locate_point(x, y)
        assert one.grid["code"] == smallest
        assert one == many


def test_region_with_geometry_but_no_grid():
    community = CommunityFactory()
    for loc in (locate_point(*FAR_POINT), _one(*FAR_POINT)):
        assert loc.grid is None
        assert not loc.inside
        assert _codes(loc) == ancestor_codes(community.code)
        assert [r["name"] for r in loc.regions] == [
            "北京市",
            "市辖区",
            "东城区",
            "东华门街道",
            community.name,
        ]


def test_deepest_region_wins_without_a_grid():
    street = Region.objects.get(code=FAR_STREET_CODE)
    region_set_boundary(region=street, geom=to_shapely(square(*FAR_POINT, 0.01)))
    community = CommunityFactory()  # a 0.004° square in the middle of the street
    lon, lat = FAR_POINT
    for point, deepest in (((lon, lat), community.code), ((lon + 0.006, lat), street.code)):
        for loc in (locate_point(*point), _one(*point)):
            assert loc.grid is None
            assert _codes(loc) == ancestor_codes(deepest)


# --------------------------------------------------------------------------- many points


def test_locate_points_agrees_with_locate_point_on_random_points():
    city = Region.objects.get(code=DEMO_CITY)
    x0, y0, x1, y1 = city.geom.extent
    dx, dy = (x1 - x0) * 0.15, (y1 - y0) * 0.15
    rng = np.random.default_rng(20240601)
    lons = rng.uniform(x0 - dx, x1 + dx, 300)
    lats = rng.uniform(y0 - dy, y1 + dy, 300)
    bulk = locate_points(lons, lats)
    codes = locate_grid_codes(lons, lats)
    assert len(bulk) == len(codes) == 300
    inside = 0
    for lon, lat, many, code in zip(lons, lats, bulk, codes, strict=True):
        one = locate_point(float(lon), float(lat))
        assert one == many, (lon, lat)
        assert code == (one.grid["code"] if one.grid else None)
        inside += one.inside
    assert 50 < inside < 280  # both kinds of points were tried


def test_locate_points_of_nothing():
    assert locate_points(np.array([]), np.array([])) == []
    assert len(locate_grid_codes(np.array([]), np.array([]))) == 0


def test_bulk_index_reloads_after_a_boundary_change():
    lon, lat = FAR_POINT
    assert _one(lon, lat) == Location()  # loads the index
    community = CommunityFactory()
    assert _codes(_one(lon, lat))[-1] == community.code
    region_set_boundary(region=community, geom=to_shapely(square(lon + 0.01, lat, 0.002)))
    assert _one(lon, lat) == Location()
    assert _codes(_one(lon + 0.01, lat))[-1] == community.code
    region_clear_boundary(region=community)
    assert _one(lon + 0.01, lat) == Location()


def test_bulk_index_not_stale_after_a_rolled_back_change():
    """A change rolled back after the index was loaded must not linger in it.

    The rolled-back change and the next committed one leave the revision
    counter at the same number; the index has to notice all the same.
    """
    lon, lat = FAR_POINT
    with pytest.raises(RuntimeError), transaction.atomic():
        rolled_back = CommunityFactory()
        assert _codes(_one(lon, lat))[-1] == rolled_back.code
        raise RuntimeError("roll back")
    assert not Region.objects.filter(code=rolled_back.code).exists()
    assert locate_point(lon, lat) == Location()
    kept = CommunityFactory(geom=square(lon, lat, 0.001))
    assert kept.code != rolled_back.code
    assert _codes(locate_point(lon, lat))[-1] == kept.code
    assert _codes(_one(lon, lat))[-1] == kept.code
