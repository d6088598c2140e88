"""gis_core.cellcover: the cells a shape holds wholly and the cells along its edge (pure)."""

from __future__ import annotations

import numpy as np
import shapely

from gis_core.cellcover import _decode, cell_cover, cell_key, merge_runs
from gis_core.ground import ground_buffer

SIZE = 305.748113140705  # the events' cells (32 px at zoom 14)


def _cell_box(i: int, j: int) -> shapely.Polygon:
    r = 6378137.0
    lon0, lon1 = np.degrees(i * SIZE / r), np.degrees((i + 1) * SIZE / r)
    lat0, lat1 = (np.degrees(2 * np.arctan(np.exp(v * SIZE / r)) - np.pi / 2) for v in (j, j + 1))
    return shapely.box(lon0, lat0, lon1, lat1)


def _index(lon: float, lat: float) -> tuple[int, int]:
    y = 6378137.0 * np.log(np.tan(np.pi / 4 + np.radians(lat) / 2))
    return int(np.floor(6378137.0 * np.radians(lon) / SIZE)), int(np.floor(y / SIZE))


def test_runs_are_merged_down_rows_with_the_same_columns():
    runs = [(0, 1, 2), (0, 4, 4), (1, 1, 2), (1, 4, 4), (2, 0, 4), (4, 1, 2)]
    assert sorted(merge_runs(runs)) == [(0, 1, 1, 2), (0, 1, 4, 4), (2, 2, 0, 4), (4, 4, 1, 2)]
    assert merge_runs([]) == []


def test_inside_cells_lie_in_the_shape_and_edge_cells_hold_the_rest():
    circle = ground_buffer(shapely.Point(105.44, 28.87), 2_000)
    polygon = shapely.Polygon([(105.40, 28.85), (105.47, 28.86), (105.43, 28.90), (105.42, 28.87)])
    for inner, outer in ((circle, circle), (polygon, polygon)):
        cover = cell_cover(inner, outer, SIZE)
        assert cover is not None and cover.inside_cells > 10
        inside = [
            (int(i), j)
            for i, a, b in zip(cover.run_i, cover.run_a, cover.run_b, strict=True)
            for j in range(a, b + 1)
        ]
        assert all(inner.contains(_cell_box(i, j)) for i, j in inside)
        edge = set(cover.edge_keys.tolist())
        assert not edge & set(cell_key([i for i, _ in inside], [j for _, j in inside]).tolist())
        # every cell meeting the shape is inside or on the edge, and the boxes hold the edge cells
        (i0, j0), (i1, j1) = (_index(x, y) for x, y in ((outer.bounds[0], outer.bounds[1]), outer.bounds[2:]))
        boxes = shapely.union_all([shapely.box(*b) for b in cover.boxes])
        met = 0
        for i in range(i0 - 1, i1 + 2):
            for j in range(j0 - 1, j1 + 2):
                cell = _cell_box(i, j)
                if cell.intersects(outer) and (i, j) not in inside:
                    met += 1
                    assert int(cell_key(i, j)) in edge
                    assert boxes.contains(cell)
        assert met == len(edge)


def test_a_shape_over_too_many_cells_is_left_to_the_scan():
    huge = shapely.box(100, 20, 110, 30)
    assert cell_cover(huge, huge, SIZE) is None


def _inside(cover) -> set[tuple[int, int]]:
    return {
        (int(i), j)
        for i, a, b in zip(cover.run_i, cover.run_a, cover.run_b, strict=True)
        for j in range(a, b + 1)
    }


def test_a_finer_level_splits_the_coarse_edge_cells_only():
    """Coarse cells inside, then fine cells inside the coarse edge cells, then the fine edge
    cells: together exactly the fine cells meeting the shape, each once."""
    circle = ground_buffer(shapely.Point(105.44, 28.87), 1_500)
    coarse = cell_cover(circle, circle, SIZE)
    fine = cell_cover(circle, circle, SIZE / 8, within=(coarse.edge_keys, 3))
    assert coarse.inside_cells and fine.inside_cells and len(fine.edge_keys)
    parents = {(i, j) for i, j in zip(*_decode(coarse.edge_keys), strict=True)}
    fine_inside = _inside(fine)
    assert all((i >> 3, j >> 3) in parents for i, j in fine_inside)
    from_coarse = {(i * 8 + di, j * 8 + dj) for i, j in _inside(coarse) for di in range(8) for dj in range(8)}
    fine_edge = set(zip(*(v.tolist() for v in _decode(fine.edge_keys)), strict=True))
    assert not from_coarse & fine_inside and not fine_inside & fine_edge and not from_coarse & fine_edge
    # every fine cell meeting the circle is counted by one of the three
    i0, j0 = (v * 8 for v in _index(*circle.bounds[:2]))
    i1, j1 = ((v + 1) * 8 for v in _index(*circle.bounds[2:]))
    r = 6378137.0
    for i in range(i0, i1):
        for j in range(j0, j1):
            lon0, lon1 = np.degrees(i * SIZE / 8 / r), np.degrees((i + 1) * SIZE / 8 / r)
            lat0, lat1 = (np.degrees(2 * np.arctan(np.exp(v * SIZE / 8 / r)) - np.pi / 2) for v in (j, j + 1))
            if shapely.box(lon0, lat0, lon1, lat1).intersects(circle):
                assert (i, j) in from_coarse | fine_inside | fine_edge


def test_a_rectangle_is_classified_as_shapely_classifies_it():
    """A map view's bbox takes comparisons instead of a polygon per cell: the same inside
    runs, edge cells and boxes as shapely's predicates give for the same rectangle drawn with a
    redundant vertex (which takes the polygon path), sides on cell lines and ±EPS included."""
    rng = np.random.default_rng(17)
    r = 6378137.0
    lon = lambda i: float(np.degrees(i * SIZE / r))  # noqa: E731
    lat = lambda j: float(np.degrees(2 * np.arctan(np.exp(j * SIZE / r)) - np.pi / 2))  # noqa: E731
    i0, j0 = _index(105.40, 28.85)
    checked = 0
    for k in range(40):
        if k % 2:  # sides exactly on cell lines, or an EPS off them
            nudge = rng.choice([0.0, 1e-7, -1e-7, 2e-7], size=4)
            a, b = sorted(rng.integers(0, 30, 2) + np.array([0, 3]))
            c, d = sorted(rng.integers(0, 30, 2) + np.array([0, 3]))
            x0, x1 = lon(i0 + a) + nudge[0], lon(i0 + b) + nudge[1]
            y0, y1 = lat(j0 + c) + nudge[2], lat(j0 + d) + nudge[3]
        else:
            x0, x1 = sorted(105.40 + rng.uniform(0, 0.1, 2))
            y0, y1 = sorted(28.85 + rng.uniform(0, 0.1, 2))
        rect = shapely.box(x0, y0, x1, y1)
        drawn = shapely.Polygon([(x0, y0), ((x0 + x1) / 2, y0), (x1, y0), (x1, y1), (x0, y1)])
        for within in (None, "fine"):
            size, nested = (
                (SIZE, None) if within is None else (SIZE / 8, (cell_cover(rect, rect, SIZE).edge_keys, 3))
            )
            fast = cell_cover(rect, rect, size, within=nested)
            slow = cell_cover(drawn, drawn, size, within=nested)
            for name in ("run_i", "run_a", "run_b", "edge_keys"):
                assert np.array_equal(getattr(fast, name), getattr(slow, name)), (k, within, name)
            assert fast.boxes == slow.boxes
            checked += fast.inside_cells + len(fast.edge_keys)
    assert checked > 10_000


def test_the_near_distance_is_the_geodesic_within_its_stated_error():
    from gis_core.ground import GEOD, GroundDisc, near_distance

    rng = np.random.default_rng(5)
    for lat0 in (0.0, 28.9, 45.0, GroundDisc.MAX_LAT):
        for r in (50.0, 3_000.0, GroundDisc.MAX_RADIUS_M):
            n = 5_000
            lon, lat, _ = GEOD.fwd(
                np.full(n, 105.4), np.full(n, lat0), rng.uniform(0, 360, n), r * rng.uniform(0.5, 1.2, n)
            )
            _, _, true = GEOD.inv(np.full(n, 105.4), np.full(n, lat0), lon, lat)
            assert np.max(np.abs(near_distance(105.4, lat0, lon, lat) - true) / true) < 5e-5, (lat0, r)


def test_a_ground_disc_classifies_cells_by_their_geodesic_distances():
    """Inside cells lie within the radius on the spheroid (sampled densely, GeographicLib);
    every cell with a sampled point within it is inside or on the edge; and the edge band is
    narrower than the UTM polygons' (the point of the disc's own test)."""
    from gis_core.ground import GEOD, GroundDisc

    rng = np.random.default_rng(11)
    cases = [(105.44, 28.87, 3_000.0, SIZE), (105.44, 28.87, 700.0, SIZE / 8),
             (116.4, 39.9, 20_000.0, SIZE * 4), (12.5, 65.0, 1_500.0, SIZE / 8)]  # fmt: skip
    for lon0, lat0, r, size in cases:
        disc = GroundDisc.usable(lon0, lat0, r)
        outer = ground_buffer(shapely.Point(lon0, lat0), r * 1.02)
        cover = cell_cover(outer, outer, size, classify=disc.classify)
        polygons = cell_cover(ground_buffer(shapely.Point(lon0, lat0), r * 0.99), outer, size)
        assert cover.inside_cells and len(cover.edge_keys) < len(polygons.edge_keys)
        edge = set(cover.edge_keys.tolist())
        inside = _inside(cover)
        rr = 6378137.0
        (i0, j0), (i1, j1) = (
            (
                int(np.floor(rr * np.radians(x) / size)),
                int(np.floor(rr * np.log(np.tan(np.pi / 4 + np.radians(y) / 2)) / size)),
            )
            for x, y in (outer.bounds[:2], outer.bounds[2:])
        )
        t = np.linspace(0, 1, 6)
        for i in range(i0 - 1, i1 + 2):
            for j in range(j0 - 1, j1 + 2):
                lon_a, lon_b = np.degrees(i * size / rr), np.degrees((i + 1) * size / rr)
                lat_a, lat_b = (
                    np.degrees(2 * np.arctan(np.exp(v * size / rr)) - np.pi / 2) for v in (j, j + 1)
                )
                gx, gy = np.meshgrid(lon_a + t * (lon_b - lon_a), lat_a + t * (lat_b - lat_a))
                px = np.concatenate([gx.ravel(), rng.uniform(lon_a, lon_b, 20)])
                py = np.concatenate([gy.ravel(), rng.uniform(lat_a, lat_b, 20)])
                _, _, d = GEOD.inv(np.full(len(px), lon0), np.full(len(px), lat0), px, py)
                if (i, j) in inside:
                    assert d.max() <= r, (lon0, i, j)
                elif d.min() <= r:
                    assert int(cell_key(i, j)) in edge, (lon0, i, j)
