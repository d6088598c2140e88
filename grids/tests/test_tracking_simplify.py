"""grids.tracking.simplify: Douglas–Peucker by indices equals GEOS's, keeps forced vertices,
and a day of 1 Hz fixes fits the playback budget."""

from __future__ import annotations

import time

import numpy as np
import pytest
import shapely

from grids.tracking.simplify import douglas_peucker, simplify_track, tolerance_for_zoom


def noisy_walk(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    heading = np.cumsum(rng.normal(0, 0.1, n))
    x = np.cumsum(1.3 * np.cos(heading)) + rng.normal(0, 3, n)
    y = np.cumsum(1.3 * np.sin(heading)) + rng.normal(0, 3, n)
    return x, y


def reference_dp(x, y, tolerance) -> list[int]:
    """Textbook recursive Douglas–Peucker with GEOS's rules (distance to the segment, first
    farthest vertex, strictly beyond the tolerance), one vertex at a time."""
    keep = {0, len(x) - 1}

    def seg_dist(i, a, b):
        dx, dy = x[b] - x[a], y[b] - y[a]
        len2 = dx * dx + dy * dy
        u = 0.0 if len2 == 0 else min(1.0, max(0.0, ((x[i] - x[a]) * dx + (y[i] - y[a]) * dy) / len2))
        return (x[i] - x[a] - u * dx) ** 2 + (y[i] - y[a] - u * dy) ** 2

    stack = [(0, len(x) - 1)]
    while stack:
        a, b = stack.pop()
        best, at = -1.0, -1
        for i in range(a + 1, b):
            d = seg_dist(i, a, b)
            if d > best:
                best, at = d, i
        if at >= 0 and best > tolerance * tolerance:
            keep.add(at)
            stack += [(a, at), (at, b)]
    return sorted(keep)


@pytest.mark.parametrize("tolerance", [0.5, 3, 10, 50])
def test_same_vertices_as_textbook_and_as_shapely(tolerance):
    x, y = noisy_walk(3_000)
    kept = douglas_peucker(x, y, tolerance)
    assert kept.tolist() == reference_dp(x.tolist(), y.tolist(), tolerance)
    reference = shapely.get_coordinates(
        shapely.simplify(shapely.linestrings(x, y), tolerance, preserve_topology=False)
    )
    assert np.array_equal(np.column_stack([x[kept], y[kept]]), reference)


def test_repeated_positions_keep_the_first_index():
    # a person standing still sends the same coordinates: the kept vertex is the first of them,
    # so its time is when they arrived
    x = np.array([0, 1, 1, 1, 2, 2, 2], dtype=float)
    y = np.array([0, 3, 3, 3, 0, 0, 0], dtype=float)
    assert douglas_peucker(x, y, 0.5).tolist() == [0, 1, 6]  # 4 and 5 lie on the end point
    assert douglas_peucker(np.zeros(5), np.zeros(5), 1.0).tolist() == [0, 4]


def test_known_answer_on_a_small_line():
    x = np.array([0, 1, 2, 3, 4, 5, 6], dtype=float)
    y = np.array([0, 0.1, -0.1, 5, 6.0, 7, 7], dtype=float)
    # farthest from (0,0)–(6,7) is vertex 2 (1.58); then on (2,-0.1)–(6,7) vertex 3 (1.63)
    assert douglas_peucker(x, y, 1.0).tolist() == [0, 2, 3, 6]
    assert douglas_peucker(x, y, 0.0).tolist() == list(range(7))
    assert douglas_peucker(x[:2], y[:2], 5).tolist() == [0, 1]


def test_forced_vertices_are_kept_and_indices_are_sorted():
    lon = 105.44 + np.linspace(0, 0.01, 1000)
    lat = np.full(1000, 28.87)
    kept = simplify_track(lon, lat, 5.0, keep=np.array([500, 10]))
    assert kept.tolist() == [0, 10, 500, 999]


def test_tolerance_for_zoom_halves_per_level():
    assert tolerance_for_zoom(16, 0) == pytest.approx(2.388657, rel=1e-6)
    assert tolerance_for_zoom(17, 28.87) == pytest.approx(tolerance_for_zoom(16, 28.87) / 2)


def test_a_day_at_one_hertz_is_simplified_well_under_100_ms():
    x, y = noisy_walk(86_400)
    lon, lat = 105.44 + x / 97_500, 28.87 + y / 110_852
    # zoom 15: a whole day of a grid on one screen (bench/tracks.py times zooms 14–18)
    best = min(_timed(simplify_track, lon, lat, tolerance_for_zoom(15, 28.87)) for _ in range(5))
    assert best < 0.1


def _timed(fn, *args) -> float:
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t
