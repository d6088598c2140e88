"""grids.tracking.trips: patrols and stops on crafted tracks with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from grids.tracking.geo import step_distances
from grids.tracking.trips import TripRules, running_distance, split_trips

LON, LAT = 105.44, 28.87
M_LON = 1 / (111_320.0 * np.cos(np.radians(LAT)))
M_LAT = 1 / 110_852.0
RULES = TripRules(stop_radius_m=30, stop_min_s=180, max_gap_s=300, min_trip_m=200, min_trip_s=60)


def track(*legs: tuple[str, float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Legs of ("walk", seconds, metres per second east) / ("stay", seconds, 0) / ("gap", seconds,
    metres moved during it), one fix every 5 s, starting at t=0."""
    t, x = [0.0], [0.0]
    for kind, seconds, value in legs:
        if kind == "gap":
            t.append(t[-1] + seconds)
            x.append(x[-1] + value)
            continue
        for _ in range(int(seconds // 5)):
            t.append(t[-1] + 5)
            x.append(x[-1] + (value * 5 if kind == "walk" else 0))
    x_arr = np.array(x)
    return np.array(t), LON + x_arr * M_LON, np.full(len(t), LAT)


def test_walk_stop_walk_is_two_patrols_and_one_stop():
    t, lon, lat = track(("walk", 600, 1.2), ("stay", 600, 0), ("walk", 300, 1.2))

    trips, stops = split_trips(t, lon, lat, rules=RULES)

    assert len(stops) == 1
    stop = stops[0]
    assert stop.duration_s == pytest.approx(600, abs=30)  # the anchor circle starts it ≤ 30 m early
    assert stop.start == pytest.approx(600, abs=30)
    assert len(trips) == 2
    assert trips[0].distance_m == pytest.approx(720, abs=30)  # ends where the stop begins
    assert trips[1].distance_m == pytest.approx(360, abs=1)
    assert trips[0].start == 0 and trips[1].end == t[-1]
    assert trips[0].avg_speed_mps == pytest.approx(1.2, rel=0.06)


def test_a_data_gap_ends_a_patrol():
    t, lon, lat = track(("walk", 600, 1.2), ("gap", 900, 500), ("walk", 600, 1.2))

    trips, stops = split_trips(t, lon, lat, rules=RULES)

    assert stops == []
    assert len(trips) == 2
    assert trips[0].end == 600 and trips[1].start == 1500
    # the straight line across the gap belongs to no patrol
    assert sum(tr.distance_m for tr in trips) == pytest.approx(1440, rel=0.01)


def test_a_gap_without_moving_is_part_of_a_stop():
    t, lon, lat = track(("walk", 600, 1.2), ("gap", 1200, 3), ("walk", 600, 1.2))

    trips, stops = split_trips(t, lon, lat, rules=RULES)

    assert len(stops) == 1 and stops[0].duration_s >= 1200
    assert len(trips) == 2


def test_short_moves_are_not_patrols():
    t, lon, lat = track(("stay", 400, 0), ("walk", 100, 1.0), ("stay", 400, 0))

    trips, stops = split_trips(t, lon, lat, rules=RULES)

    assert trips == []  # 100 m < min_trip_m
    assert len(stops) == 2


def test_an_empty_or_single_fix_track():
    assert split_trips(np.array([]), np.array([]), np.array([])) == ([], [])
    trips, stops = split_trips(np.array([0.0]), np.array([LON]), np.array([LAT]), rules=RULES)
    assert trips == [] and stops == []


def test_running_distance_is_the_sum_of_steps_and_any_window_is_a_subtraction():
    rng = np.random.default_rng(3)
    lon = LON + np.cumsum(rng.normal(0, 10, 500)) * M_LON
    lat = LAT + np.cumsum(rng.normal(0, 10, 500)) * M_LAT
    cum = running_distance(lon, lat, start_m=1000.0)
    steps = step_distances(lon, lat)
    assert cum[0] == 1000.0
    for a, b in ((0, 499), (10, 20), (123, 400)):
        assert cum[b] - cum[a] == pytest.approx(steps[a:b].sum(), rel=1e-12)


def per_fix_spells(t, x, y, rules: TripRules) -> list[tuple[int, int]]:
    """The anchor rule one fix at a time (what the windowed search must reproduce)."""
    spells, anchor = [], 0
    for i in range(1, len(t)):
        if (x[i] - x[anchor]) ** 2 + (y[i] - y[anchor]) ** 2 <= rules.stop_radius_m**2:
            continue
        if t[i - 1] - t[anchor] >= rules.stop_min_s:
            spells.append((anchor, i - 1))
        anchor = i
    if t[-1] - t[anchor] >= rules.stop_min_s:
        spells.append((anchor, len(t) - 1))
    return spells


@pytest.mark.parametrize("seed", range(6))
def test_windowed_stop_search_equals_the_per_fix_rule(seed):
    from grids.tracking.trips import _stationary_spells

    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 8_000))
    speed = np.repeat(np.where(rng.random(n // 50 + 1) < 0.3, 0.0, 1.2), 50)[:n]  # walks and stays
    heading = np.cumsum(rng.normal(0, 0.15, n))
    x = np.cumsum(speed * np.cos(heading)) + rng.normal(0, 3, n)
    y = np.cumsum(speed * np.sin(heading)) + rng.normal(0, 3, n)
    t = np.cumsum(rng.integers(1, 30, n)).astype(float)
    radius, minimum = float(rng.choice([5, 20, 50])), float(rng.choice([0, 60, 180]))
    rules = TripRules(stop_radius_m=radius, stop_min_s=minimum)
    assert _stationary_spells(t, x, y, rules) == per_fix_spells(t, x, y, rules)
