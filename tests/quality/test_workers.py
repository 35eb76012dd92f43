from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import pytest

from quality.labels import Labels
from quality.workers import Finding, Rules, evaluate, fast_share, longest_run

SLOW = 10.0
FAST = 0.5
# Rules that only let one rule fire at a time in the tests below.
NO_RUNS = Rules(max_run=1_000_000)


@dataclass
class Crowd:
    """Builds labels one answer at a time; each answer on its own task unless told otherwise."""

    n_classes: int = 2
    rows: list[tuple[int, int, int, float, float]] = field(default_factory=list)
    gold: list[int] = field(default_factory=list)
    consensus: list[int] = field(default_factory=list)

    def answer(
        self,
        worker: int,
        label: int,
        *,
        seconds: float = SLOW,
        at: float | None = None,
        gold: int = -1,
        consensus: int = -1,
    ) -> None:
        task = len(self.gold)
        self.gold.append(gold)
        self.consensus.append(consensus)
        when = float(len(self.rows)) if at is None else at
        self.rows.append((task, worker, label, seconds, when))

    def run(self, rules: Rules, *, n_workers: int | None = None, seed: int = 0) -> list[Finding]:
        # Shuffle the arrays: the rules must follow `order`, not the position in the arrays.
        rows = list(self.rows)
        np.random.default_rng(seed).shuffle(rows)
        task, worker, label, seconds, order = (list(col) for col in zip(*rows, strict=True))
        labels = Labels.from_indices(
            task,
            worker,
            label,
            n_tasks=len(self.gold),
            n_workers=n_workers,
            n_classes=self.n_classes,
        )
        return evaluate(
            labels,
            seconds=np.array(seconds),
            order=np.array(order),
            gold=np.array(self.gold),
            consensus=np.array(self.consensus),
            rules=rules,
        )


def by_rule(findings: list[Finding], rule: str) -> dict[int, Finding]:
    return {f.worker: f for f in findings if f.rule == rule}


# --- gold accuracy ------------------------------------------------------------------------


def test_gold_accuracy_suspends_after_enough_gold() -> None:
    crowd = Crowd()
    for worker, right, wrong in ((0, 4, 6), (1, 0, 4), (2, 3, 2), (3, 9, 1)):
        for i in range(right + wrong):
            # Alternate classes so no run forms; gold says which of them was right.
            label = i % 2
            crowd.answer(worker, label, gold=label if i < right else 1 - label)
    findings = crowd.run(Rules())
    assert findings == [Finding(0, "gold_accuracy", "suspend", 0.4, 0.6, 10)]
    assert findings[0].reason() == "gold accuracy 40% after 10 gold answers (< 60%)"


# --- too fast -----------------------------------------------------------------------------


def test_too_fast_looks_at_the_latest_window_only() -> None:
    crowd = Crowd()
    for i in range(60):  # the last 25 of 60 fast: 25 of the last 50
        crowd.answer(0, i % 2, seconds=FAST if i >= 35 else SLOW)
    for i in range(60):  # 31 of 60 fast, but only 21 of the last 50
        crowd.answer(1, i % 2, seconds=FAST if i < 31 else SLOW)
    findings = crowd.run(Rules())
    assert findings == [Finding(0, "too_fast", "flag", 0.5, 0.5, 50)]
    assert findings[0].reason() == "50% of the last 50 answers were too fast (>= 50%)"


def test_too_fast_waits_for_enough_answers() -> None:
    crowd = Crowd()
    for i in range(19):
        crowd.answer(0, i % 2, seconds=FAST)
    for i in range(20):
        crowd.answer(1, i % 2, seconds=FAST)
    assert crowd.run(Rules()) == [Finding(1, "too_fast", "flag", 1.0, 0.5, 20)]
    # With a window smaller than min_answers, a full window is enough.
    assert {f.worker for f in crowd.run(Rules(window=10))} == {0, 1}


def test_exactly_min_seconds_is_not_fast_and_unknown_time_is_never_fast() -> None:
    crowd = Crowd()
    for i in range(20):
        crowd.answer(0, i % 2, seconds=2.0)
        crowd.answer(1, i % 2, seconds=math.nan)
    assert crowd.run(Rules()) == []


# --- same option run ----------------------------------------------------------------------


def test_same_option_run_follows_answer_time() -> None:
    crowd = Crowd()
    for label in [1] * 3 + [0] * 15 + [1]:
        crowd.answer(0, label)
    for label in [1] * 14 + [0] + [1] * 14:
        crowd.answer(1, label)
    findings = crowd.run(Rules())
    assert findings == [Finding(0, "same_option_run", "flag", 15.0, 15.0, 15)]
    assert findings[0].reason() == "the same option 15 times in a row (>= 15)"


def test_runs_do_not_continue_across_workers() -> None:
    crowd = Crowd()
    for _ in range(10):  # worker 2's last answers and worker 3's first are the same class
        crowd.answer(2, 1)
    for _ in range(10):
        crowd.answer(3, 1)
    assert crowd.run(Rules(max_run=11)) == []
    assert {f.worker for f in crowd.run(Rules(max_run=10))} == {2, 3}


def test_runs_are_per_worker_when_answers_interleave_in_time() -> None:
    crowd = Crowd()
    for _ in range(15):  # the two workers take turns; each keeps pressing the same option
        crowd.answer(0, 0)
        crowd.answer(1, 1)
    assert [f.worker for f in by_rule(crowd.run(Rules()), "same_option_run").values()] == [0, 1]


def test_equal_times_keep_array_order() -> None:
    labels = Labels.from_indices([0, 1, 2, 3, 4], [0] * 5, [0, 0, 1, 1, 1])
    assert longest_run(labels, np.zeros(5)).tolist() == [3]
    assert longest_run(labels, [0, 2, 1, 3, 4]).tolist() == [2]  # in time: 0 1 0 1 1


# --- low agreement ------------------------------------------------------------------------


def test_low_agreement_compares_with_the_median_of_judged_workers() -> None:
    crowd = Crowd()
    # Judged (20 answers on tasks with a consensus): agreement 0.8, 0.8, 0.8, 0.5.
    for worker, agree in ((0, 16), (1, 16), (2, 16), (3, 10)):
        for i in range(20):
            crowd.answer(worker, 0 if i < agree else 1, consensus=0)
    # Not judged (19 answers each), never agreeing. Counted in the median they would pull it to
    # 0.5 and worker 3 would pass.
    for worker in (4, 5, 6):
        for _ in range(19):
            crowd.answer(worker, 1, consensus=0)
    findings = crowd.run(NO_RUNS)
    assert len(findings) == 1
    f = findings[0]
    assert (f.worker, f.rule, f.action, f.evidence) == (3, "low_agreement", "flag", 20)
    assert f.value == pytest.approx(0.5)
    assert f.threshold == pytest.approx(0.8 - 0.25)
    assert (
        f.reason()
        == "agrees with the consensus on 50% of 20 answers (< 55%, well below the crowd)"
    )


def test_low_agreement_counts_only_tasks_with_a_consensus() -> None:
    crowd = Crowd()
    for worker in range(3):
        for _ in range(20):
            crowd.answer(worker, 0, consensus=0)
    for _ in range(40):  # worker 3 disagrees, but only on tasks without a consensus...
        crowd.answer(3, 1)
    for _ in range(20):  # ...and agrees on the others
        crowd.answer(3, 0, consensus=0)
    assert crowd.run(NO_RUNS) == []


# --- everything together ------------------------------------------------------------------


def test_findings_sorted_by_worker_then_rule() -> None:
    crowd = Crowd()
    for i in range(20):  # worker 1: everything wrong at once
        crowd.answer(1, 1, seconds=FAST, gold=0 if i < 5 else -1, consensus=0)
    for worker in (0, 2):
        for i in range(20):
            crowd.answer(worker, i % 2, consensus=i % 2)
    findings = crowd.run(Rules())
    assert [(f.worker, f.rule, f.action) for f in findings] == [
        (1, "gold_accuracy", "suspend"),
        (1, "too_fast", "flag"),
        (1, "same_option_run", "flag"),
        (1, "low_agreement", "flag"),
    ]
    assert [f.evidence for f in findings] == [5, 20, 20, 20]


def test_no_labels_and_idle_workers() -> None:
    empty = Labels.from_indices([], [], [], n_tasks=2, n_workers=3, n_classes=2)
    assert (
        evaluate(
            empty,
            seconds=np.array([]),
            order=np.array([]),
            gold=np.array([0, -1]),
            consensus=np.array([1, -1]),
            rules=Rules(),
        )
        == []
    )
    crowd = Crowd()
    for i in range(20):
        crowd.answer(0, i % 2, consensus=0)
    assert crowd.run(Rules(), n_workers=1000) == []  # 999 workers without a label


def test_scales_with_labels_not_workers_times_tasks() -> None:
    n = 30
    labels = Labels.from_indices(
        np.arange(n) * 33_333,
        np.full(n, 999_999),
        np.zeros(n, dtype=np.int64),
        n_tasks=1_000_000,
        n_workers=1_000_000,
        n_classes=2,
    )
    findings = evaluate(
        labels,
        seconds=np.full(n, FAST),
        order=np.arange(n, dtype=np.float64),
        gold=np.full(1_000_000, -1),
        consensus=np.full(1_000_000, -1),
        rules=Rules(),
    )
    assert [(f.worker, f.rule) for f in findings] == [
        (999_999, "too_fast"),
        (999_999, "same_option_run"),
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seconds": np.zeros(2)}, r"seconds must have one entry per label: shape \(3,\)"),
        ({"order": np.zeros(4)}, r"order must have one entry per label"),
        ({"gold": np.zeros(1, dtype=np.int64)}, r"gold must have one entry per task"),
        ({"consensus": np.array([0, 5])}, r"consensus values must be class indices"),
    ],
)
def test_bad_arrays_are_refused(kwargs: dict[str, np.ndarray], message: str) -> None:
    labels = Labels.from_indices([0, 1, 1], [0, 0, 1], [0, 1, 1])
    args: dict[str, np.ndarray] = {
        "seconds": np.zeros(3),
        "order": np.zeros(3),
        "gold": np.array([-1, -1]),
        "consensus": np.array([-1, -1]),
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        evaluate(labels, rules=Rules(), **args)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_gold": 0}, "min_gold must be at least 1"),
        ({"min_gold_accuracy": 1.5}, "min_gold_accuracy must be between 0 and 1"),
        ({"min_seconds": -1.0}, "min_seconds must be 0 or more"),
        ({"fast_share": 0.0}, "fast_share must be above 0"),
        ({"max_run": 1}, "max_run must be at least 2"),
        ({"agreement_gap": -0.1}, "agreement_gap must be between 0 and 1"),
        ({"min_answers": 0}, "min_answers must be at least 1"),
        ({"window": 0}, "window must be at least 1"),
    ],
)
def test_rules_are_checked(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Rules(**kwargs)  # type: ignore[arg-type]


# --- the per-worker figures against plain loops -------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_fast_share_and_longest_run_match_loops(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 400))
    n_workers = int(rng.integers(1, 12))
    labels = Labels.from_indices(
        rng.integers(0, 50, n),
        rng.integers(0, n_workers, n),
        rng.integers(0, 3, n),
        n_tasks=50,
        n_workers=n_workers + 1,  # the last worker never answers
        n_classes=3,
    )
    seconds = rng.exponential(3.0, n)
    order = rng.integers(0, 100, n).astype(np.float64)  # ties on purpose
    window = int(rng.integers(1, 30))
    share, count = fast_share(labels, seconds, order, min_seconds=2.0, window=window)
    run = longest_run(labels, order)
    for w in range(labels.n_workers):
        mine = [i for i in range(n) if labels.worker[i] == w]
        mine.sort(key=lambda i: (order[i], i))
        recent = mine[-window:]
        assert count[w] == len(recent)
        if recent:
            assert share[w] == pytest.approx(sum(seconds[i] < 2.0 for i in recent) / len(recent))
        else:
            assert math.isnan(share[w])
        seq = [int(labels.label[i]) for i in mine]
        expected = max((len(list(g)) for _, g in itertools.groupby(seq)), default=0)
        assert run[w] == expected
