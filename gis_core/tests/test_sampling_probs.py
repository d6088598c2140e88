"""Inclusion probabilities (capping as spsurvey) and the ordered pivotal method."""

import numpy as np
import pytest
from numpy.random import PCG64, Generator

from gis_core.sampling import SamplingError, inclusion_probabilities
from gis_core.sampling.probs import pivotal


def test_equal_weights_give_n_over_N():
    p = inclusion_probabilities(5, np.ones(20))
    assert np.allclose(p, 0.25)
    assert p.sum() == pytest.approx(5)


def test_large_weights_are_capped_at_one_iteratively():
    # 100 exceeds 1 at once; after rescaling 30 exceeds 1 too (spsurvey repeats until none does)
    w = np.array([100.0, 30.0, 4.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    p = inclusion_probabilities(4, w)
    assert p[0] == 1.0 and p[1] == 1.0
    rest = w[2:] / w[2:].sum() * 2
    assert np.allclose(p[2:], rest)
    assert p.sum() == pytest.approx(4)
    assert (p <= 1.0).all()


def test_certain_units_are_forced_to_one_and_the_rest_rescaled():
    p = inclusion_probabilities(3, np.ones(6), certain=[True, False, False, False, False, False])
    assert p[0] == 1.0
    assert np.allclose(p[1:], 2 / 5)


@pytest.mark.parametrize("weights", [[1.0, 0.0, 2.0], [1.0, -1.0, 2.0], [1.0, np.nan, 2.0], [], [[1.0, 2.0]]])
def test_bad_weights_are_refused(weights):
    with pytest.raises(SamplingError) as err:
        inclusion_probabilities(1, weights)
    assert err.value.code == "weights"
    assert "权重" in str(err.value)


@pytest.mark.parametrize("n", [0, 4, 1.5, True])
def test_bad_sample_size_is_refused(n):
    with pytest.raises(SamplingError):
        inclusion_probabilities(n, [1.0, 1.0, 1.0])


def test_pivotal_selects_exactly_n_with_the_asked_probabilities():
    rng = Generator(PCG64(11))
    w = np.random.default_rng(3).uniform(0.2, 5.0, 40)
    p = inclusion_probabilities(9, w)
    reps = 20_000
    counts = np.zeros(p.size)
    for _ in range(reps):
        chosen = pivotal(p, rng)
        assert chosen.size == 9
        assert np.unique(chosen).size == 9
        counts[chosen] += 1
    z = (counts / reps - p) / np.sqrt(p * (1 - p) / reps)
    assert np.abs(z).max() < 4.0
    assert (z**2).sum() < 90  # 40 units: mean 40, far from a biased design


def test_pivotal_takes_certainty_units_and_never_zero_ones():
    rng = Generator(PCG64(1))
    p = np.array([1.0, 0.0, 0.5, 0.5, 1.0, 0.0])
    for _ in range(200):
        chosen = set(pivotal(p, rng).tolist())
        assert {0, 4} <= chosen
        assert not chosen & {1, 5}
        assert len(chosen) == 3
