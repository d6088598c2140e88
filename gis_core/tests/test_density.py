"""Heatmap bins and clusters (gis_core/selectors/density.py) on the demo city's door plates, checked
against bins computed in Python: pyproj's EPSG:3857 for square cells, the nearest hexagon centre (the
Voronoi cell of a hexagonal lattice is its hexagon) for hexagonal ones."""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import pyproj
import pytest
import shapely

from accounts.scoping import Jurisdiction, scope_queryset
from geocoding.models import DoorPlate
from gis_core.errors import InvalidInput
from gis_core.selectors.density import MPP_ZOOM0, BinGrid, clusters, heatmap
from gis_core.selectors.ranges import Circle, RangeFilter

pytestmark = pytest.mark.django_db

TO_MERCATOR = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
A, B = "510502", "510504"


@pytest.fixture
def doors(db) -> list[tuple[int, float, float, int]]:
    """(pk, web-mercator x, y, door number) of every door plate."""
    rows = []
    for pk, geom, number in DoorPlate.objects.values_list("pk", "geom", "number"):
        x, y = TO_MERCATOR.transform(geom.x, geom.y)
        rows.append((pk, x, y, number))
    return rows


def square_cell(x: float, y: float, s: float) -> tuple[int, int]:
    return math.floor(x / s), math.floor(y / s)


def hex_cell(x: float, y: float, s: float) -> tuple[int, int]:
    """The PostGIS (i, j) of the flat-topped hexagon of edge ``s`` whose centre is nearest."""
    height = math.sqrt(3) * s
    best = None
    i0 = round(x / (1.5 * s))
    for i in (i0 - 1, i0, i0 + 1):
        shift = 0.5 if i % 2 else 0.0
        j0 = round(y / height - shift)
        for j in (j0 - 1, j0, j0 + 1):
            d = math.hypot(x - 1.5 * s * i, y - height * (j + shift))
            if best is None or d < best[0]:
                best = (d, i, j)
    return best[1], best[2]


CELL = {"square": square_cell, "hex": hex_cell}


def truth(doors, grid: BinGrid, only: set[int] | None = None) -> Counter:
    cell = CELL[grid.shape]
    return Counter(cell(x, y, grid.size) for pk, x, y, _ in doors if only is None or pk in only)


def as_counter(result) -> Counter:
    return Counter({(b.i, b.j): b.count for b in result.bins})


@pytest.mark.parametrize("shape", ["square", "hex"])
@pytest.mark.parametrize("zoom", [11, 14, 16, 18])
def test_bins_are_the_cells_python_computes(doors, shape, zoom):
    grid = BinGrid.for_zoom(shape, zoom, 32)
    result = heatmap(DoorPlate.objects.all(), grid)
    assert as_counter(result) == truth(doors, grid)
    assert result.count == len(doors) == sum(b.count for b in result.bins)


@pytest.mark.parametrize("shape", ["square", "hex"])
def test_bin_polygons_are_postgis_cells_holding_their_points(doors, shape):
    grid = BinGrid.for_ground(shape, 250, 28.87)
    result = heatmap(DoorPlate.objects.all(), grid, polygons=True)
    points = {pk: shapely.Point(g.x, g.y) for pk, g in DoorPlate.objects.values_list("pk", "geom")}
    cells = {pk: CELL[shape](x, y, grid.size) for pk, x, y, _ in doors}
    for b in result.bins:
        assert b.polygon.contains(shapely.Point(b.lon, b.lat)), "the centre lies in its ST_Square/ST_Hexagon"
        members = [points[pk] for pk, cell in cells.items() if cell == (b.i, b.j)]
        assert len(members) == b.count
        assert all(b.polygon.buffer(1e-7).covers(p) for p in members)


def test_ground_size_and_zoom_size():
    grid = BinGrid.for_ground("hex", 500, 28.87)
    assert grid.ground_size_m(28.87) == pytest.approx(500)
    assert grid.size == pytest.approx(500 / math.cos(math.radians(28.87)))
    assert BinGrid.for_zoom("square", 15, 40).size == pytest.approx(156_543.033928 / 2**15 * 40)
    assert pytest.approx(156_543.033928) == MPP_ZOOM0


@pytest.mark.parametrize("shape", ["square", "hex"])
def test_totals_equal_the_filtered_count(doors, shape):
    lon, lat = 105.44, 28.87
    scoped = scope_queryset(DoorPlate.objects.all(), Jurisdiction(region_code=A))
    cases = [
        RangeFilter(circle=Circle(lon, lat, 900)).apply(DoorPlate.objects.all()),
        RangeFilter(polygon=shapely.box(105.43, 28.86, 105.445, 28.875)).apply(DoorPlate.objects.all()),
        RangeFilter(region="5105").apply(scoped),
        DoorPlate.objects.filter(street__name__contains="路"),
        scoped,
    ]
    for zoom in (12, 15, 17):
        grid = BinGrid.for_zoom(shape, zoom, 24)
        for qs in cases:
            result = heatmap(qs, grid)
            assert result.count == sum(b.count for b in result.bins) == qs.count()
            assert as_counter(result) == truth(doors, grid, set(qs.values_list("pk", flat=True)))


def test_weights_are_summed_per_bin(doors):
    grid = BinGrid.for_zoom("hex", 15, 32)
    result = heatmap(DoorPlate.objects.all(), grid, weight_field="number")
    expected = defaultdict(float)
    for _, x, y, number in doors:
        expected[hex_cell(x, y, grid.size)] += number
    assert {(b.i, b.j): b.weight for b in result.bins} == expected
    assert result.weight == sum(n for *_, n in doors)
    assert heatmap(DoorPlate.objects.all(), grid).weight is None


def test_empty_querysets_have_no_bins():
    grid = BinGrid.for_zoom("square", 15)
    for qs in (
        DoorPlate.objects.none(),
        DoorPlate.objects.filter(pk__in=[]),
        DoorPlate.objects.filter(pk=-1),
    ):
        result = heatmap(qs, grid, weight_field="number")
        assert result.bins == [] and result.count == 0 and result.weight == 0.0
        assert clusters(qs, grid) == []


def test_too_many_bins_is_refused():
    with pytest.raises(InvalidInput) as caught:
        heatmap(DoorPlate.objects.all(), BinGrid.for_zoom("square", 20, 8), max_bins=10)
    assert caught.value.code == "too_many_bins"
    with pytest.raises(InvalidInput):
        clusters(DoorPlate.objects.all(), BinGrid.for_zoom("square", 20, 8), max_clusters=10)


@pytest.mark.parametrize(("shape", "size"), [("triangle", 100.0), ("hex", 0.1), ("square", float("nan"))])
def test_bad_grids(shape, size):
    with pytest.raises(InvalidInput):
        BinGrid(shape, size)


@pytest.mark.parametrize("shape", ["square", "hex"])
def test_clusters_are_the_cells_with_centroid_bbox_and_lone_ids(doors, shape):
    grid = BinGrid.for_zoom(shape, 14, 60)
    found = clusters(DoorPlate.objects.all(), grid)
    assert sum(c.count for c in found) == len(doors)
    assert [c.count for c in found] == sorted((c.count for c in found), reverse=True)
    members = defaultdict(list)
    lonlat = {pk: (g.x, g.y) for pk, g in DoorPlate.objects.values_list("pk", "geom")}
    for pk, x, y, _ in doors:
        members[CELL[shape](x, y, grid.size)].append(pk)
    by_size = sorted(members.values(), key=len, reverse=True)
    assert sorted(c.count for c in found) == sorted(len(m) for m in by_size)
    for c in found:
        group = next(
            m for m in by_size if len(m) == c.count and _centroid(m, lonlat) == pytest.approx((c.lon, c.lat))
        )
        xs, ys = zip(*(lonlat[pk] for pk in group), strict=True)
        assert c.bbox == pytest.approx((min(xs), min(ys), max(xs), max(ys)))
        assert c.id == (group[0] if c.count == 1 else None)


def _centroid(pks, lonlat) -> tuple[float, float]:
    xs, ys = zip(*(lonlat[pk] for pk in pks), strict=True)
    return sum(xs) / len(xs), sum(ys) / len(ys)


def test_scoped_density_stays_scoped():
    scoped = scope_queryset(DoorPlate.objects.all(), Jurisdiction(region_code=A))
    a_ids = set(scoped.values_list("pk", flat=True))
    grid = BinGrid.for_zoom("hex", 18, 16)
    assert heatmap(scoped, grid).count == len(a_ids)
    lone = [c.id for c in clusters(scoped, grid) if c.id is not None]
    assert lone and set(lone) <= a_ids
    assert sum(c.count for c in clusters(scoped, grid)) == len(a_ids)
