"""Splitting a person's track into patrols (trips) and stops, as Traccar's Trips and Stops
reports do.

One pass over the fixes in time order keeps an *anchor* (where the person may be
standing): while fixes stay within ``stop_radius_m`` of it the person is stationary;
when a fix leaves the circle, the stationary spell becomes a **stop** if it lasted at
least ``stop_min_s``, and the fix becomes the new anchor. A **data gap** (no fix for more
than ``max_gap_s``) ends the patrol in progress — unless the person did not move across
it, in which case the gap is part of a stop (a phone that sleeps while its owner sits).

**Patrols** are the stretches between stops and gaps; one shorter than
``min_trip_m`` or ``min_trip_s`` is dropped (a few steps around a stop are not a patrol).
Mileage is the difference of the running distance, so it agrees with any other window
over the same fixes.

The anchor circle makes the split deterministic and O(n); a stop can begin at most
``stop_radius_m`` of walking early (the fixes approaching the standing point already lie
inside the circle).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geo import local_xy, step_distances

__all__ = ["Stop", "Trip", "TripRules", "accumulate", "running_distance", "split_trips"]


@dataclass(frozen=True)
class TripRules:
    stop_radius_m: float = 50.0
    stop_min_s: float = 180.0
    max_gap_s: float = 300.0
    min_trip_m: float = 200.0
    min_trip_s: float = 60.0


@dataclass(frozen=True)
class Trip:
    first: int  # index of the first fix
    last: int  # index of the last fix (inclusive)
    start: float  # epoch seconds
    end: float
    distance_m: float

    @property
    def duration_s(self) -> float:
        return self.end - self.start

    @property
    def avg_speed_mps(self) -> float:
        return self.distance_m / self.duration_s if self.duration_s > 0 else 0.0


@dataclass(frozen=True)
class Stop:
    first: int
    last: int
    start: float
    end: float
    lon: float  # mean position of the stop's fixes
    lat: float

    @property
    def duration_s(self) -> float:
        return self.end - self.start


def running_distance(lon: np.ndarray, lat: np.ndarray, start_m: float = 0.0) -> np.ndarray:
    """Cumulative ground distance (metres) at every fix, starting at ``start_m``."""
    return accumulate(step_distances(lon, lat), start_m, len(lon))


def accumulate(steps: np.ndarray, start_m: float, n: int) -> np.ndarray:
    """The running distance of ``n`` fixes from the ``n - 1`` steps between them."""
    out = np.empty(n)
    if n:
        out[0] = start_m
        np.cumsum(steps, out=out[1:])
        out[1:] += start_m
    return out


def _stationary_spells(t, x, y, rules: TripRules) -> list[tuple[int, int]]:
    """(first, last) of every spell spent within the radius of its anchor, long enough.

    The fix that leaves an anchor's circle is searched for with numpy over a window of fixes
    (twice the last spell's length, doubled until found): one small vector step per anchor
    instead of one Python step per fix."""
    r2 = rules.stop_radius_m**2
    n = len(t)
    spells = []
    anchor, width = 0, 64
    while True:
        leaves, lo = n, anchor + 1
        while lo < n:
            hi = min(n, lo + width)
            dx = x[lo:hi] - x[anchor]
            dy = y[lo:hi] - y[anchor]
            out = dx * dx + dy * dy > r2
            first = int(out.argmax())
            if out[first]:
                leaves = lo + first
                break
            lo, width = hi, width * 2
        if t[leaves - 1] - t[anchor] >= rules.stop_min_s:
            spells.append((anchor, leaves - 1))
        if leaves >= n:
            return spells
        width = max(16, 2 * (leaves - anchor))
        anchor = leaves


def split_trips(
    t: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    cum: np.ndarray | None = None,
    rules: TripRules = TripRules(),
) -> tuple[list[Trip], list[Stop]]:
    """Patrols and stops of one person's fixes (time order, cleaned)."""
    t = np.asarray(t, dtype=float)
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    n = len(t)
    if n == 0:
        return [], []
    cum = running_distance(lon, lat) if cum is None else np.asarray(cum, dtype=float)
    x, y = local_xy(lon, lat, float(np.mean(lon)), float(np.mean(lat)))
    spells = _stationary_spells(t, x, y, rules)
    stops = [
        Stop(a, b, float(t[a]), float(t[b]), float(lon[a : b + 1].mean()), float(lat[a : b + 1].mean()))
        for a, b in spells
    ]
    # moving stretches: between stops, cut at data gaps (a gap inside a stop is no cut)
    gaps = np.flatnonzero(np.diff(t) > rules.max_gap_s)
    trips = []
    bounds = []  # (first, last) candidates: split at stops, then at gaps
    start = 0
    for s in stops:
        bounds.append((start, s.first))
        start = s.last
    bounds.append((start, n - 1))
    for a, b in bounds:
        run_start = a
        for g in gaps:
            if a <= g < b:
                trips.append((run_start, int(g)))
                run_start = int(g) + 1
        trips.append((run_start, b))
    result = []
    for a, b in trips:
        if b <= a:
            continue
        distance = float(cum[b] - cum[a])
        duration = float(t[b] - t[a])
        if distance >= rules.min_trip_m and duration >= rules.min_trip_s:
            result.append(Trip(a, b, float(t[a]), float(t[b]), distance))
    return result, stops
