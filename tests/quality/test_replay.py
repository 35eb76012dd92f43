from __future__ import annotations

import numpy as np
import pytest

from quality.aggregate import aggregate
from quality.labels import Labels
from quality.overlap import DONE, MORE, REVIEW, OverlapPolicy
from quality.replay import random_order, replay


def labels_of(rows: list[tuple[int, int, int]]) -> Labels:
    """Labels from (task, worker, label) triples."""
    t, w, y = zip(*rows, strict=True)
    return Labels.from_indices(list(t), list(w), list(y))


def test_random_order_is_a_permutation_within_each_task() -> None:
    rng = np.random.default_rng(3)
    task = rng.integers(0, 40, 600)
    labels = Labels.from_indices(task, np.arange(600), rng.integers(0, 3, 600), n_tasks=40)
    rank = random_order(labels, np.random.default_rng(1))
    for t in range(40):
        got = np.sort(rank[labels.task == t])
        assert got.tolist() == list(range(int((task == t).sum())))
    assert random_order(labels, np.random.default_rng(1)).tolist() == rank.tolist()
    assert random_order(labels, np.random.default_rng(2)).tolist() != rank.tolist()


def test_random_order_is_not_the_file_order() -> None:
    labels = Labels.from_indices([0] * 50, range(50), [0] * 50)
    rank = random_order(labels, np.random.default_rng(0))
    assert rank.tolist() != list(range(50))


# task 0: unanimous; task 1: split 1-1-1-1... forever; task 2: split, pool of only 4 labels;
# task 3: two labels in all (fewer than min_overlap)
ROWS = (
    [(0, w, 1) for w in range(8)]
    + [(1, w, w % 2) for w in range(8)]
    + [(2, w, w % 2) for w in range(4)]
    + [(3, 0, 1), (3, 1, 1)]
)


def test_replay_with_majority_vote() -> None:
    labels = labels_of(ROWS)
    rank = np.concatenate([np.arange(8), np.arange(8), np.arange(4), np.arange(2)])
    policy = OverlapPolicy(min_overlap=3, max_overlap=6, target_confidence=0.9)
    result = replay(labels, rank, policy, "mv")
    # 0: 3 of 3 agree at once; 1: 0,1,0,1,0,1 never reaches 0.9, stops at max_overlap;
    # 2: its pool ends at 4; 3: both labels agree but it has fewer than min_overlap
    assert result.revealed.tolist() == [3, 6, 4, 2]
    assert result.status.tolist() == [DONE, REVIEW, MORE, MORE]
    assert result.exhausted.tolist() == [False, False, True, True]
    assert result.spent == 15
    assert result.rounds == 4  # 3 labels, then 4, 5, 6 for task 1
    shown = labels.subset(rank < result.revealed[labels.task])
    assert result.consensus.label.tolist() == aggregate(shown, "mv").label.tolist()
    assert result.consensus.n_labels.tolist() == [3, 6, 4, 2]


def test_replay_reveals_in_rank_order() -> None:
    # the first three labels in rank order agree on 0, the file order's first three on 1
    labels = labels_of([(0, 0, 1), (0, 1, 1), (0, 2, 1), (0, 3, 0), (0, 4, 0), (0, 5, 0)])
    rank = np.array([3, 4, 5, 0, 1, 2])
    result = replay(labels, rank, OverlapPolicy(3, 6, 0.9), "mv")
    assert result.revealed.tolist() == [3]
    assert result.consensus.label.tolist() == [0]


def test_replay_never_exceeds_max_or_pool_and_reaches_min() -> None:
    rng = np.random.default_rng(11)
    n = 3000
    task = rng.integers(0, 300, n)
    truth = rng.integers(0, 3, 300)
    right = rng.random(n) < 0.7
    label = np.where(right, truth[task], rng.integers(0, 3, n))
    labels = Labels.from_indices(task, rng.integers(0, 60, n), label, n_tasks=300, n_classes=3)
    policy = OverlapPolicy(min_overlap=3, max_overlap=7, target_confidence=0.95)
    result = replay(labels, random_order(labels, rng), policy)
    pool = labels.labels_per_task()
    assert (result.revealed <= np.minimum(pool, policy.max_overlap)).all()
    assert (result.revealed >= np.minimum(pool, policy.min_overlap)).all()
    assert (result.exhausted == ((result.status == MORE) & (result.revealed == pool))).all()
    assert not ((result.status == MORE) & ~result.exhausted).any()


@pytest.mark.parametrize(
    "rank",
    [
        np.array([0, 1, 2]),  # too short
        np.array([0, 1, 2, 4]),  # position 4 in a task of 4 labels
        np.array([0, 1, 1, 3]),  # two labels at position 1
        np.array([-1, 0, 1, 2]),
    ],
)
def test_replay_rejects_a_bad_rank(rank: np.ndarray) -> None:
    labels = labels_of([(0, w, 0) for w in range(4)])
    with pytest.raises(ValueError, match="rank"):
        replay(labels, rank, OverlapPolicy(), "mv")
