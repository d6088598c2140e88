"""GRTS, BAS and SRS draws: reproducibility, sizes, reserve order, inclusion frequencies,
awkward frames, bad input."""

import time

import numpy as np
import pytest

from gis_core.sampling import Sample, SamplingError, bas, grts, srs
from gis_core.sampling.grts import reverse_hierarchical_order

DESIGNS = [grts, bas, srs]


def grid(nx=8, ny=6, step=100.0):
    return np.stack(np.meshgrid(np.arange(nx) * step, np.arange(ny) * step), -1).reshape(-1, 2)


@pytest.fixture
def frame():
    return np.random.default_rng(1).random((60, 2)) * 5_000 + [400_000, 3_100_000]


@pytest.mark.parametrize("design", DESIGNS)
def test_same_seed_same_sample_different_seed_different(design, frame):
    a = design(frame, 8, seed=7, n_over=3)
    b = design(frame.copy(), 8, seed=7, n_over=3)
    assert a == b
    assert hash(a) == hash(b)
    others = {design(frame, 8, seed=s, n_over=3).base for s in range(8, 13)}
    assert len(others | {a.base}) >= 5  # five other seeds: at least four other samples


def test_recorded_draws_do_not_change():
    """A draw recorded with its seed must come out the same after any later change of code
    (audit): these are the draws of this implementation, pinned."""
    g = grid()
    w = 1 + np.arange(48) % 5
    got = {f.__name__: (f(g, 5, seed=2024, n_over=2), f(g, 5, seed=2024, weights=w)) for f in DESIGNS}
    assert (got["grts"][0].base, got["grts"][0].over, got["grts"][1].base) == (
        (14, 47, 29, 33, 12),
        (9, 25),
        (14, 11, 28, 9, 25),
    )
    assert (got["bas"][0].base, got["bas"][0].over) == ((19, 9, 47, 26, 22), (33, 12))
    assert (got["srs"][0].base, got["srs"][0].over, got["srs"][1].base) == (
        (27, 13, 17, 30, 23),
        (11, 9),
        (29, 25, 4, 34, 13),
    )


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("weighted", [False, True])
def test_sizes_disjoint_and_probabilities(design, weighted, frame):
    w = np.random.default_rng(2).uniform(0.5, 4.0, 60) if weighted else None
    s = design(frame, 10, seed=3, weights=w, n_over=5)
    assert isinstance(s, Sample)
    assert s.method == design.__name__ and s.seed == 3
    assert len(s.base) == 10 and len(s.over) == 5
    assert len(set(s.base) | set(s.over)) == 15
    assert all(isinstance(i, int) and 0 <= i < 60 for i in s.base + s.over)
    assert s.probs.shape == (60,)
    assert s.probs.sum() == pytest.approx(10)
    assert not s.probs.flags.writeable
    if weighted:
        assert np.allclose(s.probs / s.probs.sum(), w / w.sum())
    else:
        assert np.allclose(s.probs, 10 / 60)


@pytest.mark.parametrize("design", DESIGNS)
def test_reserve_sites_extend_the_base_draw(design, frame):
    """spsurvey: one draw of n_base + n_over; the reserve sites come after the base ones."""
    without = design(frame, 6, seed=5)
    with_over = design(frame, 6, seed=5, n_over=4)
    assert len(with_over.over) == 4
    if design is grts:  # reverse hierarchical order: base = first n_base of the total draw
        total = grts(frame, 10, seed=5)
        assert with_over.base + with_over.over == total.base
    if design is bas:  # the Halton walk is the same; reserve sites are the next ones accepted
        assert with_over.base == without.base


def frequencies(design, xy, n, reps, **kw):
    counts = np.zeros(xy.shape[0])
    union = np.zeros(xy.shape[0])
    for seed in range(reps):
        s = design(xy, n, seed=seed, **kw)
        counts[list(s.base)] += 1
        union[list(s.base + s.over)] += 1
    return counts / reps, union / reps, s.probs


def zscores(freq, p, reps):
    return (freq - p) / np.sqrt(np.maximum(p * (1 - p), 1e-12) / reps)


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("weighted", [False, True])
def test_selection_frequencies_match_inclusion_probabilities(design, weighted, frame):
    """Over 3,000 seeded draws, each point is drawn as often as its inclusion probability says
    (|z| < 4.5 for every point, sum of z**2 near its mean of 60). BAS is exact only for equal
    probabilities; with weights varying eightfold its departure is below this test's power."""
    w = np.random.default_rng(2).uniform(0.5, 4.0, 60) if weighted else None
    reps = 3_000
    freq, _, p = frequencies(design, frame, 8, reps, weights=w)
    z = zscores(freq, p, reps)
    assert np.abs(z).max() < 4.5
    assert (z**2).sum() < 110


@pytest.mark.parametrize("design", DESIGNS)
def test_certainty_units_are_always_selected(design, frame):
    w = np.ones(60)
    w[[4, 17]] = 500.0
    for seed in range(100):
        s = design(frame, 6, seed=seed, weights=w)
        assert {4, 17} <= set(s.base)
    assert s.probs[4] == 1.0 and s.probs[17] == 1.0


def test_grts_base_plus_reserve_have_the_total_probabilities(frame):
    """With reserve sites, base + reserve is a GRTS draw of n_base + n_over (exact); the base
    alone has the probabilities scaled by n_base / n_total (spsurvey's convention)."""
    w = np.random.default_rng(4).uniform(0.5, 4.0, 60)
    w[9] = 200.0
    reps = 3_000
    _, union, p = frequencies(grts, frame, 6, reps, weights=w, n_over=3)
    total = p * 9 / 6
    assert total[9] == pytest.approx(1.0)
    assert union[9] == 1.0
    z = zscores(union, np.minimum(total, 1.0), reps)
    assert np.abs(z).max() < 4.5
    eq_freq, _, eq_p = frequencies(grts, frame, 6, reps, n_over=3)
    assert np.abs(zscores(eq_freq, eq_p, reps)).max() < 4.5


@pytest.mark.parametrize("design", DESIGNS)
def test_awkward_frames(design):
    same = np.full((10, 2), 500.0)  # every point at one location
    s = design(same, 3, seed=1, n_over=2)
    assert len(set(s.base + s.over)) == 5
    line = np.column_stack([np.full(30, 7.0), np.linspace(0, 2_900, 30)])  # collinear, zero width
    s = design(line, 5, seed=1)
    assert len(set(s.base)) == 5
    one = design(np.array([[1.0, 2.0]]), 1, seed=0)
    assert one.base == (0,) and one.over == () and one.probs.tolist() == [1.0]
    whole = design(grid(3, 3), 9, seed=0)
    assert sorted(whole.base) == list(range(9))


def test_grts_handles_stacked_duplicates():
    """Half the frame stacked on one point: GRTS must still take about half its sample there
    (probability is per point), and never the same index twice."""
    xy = np.vstack([np.full((50, 2), 10.0), np.random.default_rng(0).random((50, 2)) * 1_000])
    counts = [sum(i < 50 for i in grts(xy, 10, seed=s).base) for s in range(200)]
    assert 4.5 < np.mean(counts) < 5.5


def test_reverse_hierarchical_order():
    assert reverse_hierarchical_order(4).tolist() == [0, 1, 2, 3]
    assert reverse_hierarchical_order(16).tolist()[:8] == [0, 4, 8, 12, 1, 5, 9, 13]
    for n in range(1, 70):
        assert sorted(reverse_hierarchical_order(n).tolist()) == list(range(n))


@pytest.mark.parametrize("design", DESIGNS)
def test_large_frame_is_fast(design):
    xy = np.random.default_rng(9).random((200_000, 2)) * 30_000
    start = time.perf_counter()
    s = design(xy, 200, seed=1, n_over=20)
    assert time.perf_counter() - start < 5.0
    assert len(set(s.base + s.over)) == 220


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize(
    ("args", "kwargs", "code"),
    [
        ((np.zeros((0, 2)), 1), {}, "frame"),
        ((np.zeros((5, 3)), 1), {}, "frame"),
        ((np.array([[0.0, 1.0], [np.nan, 2.0]]), 1), {}, "frame"),
        (("not a frame", 1), {}, "frame"),
        ((grid(), 0), {}, "size"),
        ((grid(), True), {}, "size"),
        ((grid(), 40), {"n_over": 9}, "size"),
        ((grid(), 4), {"n_over": -1}, "size"),
        ((grid(), 4), {"seed": -1}, "seed"),
        ((grid(), 4), {"seed": 1.5}, "seed"),
        ((grid(), 4), {"weights": np.r_[0.0, np.ones(47)]}, "weights"),
        ((grid(), 4), {"weights": np.r_[-2.0, np.ones(47)]}, "weights"),
        ((grid(), 4), {"weights": np.ones(47)}, "weights"),
        ((grid(), 4), {"min_dist": -5.0}, "min_dist"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(design, args, kwargs, code):
    kwargs = {"seed": 1, **kwargs}
    with pytest.raises(SamplingError) as err:
        design(*args, **kwargs)
    assert err.value.code == code
    assert isinstance(err.value, ValueError)
    message = str(err.value)
    assert " / " in message and any("\u4e00" <= ch <= "\u9fff" for ch in message)


def test_too_many_sites_names_the_numbers():
    with pytest.raises(SamplingError, match=r"50 sites asked .* only 48.*抽样框只有 48"):
        grts(grid(), 45, seed=1, n_over=5)
