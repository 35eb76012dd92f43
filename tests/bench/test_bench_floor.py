"""bench_floor's own arithmetic: stacking weights, the isotonic fit, the reliability bins."""

import numpy as np

from bench.bench_floor import isotonic, reliability, stack_weights


def test_stack_weights_favour_the_better_predictor() -> None:
    rng = np.random.default_rng(0)
    good = rng.uniform(0.6, 0.9, size=500)
    bad = rng.uniform(0.05, 0.2, size=500)
    w = stack_weights(np.stack([bad, good]))
    assert abs(w.sum() - 1.0) < 1e-9
    assert w[1] > 0.95


def test_isotonic_pools_violators_into_a_non_decreasing_map() -> None:
    x = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    y = np.array([0, 1, 0, 1, 1], dtype=bool)
    edges, means = isotonic(x, y)
    assert np.all(np.diff(means) >= 0)
    assert list(edges) == [0.1, 0.2, 0.4, 0.5]
    assert list(means) == [0.0, 0.5, 1.0, 1.0]


def test_reliability_finds_the_gap_of_an_overconfident_bin() -> None:
    conf = np.linspace(0.5, 1.0, 1000)
    ok = np.ones(1000, dtype=bool)
    ok[-100:] = False  # the most confident tenth is all wrong
    ece, worst, rows = reliability(conf, ok)
    assert len(rows) == 10
    top = conf[-100:].mean()
    assert abs(worst - top) < 1e-9
    assert abs(ece - (np.sum(1.0 - conf[:900]) + np.sum(conf[-100:])) / 1000) < 1e-9
