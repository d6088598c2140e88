"""Continuous frames (gis_core/sampling/area.py): points inside polygons and along lines, spread
by area and by length, balanced better than simple random points, reproducible for a seed."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, Polygon, box

from gis_core.sampling import SamplingError, area_sample, bas, grts_area, grts_lines, sp_balance, srs

# an L-shaped district, 5 km across, and a small separate island: a multipart area
L_SHAPE = Polygon([(0, 0), (5000, 0), (5000, 2000), (2000, 2000), (2000, 5000), (0, 5000)])
ISLAND = box(6000, 6000, 6500, 6500)
ROADS = [LineString([(0, 0), (4000, 0)]), LineString([(0, 1000), (0, 3000), (2000, 3000)])]


def _inside(shape, points: np.ndarray) -> bool:
    return bool(shapely.intersects_xy(shape.buffer(1e-6), points[:, 0], points[:, 1]).all())


def test_points_lie_inside_the_polygons_and_reserves_are_distinct():
    area = shapely.union_all([L_SHAPE, ISLAND])
    s = grts_area([L_SHAPE, ISLAND], 30, seed=11, n_over=10)
    assert s.base.shape == (30, 2) and s.over.shape == (10, 2) and s.kind == "area"
    assert _inside(area, s.base) and _inside(area, s.over) and _inside(area, s.frame)
    assert len({tuple(p) for p in np.vstack([s.base, s.over])}) == 40
    assert s.measure == pytest.approx(area.area)
    # about density × (base + reserve) frame points, on a lattice of the matching spacing
    assert 0.8 * 50 * 40 <= s.frame.shape[0] <= 1.2 * 50 * 40
    assert s.spacing == pytest.approx(np.sqrt(2 * area.area / (np.sqrt(3) * 2000)), rel=0.01)


def test_points_lie_on_the_lines_spread_by_length():
    s = grts_lines(ROADS, 12, seed=5, n_over=3)
    network = shapely.MultiLineString(ROADS)
    assert s.kind == "line" and s.measure == pytest.approx(8000)
    assert all(network.distance(shapely.Point(p)) < 1e-6 for p in np.vstack([s.base, s.over]))
    # the first road is half the network's length: half the frame points, half the sites on average
    on_first = shapely.MultiLineString(ROADS[:1])
    assert np.mean([on_first.distance(shapely.Point(p)) < 1e-6 for p in s.frame]) == pytest.approx(
        0.5, abs=0.01
    )
    share = np.mean(
        [
            np.mean([on_first.distance(shapely.Point(p)) < 1e-6 for p in grts_lines(ROADS, 4, seed=k).base])
            for k in range(150)
        ]
    )
    assert share == pytest.approx(0.5, abs=0.05)


def test_sites_are_uniform_over_the_area():
    # over many seeds the share of sites in the L's vertical arm (6 of 16 km²) matches its area
    arm = box(0, 2000, 2000, 5000)
    hits = [np.mean(shapely.contains_xy(arm, *grts_area(L_SHAPE, 5, seed=k).base.T)) for k in range(300)]
    assert np.mean(hits) == pytest.approx(6 / 16, abs=0.03)


def test_same_seed_same_points_other_seed_other_points():
    a = grts_area(L_SHAPE, 20, seed=2024, n_over=4)
    b = grts_area(L_SHAPE, 20, seed=2024, n_over=4)
    assert (
        np.array_equal(a.base, b.base) and np.array_equal(a.over, b.over) and np.array_equal(a.frame, b.frame)
    )
    assert not np.array_equal(a.base, grts_area(L_SHAPE, 20, seed=2025, n_over=4).base)
    assert np.array_equal(grts_lines(ROADS, 6, seed=9).base, grts_lines(ROADS, 6, seed=9).base)


def test_grts_points_are_better_balanced_than_simple_random_points():
    grts_values, srs_values = [], []
    for k in range(20):
        s = grts_area(L_SHAPE, 25, seed=k)
        grts_values.append(sp_balance(s.frame, s.sample.base))
        srs_values.append(sp_balance(s.frame, srs(s.frame, 25, seed=1000 + k).base))
    assert np.mean(grts_values) < 0.75 * np.mean(srs_values)
    lines = [sp_balance(s.frame, s.sample.base) for s in (grts_lines(ROADS, 10, seed=k) for k in range(20))]
    lines_srs = [
        sp_balance(s.frame, s.sample.base)
        for s in (area_sample(ROADS, 10, seed=k, design=srs) for k in range(20))
    ]
    assert np.mean(lines) < 0.75 * np.mean(lines_srs)


def test_other_designs_and_minimum_distance():
    s = area_sample(L_SHAPE, 10, seed=3, design=bas, n_over=2)
    assert s.sample.method == "bas" and _inside(L_SHAPE, s.base)
    spread = grts_area(L_SHAPE, 12, seed=4, min_dist=600)
    d = np.hypot(*(spread.base[:, None, :] - spread.base[None, :, :]).transpose(2, 0, 1))
    assert d[np.triu_indices(12, 1)].min() >= 600
    with pytest.raises(SamplingError) as exc:
        grts_area(box(0, 0, 100, 100), 5, seed=1, min_dist=1000)
    assert exc.value.code == "min_dist"


def test_a_tiny_or_thin_area_still_gets_a_frame():
    sliver = shapely.affinity.rotate(box(0, 0, 10_000, 4), 37)
    s = grts_area(sliver, 5, seed=8)
    assert _inside(sliver, s.base) and s.frame.shape[0] >= 250
    small = box(0, 0, 3, 3)
    assert _inside(small, grts_area(small, 2, seed=1).base)


@pytest.mark.parametrize(
    "shapes",
    [
        [],
        [shapely.Point(0, 0)],
        [L_SHAPE, ROADS[0]],
        [Polygon()],
        [box(0, 0, 0, 10)],
        ["not a shape"],
    ],
)
def test_bad_frames_are_refused(shapes):
    with pytest.raises(SamplingError) as exc:
        area_sample(shapes, 3, seed=1)
    assert exc.value.code == "frame"


def test_bad_sizes_and_seeds_are_refused():
    for kwargs in ({"seed": -1}, {"seed": 1.5}, {"seed": 1, "density": 0}):
        with pytest.raises(SamplingError):
            area_sample(L_SHAPE, 3, **kwargs)
    with pytest.raises(SamplingError) as exc:
        grts_area(L_SHAPE, 0, seed=1)
    assert exc.value.code == "size"
    with pytest.raises(SamplingError):
        grts_area(ROADS, 3, seed=1)
    with pytest.raises(SamplingError):
        grts_lines(L_SHAPE, 3, seed=1)
