"""grids.tracking.clean: every rejection reason on crafted fixes, and the speed filter
against stored neighbours (late batches are judged where they belong in time)."""

from __future__ import annotations

import numpy as np

from grids.tracking.clean import CleanRules, clean_fixes

NOW = 1_700_000_000.0
LON, LAT = 105.44, 28.87
M_LON = 1 / (111_320.0 * np.cos(np.radians(LAT)))  # degrees of longitude per metre here


def walk(n: int, *, start: float = NOW - 3600, step_s: float = 10, metres: float = 12) -> tuple:
    t = start + np.arange(n) * step_s
    return t, LON + np.arange(n) * metres * M_LON, np.full(n, LAT)


def test_a_clean_walk_is_accepted_whole():
    t, lon, lat = walk(50)
    assert list(clean_fixes(t, lon, lat, now=NOW)) == [""] * 50


def test_each_bad_fix_gets_its_reason():
    t, lon, lat = walk(9)
    lon[0] = np.nan
    lat[1] = 91
    lon[2], lat[2] = 0.0, 0.0
    valid = np.ones(9, dtype=bool)
    valid[3] = False
    accuracy = np.full(9, 10.0)
    accuracy[4] = 500
    t[5] = NOW + 3600
    t[6] = NOW - 40 * 86_400
    t[8] = t[7]  # the same time twice in one batch: the first one wins

    reason = clean_fixes(t, lon, lat, now=NOW, accuracy=accuracy, valid=valid)

    assert list(reason) == [
        "not_finite", "out_of_range", "zero", "invalid_fix", "low_accuracy", "future", "too_old",
        "", "duplicate",
    ]  # fmt: skip


def test_unknown_accuracy_passes_and_a_small_clock_skew_is_tolerated():
    t, lon, lat = walk(2, start=NOW + 100)
    reason = clean_fixes(t, lon, lat, now=NOW, accuracy=np.array([np.nan, 5.0]))
    assert list(reason) == ["", ""]


def test_a_jump_is_rejected_and_the_track_continues_from_the_last_good_fix():
    t, lon, lat = walk(6)
    lon[3] += 2000 * M_LON  # 2 km in 10 s

    reason = clean_fixes(t, lon, lat, now=NOW)

    assert list(reason) == ["", "", "", "speed", "", ""]


def test_the_first_fix_is_checked_against_the_stored_one_before_it():
    t, lon, lat = walk(3)
    stored_t, stored_lon, stored_lat = np.array([t[0] - 10]), np.array([LON - 5000 * M_LON]), np.array([LAT])

    reason = clean_fixes(
        t, lon, lat, now=NOW, stored_t=stored_t, stored_lon=stored_lon, stored_lat=stored_lat
    )

    # 5 km in 10 s from the stored fix: the first is a jump; the next ones are 5 km in 20, 30 s too
    assert list(reason) == ["speed", "speed", "speed"]


def test_after_a_long_silence_the_speed_check_is_skipped():
    t, lon, lat = walk(2)
    t[1] = t[0] + 3600  # an hour later, 30 km away: a bus ride, not a jump
    lon[1] = lon[0] + 30_000 * M_LON
    rules = CleanRules(skip_after_s=1800)
    assert list(clean_fixes(t, lon, lat, now=NOW, rules=rules)) == ["", ""]


def test_an_out_of_order_fix_is_judged_between_its_stored_neighbours():
    # stored: a walk with a hole; new: one fix inside the hole, right on the way, and a fix
    # that was already stored (a re-send)
    t, lon, lat = walk(5)
    keep = [0, 1, 3, 4]
    new_t = np.array([t[2], t[3]])
    new_lon = np.array([lon[2], lon[3]])
    new_lat = np.array([lat[2], lat[3]])

    reason = clean_fixes(
        new_t, new_lon, new_lat, now=NOW, stored_t=t[keep], stored_lon=lon[keep], stored_lat=lat[keep]
    )

    assert list(reason) == ["", "duplicate"]
    # the same late fix 3 km off the way is a jump from its stored predecessor
    reason = clean_fixes(
        new_t[:1], new_lon[:1] + 3000 * M_LON, new_lat[:1], now=NOW,
        stored_t=t[keep], stored_lon=lon[keep], stored_lat=lat[keep],
    )  # fmt: skip
    assert list(reason) == ["speed"]
