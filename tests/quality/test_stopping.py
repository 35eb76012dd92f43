from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from quality.aggregate import aggregate
from quality.check import FINISHED, IN_REVIEW, OPEN, CheckInput, CheckSettings, run_check
from quality.labels import Labels
from quality.overlap import DONE, OverlapPolicy, stop_confidence
from quality.replay import random_order, replay
from quality.stopping import fit_prior, predictive_confidence

ONE = np.ones(2)


def conf(counts: list[int], answer: int, remaining: int, alpha: np.ndarray = ONE) -> float:
    return float(
        predictive_confidence(
            np.array([counts], dtype=np.float64), np.array([answer]), np.array([remaining]), alpha
        )[0]
    )


def test_nothing_to_come_is_the_vote_as_it_is() -> None:
    assert conf([2, 1], 0, 0) == 1.0
    assert conf([2, 1], 1, 0) == 0.0  # the model overruled the majority: review at the cap
    assert conf([1, 1], 0, 0) == 0.5
    assert conf([1, 1, 1], 0, 0, np.ones(3)) == 0.0  # two rivals tie with it


def test_hand_computed_binary_cases() -> None:
    # 2-0 under a uniform prior: theta ~ Beta(3, 1). One more label cannot catch up.
    assert conf([2, 0], 0, 1) == pytest.approx(1.0)
    # Two more: only 2 against ties (counts half); P = E[q^2], q ~ Beta(1, 3) = 1*2/(4*5).
    assert conf([2, 0], 0, 2) == pytest.approx(1.0 - 0.5 * 0.1)
    # Three more: only 3 against overturns it (2 against: 3 to 2); E[q^3] = 1*2*3/(4*5*6).
    assert conf([2, 0], 0, 3) == pytest.approx(1.0 - 0.05)
    # 1-0, q ~ Beta(1, 2): one more against ties (E[q] = 1/3, counts half); of two more,
    # both against loses (E[q^2] = 1*2/(3*4)) and one each keeps it ahead.
    assert conf([1, 0], 0, 1) == pytest.approx(1.0 - 0.5 / 3)
    assert conf([1, 0], 0, 2) == pytest.approx(1.0 - 1 / 6)
    # Tasks without an answer are never confident.
    assert conf([0, 0], -1, 3) == 0.0


def test_more_labels_to_come_or_a_noisier_crowd_mean_less_confidence() -> None:
    clear, noisy = np.array([0.1, 0.1]), np.array([3.0, 3.0])
    assert conf([3, 0], 0, 4, clear) > conf([3, 0], 0, 4, noisy)
    assert conf([3, 0], 0, 4, noisy) > conf([3, 0], 0, 8, noisy)
    assert conf([3, 1], 0, 4, noisy) < conf([3, 0], 0, 4, noisy)


def test_many_options_union_bound_matches_brute_force() -> None:
    rng = np.random.default_rng(5)
    alpha = np.array([0.4, 0.7, 0.2])
    for _ in range(30):
        counts = rng.integers(0, 4, 3)
        answer = int(rng.integers(0, 3))
        m = int(rng.integers(0, 5))
        lost = 0.0
        # enumerate the m future labels one by one (Polya urn)
        for seq in np.ndindex(*([3] * m)):
            p, c = 1.0, counts.astype(float) + alpha
            for y in seq:
                p *= c[y] / c.sum()
                c[y] += 1
            final = counts + np.bincount(np.array(seq, dtype=np.int64), minlength=3)
            for j in range(3):
                if j != answer:
                    lost += p * ((final[j] > final[answer]) + 0.5 * (final[j] == final[answer]))
        assert conf(counts.tolist(), answer, m, alpha) == pytest.approx(max(0.0, 1.0 - lost))


def test_fit_prior_recovers_the_dirichlet_it_was_drawn_from() -> None:
    rng = np.random.default_rng(0)
    alpha = np.array([0.3, 0.8, 0.2])
    theta = rng.dirichlet(alpha, 8000)
    n = rng.integers(2, 7, 8000)
    counts = np.array([rng.multinomial(k, t) for k, t in zip(n, theta, strict=True)])
    np.testing.assert_allclose(fit_prior(counts.astype(np.float64)), alpha, rtol=0.1)


def test_fit_prior_without_spread_information_is_uniform() -> None:
    np.testing.assert_array_equal(fit_prior(np.array([[1.0, 0.0], [0.0, 1.0]])), [1.0, 1.0])
    np.testing.assert_array_equal(fit_prior(np.zeros((0, 3))), [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="negative"):
        fit_prior(np.array([[-1.0, 2.0]]))


def simulated(alpha: np.ndarray, n_tasks: int, pool: int, seed: int) -> Labels:
    """Votes drawn from the model itself: theta_t ~ Dirichlet(alpha), pool labels per task."""
    rng = np.random.default_rng(seed)
    theta = rng.dirichlet(alpha, n_tasks)
    label = np.concatenate([rng.choice(len(alpha), pool, p=t) for t in theta])
    task = np.repeat(np.arange(n_tasks), pool)
    return Labels.from_indices(task, np.arange(len(task)), label, n_classes=len(alpha))


@pytest.mark.parametrize(
    ("alpha", "target"),
    [(np.array([0.5, 0.5]), 0.9), (np.array([1.5, 1.0]), 0.95), (np.array([0.3, 0.4, 0.3]), 0.9)],
)
def test_stopped_answers_match_the_full_overlap_at_the_target_rate(
    alpha: np.ndarray, target: float
) -> None:
    pool = 9
    labels = simulated(alpha, 3000, pool, seed=1)
    policy = OverlapPolicy(2, pool, target, "predictive")
    result = replay(labels, random_order(labels, np.random.default_rng(2)), policy, "mv")
    full = labels.counts().argmax(axis=1)
    done = result.status == DONE
    # the claim: stopped answers are the full-overlap answer at least `target` of the time
    # (less a binomial margin); and stopping early must actually save labels
    same = float((result.consensus.label[done] == full[done]).mean())
    assert same >= target - 2.5 * np.sqrt(target * (1 - target) / done.sum())
    assert result.spent < 0.8 * labels.n
    assert done.mean() > 0.5


def make_input(rows: list[tuple[int, int, int]], n_tasks: int, n_workers: int) -> CheckInput:
    arr = np.array(rows, dtype=np.int64)
    n = len(arr)
    return CheckInput(
        task=arr[:, 0].copy(),
        worker=arr[:, 1].copy(),
        label=arr[:, 2].copy(),
        seconds=np.full(n, 10.0),
        answered=np.arange(n, dtype=np.float64),
        n_tasks=n_tasks,
        n_workers=n_workers,
        n_classes=2,
        truth=np.full(n_tasks, -1, dtype=np.int64),
        reviewed=np.full(n_tasks, -1, dtype=np.int64),
        status=np.zeros(n_tasks, dtype=np.int64),
        target=np.full(n_tasks, 2, dtype=np.int64),
        gold=np.zeros(n_tasks, dtype=bool),
        excluded=np.zeros(n_workers, dtype=bool),
    )


def test_run_check_uses_the_predictive_rule_by_default() -> None:
    # 40 tasks at 2-0 and 40 at 1-1 (a noisy crowd): a 2-0 task with 3 labels still to come
    # is not settled at 0.99; at the cap (max 2) the 2-0 tasks are done and 1-1 ones reviewed.
    rows = [(t, w, 1) for t in range(40) for w in (0, 1)]
    rows += [(t, w, w) for t in range(40, 80) for w in (0, 1)]
    inp = make_input(rows, 80, 2)
    alpha = fit_prior(Labels.from_indices(*zip(*rows, strict=True)).counts())
    expected = conf([0, 2], 1, 3, alpha)
    assert expected < 0.99
    wide = run_check(inp, CheckSettings(method="mv", min_overlap=2, max_overlap=5))
    assert wide.status[:40].tolist() == [OPEN] * 40
    assert wide.target[:40].tolist() == [3] * 40
    capped = run_check(inp, CheckSettings(method="mv", min_overlap=2, max_overlap=2))
    assert capped.status.tolist() == [FINISHED] * 40 + [IN_REVIEW] * 40
    lenient = CheckSettings(method="mv", min_overlap=2, max_overlap=5, target_confidence=expected)
    assert run_check(inp, lenient).status[:40].tolist() == [FINISHED] * 40


def settled_and_split(worker_of: list[tuple[int, int]]) -> Labels:
    """40 tasks both labels say 1 (2-0), 40 tasks split 1-1; task t's labels by worker_of[t]."""
    rows = [(t, worker_of[t][i], 1) for t in range(40) for i in (0, 1)]
    rows += [(t, worker_of[t][i], i) for t in range(40, 80) for i in (0, 1)]
    return Labels.from_indices(*zip(*rows, strict=True), n_classes=2)


def test_hybrid_lets_a_sure_consensus_on_known_workers_settle_a_task() -> None:
    known = settled_and_split([(0, 1)] * 80)  # two workers with 80 labels each
    fresh = settled_and_split([(2 * t, 2 * t + 1) for t in range(80)])  # 1 label per worker
    hybrid = OverlapPolicy(2, 5, 0.99, "hybrid")
    predictive = OverlapPolicy(2, 5, 0.99, "predictive")

    def confidence(labels: Labels, policy: OverlapPolicy, posterior: float, method: str) -> float:
        sure = np.full(labels.n_tasks, posterior)
        consensus = replace(aggregate(labels, "mv"), method=method, confidence=sure)
        return float(stop_confidence(labels, consensus, policy)[0])  # a 2-0 task

    votes_only = confidence(known, predictive, 0.9995, "hds")
    assert votes_only < 0.99  # 3 labels still to come could turn a 2-0
    # known workers, posterior error 0.0005: taken 10x it is 0.005, so 0.995 >= 0.99
    assert confidence(known, hybrid, 0.9995, "hds") == pytest.approx(0.995)
    # a posterior of 0.995 (error 0.05 taken 10x) does not beat the vote model
    assert confidence(known, hybrid, 0.995, "hds") == pytest.approx(votes_only)
    # the same votes by workers seen once: the posterior is not trusted
    assert confidence(fresh, hybrid, 0.9995, "hds") == pytest.approx(
        confidence(fresh, predictive, 0.9995, "hds")
    )
    # majority vote's "confidence" is a vote share (1.0 for 2-0), not a posterior
    assert confidence(known, hybrid, 1.0, "mv") == pytest.approx(votes_only)


def test_hybrid_is_the_default_rule() -> None:
    assert OverlapPolicy().rule == "hybrid"
    assert CheckSettings().stop_rule == "hybrid"
