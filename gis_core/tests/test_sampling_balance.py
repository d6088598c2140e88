"""spsurvey's Voronoi spatial-balance statistic, against hand-computed cases, and GRTS / BAS
against simple random sampling."""

import math

import numpy as np
import pytest
from shapely.geometry import box

from gis_core.sampling import SamplingError, bas, grts, sp_balance, srs

LINE = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])


def test_perfect_balance_is_zero():
    # sites 0 and 3: tiles hold {0, 1} and {2, 3}: p = (1/2, 1/2)
    assert sp_balance(LINE, [0, 3]) == pytest.approx(0.0)
    assert sp_balance(LINE, [0, 3], metric="rmse") == pytest.approx(0.0)
    assert sp_balance(LINE, [0, 3], metric="simpsons") == pytest.approx(0.0)


def test_hand_computed_pielou_rmse_simpsons():
    # sites 0 and 1: tile of 0 holds {0}, tile of 1 holds {1, 2, 3}: p = (1/4, 3/4)
    h = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    assert sp_balance(LINE, [0, 1]) == pytest.approx(1 - h / math.log(2))  # 0.188722...
    assert sp_balance(LINE, [0, 1]) == pytest.approx(0.1887218755)
    assert sp_balance(LINE, [0, 1], metric="rmse") == pytest.approx(0.25)
    assert sp_balance(LINE, [0, 1], metric="simpsons") == pytest.approx(0.0625 + 0.5625 - 0.5)


def test_inclusion_probabilities_weigh_the_tiles():
    # same tiles, frame probabilities (0.1, 0.3, 0.3, 0.3): p = (0.1, 0.9)
    probs = np.array([0.1, 0.3, 0.3, 0.3])
    expected = 1 + (0.1 * math.log(0.1) + 0.9 * math.log(0.9)) / math.log(2)
    assert sp_balance(LINE, [0, 1], probs=probs) == pytest.approx(expected)
    # and (0.25, 0.25, 0.25, 0.25) x 2 gives the equal-probability figure
    assert sp_balance(LINE, [0, 1], probs=np.full(4, 0.5)) == pytest.approx(sp_balance(LINE, [0, 1]))


def test_three_sites_in_the_plane():
    xy = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 0.0], [5.0, 1.0], [9.0, 9.0]])
    # sites 0, 2, 4: tiles {0, 1}, {2, 3}, {4}: p = (2/5, 2/5, 1/5)
    expected = 1 + (2 * 0.4 * math.log(0.4) + 0.2 * math.log(0.2)) / math.log(3)  # 0.0389...
    assert sp_balance(xy, [0, 2, 4]) == pytest.approx(expected)
    assert sp_balance(xy, [0, 2, 4], metric="rmse") == pytest.approx(
        math.sqrt((2 * (1 / 15) ** 2 + (2 / 15) ** 2) / 3)
    )


def test_extent_leaves_out_frame_points_outside_it():
    # only points 0 and 1 inside: each site's tile holds one: perfect balance
    assert sp_balance(LINE, [0, 1], extent=box(-0.5, -1, 1.5, 1)) == pytest.approx(0.0)


def test_single_site_and_empty_tiles():
    assert sp_balance(LINE, [2]) == 0.0
    # two sites at the same place: one tile gets everything, the other nothing (0 ln 0 = 0)
    xy = np.vstack([LINE, [[0.0, 0.0]]])
    assert sp_balance(xy, [0, 4]) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("kwargs", "idx"),
    [({"metric": "gini"}, [0, 1]), ({}, []), ({}, [0, 9]), ({"probs": [1.0, 1.0]}, [0, 1])],
)
def test_bad_arguments(kwargs, idx):
    with pytest.raises(SamplingError):
        sp_balance(LINE, idx, **kwargs)


def frames():
    rng = np.random.default_rng(4)
    uniform = rng.random((3_000, 2)) * 10_000
    centres = rng.random((15, 2)) * 10_000
    clumped = np.vstack([c + rng.normal(0, 300, (200, 2)) for c in centres])
    return {"uniform": uniform, "clumped": clumped}


@pytest.mark.parametrize("name", ["uniform", "clumped"])
def test_grts_and_bas_are_better_balanced_than_srs(name):
    """Mean Pielou balance of 200 draws of 50 sites (lower is better). Measured with this code:
    uniform frame (3,000 points): GRTS 0.0174, BAS 0.0276, SRS 0.0388;
    clumped frame (15 clumps of 200): GRTS 0.0365, BAS 0.0473, SRS 0.0675."""
    xy = frames()[name]
    mean = {
        f.__name__: np.mean([sp_balance(xy, f(xy, 50, seed=s).base) for s in range(200)])
        for f in (grts, bas, srs)
    }
    print(name, {k: round(float(v), 4) for k, v in mean.items()})
    assert mean["grts"] < 0.7 * mean["srs"]
    assert mean["bas"] < 0.9 * mean["srs"]
    assert mean["grts"] < mean["bas"]


def test_weighted_grts_is_balanced_with_respect_to_its_probabilities():
    xy = frames()["clumped"]
    w = 1.0 + (xy[:, 0] > 5_000) * 3.0  # east half four times as likely
    g = [grts(xy, 40, seed=s, weights=w) for s in range(100)]
    r = [srs(xy, 40, seed=s, weights=w) for s in range(100)]
    mean_g = np.mean([sp_balance(xy, s.base, probs=s.probs) for s in g])
    mean_r = np.mean([sp_balance(xy, s.base, probs=s.probs) for s in r])
    assert mean_g < 0.7 * mean_r
