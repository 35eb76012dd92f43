from __future__ import annotations

import math
from fractions import Fraction

import krippendorff
import numpy as np
import pytest

from quality.agreement import (
    ConfusedPair,
    _coincidences,
    confused_pairs,
    confusion,
    describe,
    fleiss_kappa,
    gold_accuracy,
    krippendorff_alpha,
    worker_agreement,
)
from quality.labels import FloatArray, Labels

SEEDS = range(40)


def from_dense(data: FloatArray) -> Labels:
    """Labels from a raters x units matrix with NaN for missing (test-only, small)."""
    worker, task = np.nonzero(~np.isnan(data))
    values = data[worker, task].astype(np.int64)
    return Labels.from_indices(
        task,
        worker,
        values,
        n_tasks=data.shape[1],
        n_workers=data.shape[0],
        n_classes=int(np.nanmax(data)) + 1 if values.size else 1,
    )


def from_groups(groups: list[list[int]], n_classes: int | None = None) -> Labels:
    """Labels from the list of classes each task got; every label from a different worker."""
    task = [t for t, g in enumerate(groups) for _ in g]
    label = [c for g in groups for c in g]
    return Labels.from_indices(
        task, list(range(len(task))), label, n_tasks=len(groups), n_classes=n_classes
    )


def from_counts(counts: list[list[int]]) -> Labels:
    """Labels from a tasks x classes table of counts."""
    return from_groups(
        [[c for c, k in enumerate(row) for _ in range(k)] for row in counts], len(counts[0])
    )


def random_dense(seed: int) -> FloatArray:
    rng = np.random.default_rng(seed)
    n_raters = int(rng.integers(2, 7))
    n_units = int(rng.integers(3, 30))
    n_classes = int(rng.integers(2, 5))
    # Mostly the unit's "true" class, sometimes another: realistic, non-trivial agreement.
    truth = rng.integers(0, n_classes, n_units)
    noise = rng.integers(0, n_classes, (n_raters, n_units))
    data = np.where(rng.random((n_raters, n_units)) < 0.6, truth, noise).astype(np.float64)
    data[rng.random(data.shape) < rng.uniform(0.0, 0.6)] = np.nan
    return data


def n_pairable_classes(data: FloatArray) -> int:
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    return len(np.unique(data[:, pairable][~np.isnan(data[:, pairable])]))


# --- Krippendorff's alpha -----------------------------------------------------------------


def test_alpha_published_example_3_coders() -> None:
    # Krippendorff's 3-coder, 15-unit example (also in the krippendorff package docs): 0.691.
    nan = np.nan
    data = np.array(
        [
            [nan, nan, nan, nan, nan, 3, 4, 1, 2, 1, 1, 3, 3, nan, 3],
            [1, nan, 2, 1, 3, 3, 4, 3, nan, nan, nan, nan, nan, nan, nan],
            [nan, nan, 2, 1, 3, 4, 4, nan, 2, 1, 1, 3, 3, nan, 4],
        ]
    )
    assert krippendorff_alpha(from_dense(data)) == pytest.approx(0.691358, abs=1e-6)


def test_alpha_published_example_4_observers() -> None:
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", nominal alpha = 0.743.
    nan = np.nan
    data = np.array(
        [
            [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
            [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
        ]
    )
    assert round(krippendorff_alpha(from_dense(data)), 3) == 0.743


def test_coincidence_matrix_hand_computed() -> None:
    # [a a b]: o_aa += 2*1/2, o_ab += o_ba += 2*1/2; [b b]: o_bb += 2*1/1; [a] is not pairable.
    counts = from_groups([[0, 0, 1], [1, 1], [0]]).counts()
    np.testing.assert_allclose(_coincidences(counts), [[1.0, 1.0], [1.0, 2.0]], atol=1e-12)


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        # o_aa = 2, o_ab = o_ba = 1; n_a = 3, n_b = 1, n = 4: 1 - 3 * 2 / (16 - 10) = 0.
        ([[0, 0], [0, 1]], 0.0),
        ([[0, 0], [1, 1]], 1.0),
        # o_ab = o_ba = 2; n_a = n_b = 2: 1 - 3 * 4 / (16 - 8) = -0.5.
        ([[0, 1], [0, 1]], -0.5),
        # The single-label task is not pairable and changes nothing.
        ([[0, 0], [0, 1], [1]], 0.0),
        # [a a b]: o_aa = 2*1/2 = 1, o_ab = o_ba = 2*1/2 = 1; [b b]: o_bb = 2.
        # n_a = 2, n_b = 3, n = 5: 1 - 4 * 2 / (25 - 13) = 1/3.
        ([[0, 0, 1], [1, 1]], 1 / 3),
    ],
)
def test_alpha_hand_computed(groups: list[list[int]], expected: float) -> None:
    assert krippendorff_alpha(from_groups(groups)) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_alpha_matches_krippendorff_package(seed: int) -> None:
    data = random_dense(seed)
    if n_pairable_classes(data) < 2:
        assert math.isnan(krippendorff_alpha(from_dense(data)))
        return
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert krippendorff_alpha(from_dense(data)) == pytest.approx(float(expected), abs=1e-9)


def test_alpha_random_draws_cover_unequal_labels_per_task() -> None:
    # The property test above is only worth something if its draws really are uneven.
    uneven = 0
    for seed in SEEDS:
        per_unit = (~np.isnan(random_dense(seed))).sum(axis=0)
        uneven += len(set(per_unit[per_unit >= 2].tolist())) > 1
    assert uneven >= len(SEEDS) // 2


def test_alpha_ignores_task_and_worker_numbering() -> None:
    labels = from_dense(random_dense(3))
    rng = np.random.default_rng(0)
    perm = rng.permutation(labels.n)
    shuffled = Labels(
        labels.task[perm],
        labels.worker[perm],
        labels.label[perm],
        labels.n_tasks,
        labels.n_workers,
        labels.n_classes,
    )
    assert krippendorff_alpha(shuffled) == pytest.approx(krippendorff_alpha(labels), abs=1e-12)


@pytest.mark.parametrize(
    "labels",
    [
        Labels.from_indices([], [], [], n_tasks=0, n_workers=0, n_classes=2),
        Labels.from_indices([], [], [], n_tasks=5, n_workers=3, n_classes=2),
        from_groups([[0], [1], [1]]),  # one label per task: nothing pairable
        from_groups([[1, 1, 1], [1, 1], [0]]),  # one class among the pairable labels
        from_groups([[0, 0]], n_classes=1),
    ],
    ids=["empty", "no-labels", "one-per-task", "one-class", "one-class-total"],
)
def test_alpha_undefined_is_nan(labels: Labels) -> None:
    assert math.isnan(krippendorff_alpha(labels))


# --- Fleiss' kappa ------------------------------------------------------------------------

# Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters, 5 categories.
WIKIPEDIA = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def test_kappa_wikipedia_example() -> None:
    assert round(fleiss_kappa(from_counts(WIKIPEDIA)), 3) == 0.210


def test_kappa_hand_computed_unequal_raters() -> None:
    # [a a b]: P = 2*1 / (3*2) = 1/3; [a b]: P = 0; [b] is left out. P_bar = 1/6.
    # Pooled over the first two: a 3/5, b 2/5, P_e = 13/25.
    p_bar, p_e = Fraction(1, 6), Fraction(13, 25)
    expected = (p_bar - p_e) / (1 - p_e)
    assert expected == Fraction(-53, 72)
    got = fleiss_kappa(from_groups([[0, 0, 1], [0, 1], [1]]))
    assert got == pytest.approx(float(expected), abs=1e-12)


def reference_kappa(groups: list[list[int]], n_classes: int) -> float:
    """The documented generalisation, spelled out item by item."""
    rated = [g for g in groups if len(g) >= 2]
    p_items = []
    for g in rated:
        m = len(g)
        p_items.append(
            sum(g.count(c) * (g.count(c) - 1) for c in range(n_classes)) / (m * (m - 1))
        )
    total = sum(len(g) for g in rated)
    p_e = sum((sum(g.count(c) for g in rated) / total) ** 2 for c in range(n_classes))
    p_bar = sum(p_items) / len(p_items)
    return (p_bar - p_e) / (1 - p_e)


@pytest.mark.parametrize("seed", SEEDS)
def test_kappa_matches_item_by_item_reference(seed: int) -> None:
    data = random_dense(seed)
    if n_pairable_classes(data) < 2:
        assert math.isnan(fleiss_kappa(from_dense(data)))
        return
    groups = [[int(v) for v in col[~np.isnan(col)]] for col in data.T]
    labels = from_dense(data)
    assert fleiss_kappa(labels) == pytest.approx(
        reference_kappa(groups, labels.n_classes), abs=1e-12
    )


@pytest.mark.parametrize("seed", range(10))
def test_kappa_and_alpha_agree_with_equal_raters(seed: int) -> None:
    # With m raters on every unit and n labels in all: 1 - alpha = (n - 1) / n * (1 - kappa).
    data = random_dense(seed)
    data[np.isnan(data)] = 0
    labels = from_dense(data)
    n = labels.n
    kappa = fleiss_kappa(labels)
    assert 1 - krippendorff_alpha(labels) == pytest.approx((n - 1) / n * (1 - kappa), abs=1e-12)


def test_kappa_perfect_agreement_is_one() -> None:
    assert fleiss_kappa(from_groups([[0, 0, 0], [1, 1], [2, 2, 2, 2]])) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "labels",
    [
        Labels.from_indices([], [], [], n_tasks=3, n_workers=2, n_classes=2),
        from_groups([[0], [1]]),
        from_groups([[1, 1], [1, 1, 1], [0]]),
    ],
    ids=["no-labels", "one-per-task", "one-class"],
)
def test_kappa_undefined_is_nan(labels: Labels) -> None:
    assert math.isnan(fleiss_kappa(labels))


def test_reliability_does_not_need_a_worker_by_task_matrix() -> None:
    # A dense 10^6 x 10^6 matrix would not fit in memory; per-task arrays do.
    labels = Labels.from_indices(
        [0, 0, 1, 1, 999_999, 999_999],
        [0, 1, 0, 999_999, 5, 6],
        [0, 0, 1, 0, 1, 1],
        n_tasks=1_000_000,
        n_workers=1_000_000,
        n_classes=2,
    )
    # [0 0], [1 0], [1 1]: n_0 = 3, n_1 = 3, off-diagonal 2: 1 - 5 * 2 / (36 - 18) = 4/9.
    assert krippendorff_alpha(labels) == pytest.approx(4 / 9)
    assert not math.isnan(fleiss_kappa(labels))
    share, n = worker_agreement(labels, np.full(1_000_000, -1))
    assert n.sum() == 0
    assert np.isnan(share).all()


# --- worker agreement and gold ------------------------------------------------------------


def agreement_case() -> Labels:
    # worker 0: t0 -> 0, t1 -> 0, t2 -> 1; worker 1: t0 -> 0; worker 2: t2 -> 0; worker 3: none.
    return Labels.from_indices(
        [0, 1, 2, 0, 2], [0, 0, 0, 1, 2], [0, 0, 1, 0, 0], n_tasks=3, n_workers=4, n_classes=2
    )


def test_worker_agreement_hand_computed() -> None:
    share, n = worker_agreement(agreement_case(), np.array([0, 1, -1]))
    assert n.tolist() == [2, 1, 0, 0]
    assert share[:2].tolist() == [0.5, 1.0]
    assert np.isnan(share[2:]).all()


def test_gold_accuracy_hand_computed() -> None:
    acc, n = gold_accuracy(agreement_case(), [-1, 0, 0])
    # worker 0: t1 right, t2 wrong; worker 2: t2 right; worker 1 answered no gold task.
    assert n.tolist() == [2, 0, 1, 0]
    assert acc[0] == 0.5
    assert acc[2] == 1.0
    assert np.isnan(acc[[1, 3]]).all()


def test_no_gold_at_all() -> None:
    acc, n = gold_accuracy(agreement_case(), [-1, -1, -1])
    assert n.tolist() == [0, 0, 0, 0]
    assert np.isnan(acc).all()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([0, 1], r"one entry per task: shape \(3,\)"),
        ([0, 1, 2], r"class indices 0\.\.1, or -1"),
        ([0, -2, 1], r"class indices 0\.\.1, or -1"),
    ],
)
def test_per_task_arrays_are_checked(values: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        worker_agreement(agreement_case(), values)
    with pytest.raises(ValueError, match=message):
        gold_accuracy(agreement_case(), values)


@pytest.mark.parametrize("seed", range(10))
def test_worker_agreement_matches_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 300
    labels = Labels.from_indices(
        rng.integers(0, 40, n), rng.integers(0, 15, n), rng.integers(0, 3, n), n_workers=17
    )
    consensus = rng.integers(-1, 3, labels.n_tasks)
    share, count = worker_agreement(labels, consensus)
    for w in range(labels.n_workers):
        mine = [
            (t, y)
            for t, ww, y in zip(labels.task, labels.worker, labels.label, strict=True)
            if ww == w and consensus[t] >= 0
        ]
        assert count[w] == len(mine)
        if mine:
            assert share[w] == pytest.approx(sum(y == consensus[t] for t, y in mine) / len(mine))
        else:
            assert math.isnan(share[w])


# --- confusion ----------------------------------------------------------------------------


def test_confusion_hand_computed() -> None:
    labels = from_groups([[0, 0, 1], [1, 2], [2, 2], [0]], n_classes=3)
    got = confusion(labels, [0, 1, -1, 2])
    expected = np.zeros((3, 3))
    expected[0, 0] = 2  # task 0, consensus 0
    expected[0, 1] = 1
    expected[1, 1] = 1  # task 1, consensus 1
    expected[1, 2] = 1
    expected[2, 0] = 1  # task 3, consensus 2 but labelled 0; task 2 has no consensus
    np.testing.assert_array_equal(got, expected)


def test_confusion_without_labels() -> None:
    labels = Labels.from_indices([], [], [], n_tasks=2, n_workers=0, n_classes=3)
    np.testing.assert_array_equal(confusion(labels, [0, -1]), np.zeros((3, 3)))


def test_confused_pairs_hand_computed() -> None:
    labels = from_groups(
        [[0, 1], [0, 1, 2], [2, 2], [1], [1, 2], [0, 0, 1]],
        n_classes=3,
    )
    # Disputed: tasks 0, 1, 4, 5. Both given: {0,1} in 0, 1, 5; {1,2} in 1, 4; {0,2} in 1.
    pairs = confused_pairs(labels, np.full(6, -1))
    assert pairs == [
        ConfusedPair(0, 1, 0.75, 4, 3),
        ConfusedPair(1, 2, 0.5, 4, 2),
        ConfusedPair(0, 2, 0.25, 4, 1),
    ]
    assert confused_pairs(labels, np.full(6, -1), top=1) == pairs[:1]
    assert confused_pairs(labels, np.full(6, -1), top=0) == []


def test_confused_pairs_tie_broken_by_labels_against_consensus() -> None:
    # {0,1} and {1,2} are each given together on one disputed task.
    labels = from_groups([[0, 1], [1, 1, 2, 2, 2]], n_classes=3)
    by_index = confused_pairs(labels, [-1, -1])
    assert [(p.a, p.b) for p in by_index] == [(0, 1), (1, 2)]
    # Consensus 0 then 2: one label against it in {0,1}, two in {1,2}.
    by_swaps = confused_pairs(labels, [0, 2])
    assert [(p.a, p.b) for p in by_swaps] == [(1, 2), (0, 1)]


@pytest.mark.parametrize(
    "labels",
    [
        Labels.from_indices([], [], [], n_tasks=0, n_workers=0, n_classes=2),
        from_groups([[0, 0], [1], [1, 1, 1]]),
        from_groups([[0, 0]], n_classes=1),
    ],
    ids=["empty", "unanimous", "one-class"],
)
def test_no_confused_pairs(labels: Labels) -> None:
    assert confused_pairs(labels, np.full(labels.n_tasks, -1)) == []


@pytest.mark.parametrize("seed", range(10))
def test_confused_pairs_match_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    groups = [list(rng.integers(0, 4, int(rng.integers(0, 6)))) for _ in range(50)]
    labels = from_groups(groups, n_classes=4)
    disputed = [set(g) for g in groups if len(set(g)) >= 2]
    pairs = confused_pairs(labels, np.full(50, -1), top=10)
    assert all(p.disputed == len(disputed) for p in pairs)
    expected = {
        (a, b): sum({a, b} <= s for s in disputed) for a in range(4) for b in range(a + 1, 4)
    }
    assert {(p.a, p.b): p.count for p in pairs} == {k: v for k, v in expected.items() if v}
    counts = [p.count for p in pairs]
    assert counts == sorted(counts, reverse=True)


def test_describe() -> None:
    pair = ConfusedPair(1, 2, 9 / 50, 50, 9)
    assert describe(pair, ["negative", "neutral", "positive"]) == (
        "'neutral' and 'positive' are swapped in 18% of disputed items (9 of 50)"
    )
    assert describe(pair, []).startswith("class 1 and class 2 are swapped in 18%")


@pytest.mark.parametrize("slices", [1, 3, 40])
def test_agreement_sums_part_by_part_equal_the_whole(slices: int) -> None:
    from quality.agreement import AgreementSums

    rng = np.random.default_rng(3)
    labels = Labels.from_indices(
        rng.integers(0, 40, 300), rng.integers(0, 9, 300), rng.integers(0, 4, 300)
    )
    sums = AgreementSums(4)
    for part in np.array_split(labels.counts(), slices):
        sums.add(part)
    assert sums.alpha() == pytest.approx(krippendorff_alpha(labels), abs=1e-12)
    assert sums.kappa() == pytest.approx(fleiss_kappa(labels), abs=1e-12)
    empty = AgreementSums(2)
    empty.add(np.array([[1, 0], [0, 0]]))
    assert math.isnan(empty.alpha())
    assert math.isnan(empty.kappa())
    one_class = AgreementSums(2)
    one_class.add(np.array([[3, 0], [2, 0]]))
    assert math.isnan(one_class.alpha())
    assert math.isnan(one_class.kappa())
