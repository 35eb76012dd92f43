from __future__ import annotations

import numpy as np
import pytest

from quality.overlap import DONE, MORE, REVIEW, OverlapPolicy, decide, wanted

POLICY = OverlapPolicy(min_overlap=3, max_overlap=5, target_confidence=0.9)


@pytest.mark.parametrize(
    ("n_labels", "confidence", "status"),
    [
        (0, np.nan, MORE),  # nothing yet
        (1, 1.0, MORE),  # confident, but below min_overlap
        (2, 0.95, MORE),
        (3, 0.9, DONE),  # exactly at the target
        (3, 0.89, MORE),
        (4, 0.99, DONE),
        (5, 0.6, REVIEW),  # at max_overlap without reaching the target
        (5, 0.9, DONE),  # done wins over review
        (7, 0.5, REVIEW),  # over max (e.g. the policy was lowered)
        (5, np.nan, REVIEW),
    ],
)
def test_decide(n_labels: int, confidence: float, status: int) -> None:
    got = decide(np.array([n_labels]), np.array([confidence]), POLICY)
    assert got.tolist() == [status]
    assert got.dtype == np.int64


def test_decide_is_elementwise() -> None:
    n = np.array([0, 3, 5, 4])
    conf = np.array([np.nan, 0.95, 0.5, 0.5])
    assert decide(n, conf, POLICY).tolist() == [MORE, DONE, REVIEW, MORE]


@pytest.mark.parametrize(
    ("n_labels", "status", "expected"),
    [
        (0, MORE, 3),  # a new task asks for min_overlap at once
        (1, MORE, 3),
        (2, MORE, 3),
        (3, MORE, 4),
        (4, MORE, 5),
        (5, MORE, 5),  # capped at max_overlap
        (3, DONE, 3),
        (4, DONE, 4),
        (5, REVIEW, 5),
        (6, REVIEW, 6),
    ],
)
def test_wanted(n_labels: int, status: int, expected: int) -> None:
    assert wanted(np.array([n_labels]), np.array([status]), POLICY).tolist() == [expected]


def test_decide_then_wanted_never_exceeds_max_and_always_reaches_min() -> None:
    rng = np.random.default_rng(7)
    for policy in (POLICY, OverlapPolicy(1, 1, 1.0), OverlapPolicy(2, 9, 0.51)):
        n = rng.integers(0, policy.max_overlap + 1, 500)
        conf = rng.random(500)
        conf[n == 0] = np.nan
        status = decide(n, conf, policy)
        want = wanted(n, status, policy)
        more = status == MORE
        assert (want[more] > n[more]).all()  # MORE always asks for another label
        assert (want[more] <= policy.max_overlap).all()
        assert (want[more] >= policy.min_overlap).all()
        np.testing.assert_array_equal(want[~more], n[~more])


def test_empty_input() -> None:
    empty = np.array([], dtype=np.int64)
    status = decide(empty, np.array([]), POLICY)
    assert status.shape == (0,)
    assert wanted(empty, status, POLICY).shape == (0,)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_overlap": 0}, "min_overlap must be at least 1"),
        ({"min_overlap": 4, "max_overlap": 3}, "raise max_overlap or lower min_overlap"),
        ({"target_confidence": 0.0}, "target_confidence must be above 0 and at most 1"),
        ({"target_confidence": 1.5}, "target_confidence must be above 0 and at most 1"),
        ({"target_confidence": float("nan")}, "target_confidence must be above 0"),
    ],
)
def test_policy_is_checked(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OverlapPolicy(**kwargs)  # type: ignore[arg-type]


def test_mismatched_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="same shape"):
        decide(np.array([1, 2]), np.array([0.5]), POLICY)
    with pytest.raises(ValueError, match="same shape"):
        wanted(np.array([1, 2]), np.array([MORE]), POLICY)


def test_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError, match=r"MORE \(0\), DONE \(1\) or REVIEW \(2\)"):
        wanted(np.array([1]), np.array([3]), POLICY)


def test_raw_confidence_undoes_autos_calibration() -> None:
    from quality.aggregate import aggregate
    from quality.overlap import raw_confidence
    from tests.quality.test_choose import crowd, one_coin

    rng = np.random.default_rng(3)  # the crowd on which auto tempers (test_choose)
    labels, _ = crowd(3, 2000, 7, one_coin(rng.uniform(0.7, 0.9, 40), 2), hard=0.2)
    auto = aggregate(labels)
    plain = aggregate(labels, auto.method.removeprefix("auto:"))
    assert auto.temperature > 1.0
    assert not np.allclose(auto.confidence, plain.confidence)
    assert np.allclose(raw_confidence(auto), plain.confidence)
    assert raw_confidence(plain) is plain.confidence
