"""Minimum distance between drawn sites (spsurvey's mindis)."""

import numpy as np
import pytest
from scipy.spatial.distance import pdist

from gis_core.sampling import SamplingError, bas, grts, srs

DESIGNS = [grts, bas, srs]


def clumped(seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.random((6, 2)) * 10_000
    return np.vstack([c + rng.normal(0, 250, (80, 2)) for c in centres])


@pytest.mark.parametrize("design", DESIGNS)
def test_min_dist_is_honoured_between_base_and_reserve_sites(design):
    xy = clumped()
    for seed in range(15):
        s = design(xy, 12, seed=seed, n_over=4, min_dist=600.0)
        sites = list(s.base + s.over)
        assert len(sites) == 16 and len(set(sites)) == 16
        assert pdist(xy[sites]).min() >= 600.0


def test_without_min_dist_the_same_frame_gives_close_sites():
    """The check above can fail: unconstrained draws on this frame do put sites closer."""
    xy = clumped()
    closest = [pdist(xy[list(grts(xy, 16, seed=s).base)]).min() for s in range(15)]
    assert min(closest) < 600.0


def test_min_dist_draw_is_reproducible():
    xy = clumped()
    assert grts(xy, 10, seed=3, min_dist=500.0) == grts(xy, 10, seed=3, min_dist=500.0)


@pytest.mark.parametrize("design", DESIGNS)
def test_impossible_min_dist_is_an_error_saying_how_many_fit(design):
    # six clumps ~250 m wide: at 3 km apart at most about six sites fit
    xy = clumped()
    with pytest.raises(SamplingError) as err:
        design(xy, 20, seed=1, min_dist=3_000.0)
    assert err.value.code == "min_dist"
    assert 1 <= err.value.placed < 20
    assert "3000 m" in str(err.value) and "3000 米" in str(err.value)


@pytest.mark.parametrize("design", DESIGNS)
def test_allow_fewer_draws_as_many_as_fit(design):
    xy = clumped()
    s = design(xy, 20, seed=1, n_over=2, min_dist=3_000.0, allow_fewer=True)
    sites = list(s.base + s.over)
    assert 1 <= len(sites) < 22
    assert len(s.base) == min(20, len(sites))
    if len(sites) > 1:
        assert pdist(xy[sites]).min() >= 3_000.0


def test_min_dist_on_a_regular_grid_that_just_fits():
    # 10 x 10 grid at 100 m: sites 150 m apart exist in numbers (e.g. every other row/column = 25)
    xy = np.stack(np.meshgrid(np.arange(10) * 100.0, np.arange(10) * 100.0), -1).reshape(-1, 2)
    s = grts(xy, 15, seed=4, min_dist=150.0, max_tries=30)
    assert pdist(xy[list(s.base)]).min() >= 150.0


def test_zero_min_dist_means_none():
    xy = clumped()
    assert grts(xy, 10, seed=2, min_dist=0.0) == grts(xy, 10, seed=2)
