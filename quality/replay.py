"""Replay finished crowd labels under dynamic overlap: which labels would a policy have bought?

A dataset where every task already has its full pool of labels is replayed as if the labels arrived
one at a time. Each task's labels come in a fixed random order (`random_order`); every task starts
with `policy.min_overlap` of them revealed. Then, round after round, all revealed labels are
aggregated together (`quality.aggregate.aggregate`), `quality.overlap.decide` gives each task MORE,
DONE or REVIEW on `quality.overlap.stop_confidence`, and every MORE task whose pool still holds an
unrevealed label gets one more. The replay stops when no task can get more: it is DONE, in REVIEW,
or its pool is exhausted (it would have asked for another label that the dataset does not have).

This is what the product does (`quality.check.run_check`: `stop_confidence`, then `decide`),
except that here every MORE task gets its next label in the same round (real workers answer in
any order), and a task's cap is the smaller of max_overlap and its pool: the predictive rule
asks whether the labels the task can still get would change its answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quality.aggregate import Consensus, aggregate
from quality.labels import BoolArray, IntArray, Labels
from quality.overlap import MORE, OverlapPolicy, decide, stop_confidence


@dataclass(frozen=True)
class Replay:
    """Where a replay ended: the consensus on the revealed labels and each task's state."""

    consensus: Consensus  # aggregate() over the revealed labels only
    revealed: IntArray  # (n_tasks,) labels revealed per task
    status: IntArray  # (n_tasks,) MORE, DONE or REVIEW from the last decide()
    exhausted: BoolArray  # (n_tasks,) still MORE, but every label in its pool is revealed
    rounds: int  # aggregations run; the first is on min_overlap labels per task

    @property
    def spent(self) -> int:
        """Labels revealed in all."""
        return int(self.revealed.sum())


def random_order(labels: Labels, rng: np.random.Generator) -> IntArray:
    """Per label: its position (0, 1, ...) in a random order of its task's labels."""
    perm = rng.permutation(labels.n)
    by_task = perm[np.argsort(labels.task[perm], kind="stable")]
    start = np.concatenate(([0], np.cumsum(labels.labels_per_task())[:-1]))
    rank = np.empty(labels.n, dtype=np.int64)
    rank[by_task] = np.arange(labels.n, dtype=np.int64) - start[labels.task[by_task]]
    return rank


def replay(labels: Labels, rank: IntArray, policy: OverlapPolicy, method: str = "auto") -> Replay:
    """Replay `labels` in the order `rank` (from `random_order`) under `policy`.

    Raises ValueError when `rank` is not a permutation 0..n-1 within every task.
    """
    rank = np.asarray(rank, dtype=np.int64)
    pool = labels.labels_per_task()
    if rank.shape != (labels.n,) or (
        labels.n and (int(rank.min()) < 0 or bool((rank >= pool[labels.task]).any()))
    ):
        raise ValueError("rank must give every label a position 0..(its task's labels - 1)")
    if labels.n and len(np.unique(labels.task * (int(pool.max()) + 1) + rank)) != labels.n:
        raise ValueError("rank must not give two labels of one task the same position")
    revealed = np.minimum(pool, policy.min_overlap)
    cap = np.minimum(pool, policy.max_overlap)
    rounds = 0
    while True:
        rounds += 1
        shown = labels.subset(rank < revealed[labels.task])
        consensus = aggregate(shown, method)
        status = decide(revealed, stop_confidence(shown, consensus, policy, cap=cap), policy)
        more = status == MORE
        grow = more & (revealed < pool)
        if not grow.any():
            return Replay(consensus, revealed, status, more & ~grow, rounds)
        revealed = revealed + grow
