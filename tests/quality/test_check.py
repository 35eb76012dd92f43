from __future__ import annotations

import numpy as np

from quality.check import FINISHED, IN_REVIEW, OPEN, REVIEWED, CheckInput, CheckSettings, run_check
from quality.workers import Rules

# Majority vote and the posterior rule keep the confidences hand-computable (2 of 3: 0.67).
MV = CheckSettings(
    method="mv", min_overlap=2, max_overlap=3, target_confidence=0.9, stop_rule="posterior"
)


def make_input(
    rows: list[tuple[int, int, int]],
    *,
    n_tasks: int,
    n_workers: int,
    n_classes: int = 3,
    seconds: list[float] | None = None,
    truth: list[int] | None = None,
    reviewed: list[int] | None = None,
    status: list[int] | None = None,
    target: list[int] | None = None,
    gold: list[bool] | None = None,
    excluded: list[bool] | None = None,
) -> CheckInput:
    """Rows are (task, worker, label), answered in the order given."""
    arr = np.array(rows, dtype=np.int64).reshape(-1, 3)
    n = len(arr)
    return CheckInput(
        task=arr[:, 0].copy(),
        worker=arr[:, 1].copy(),
        label=arr[:, 2].copy(),
        seconds=np.array(seconds if seconds is not None else [10.0] * n, dtype=np.float64),
        answered=np.arange(n, dtype=np.float64),
        n_tasks=n_tasks,
        n_workers=n_workers,
        n_classes=n_classes,
        truth=np.array(truth or [-1] * n_tasks, dtype=np.int64),
        reviewed=np.array(reviewed or [-1] * n_tasks, dtype=np.int64),
        status=np.array(status or [OPEN] * n_tasks, dtype=np.int64),
        target=np.array(target or [2] * n_tasks, dtype=np.int64),
        gold=np.array(gold or [False] * n_tasks, dtype=bool),
        excluded=np.array(excluded or [False] * n_workers, dtype=bool),
    )


def test_unanimous_labels_finish_with_target_equal_to_labels() -> None:
    inp = make_input([(0, 0, 1), (0, 1, 1), (0, 2, 1)], n_tasks=1, n_workers=3)
    for settings in (MV, CheckSettings()):  # also the default (auto) model
        result = run_check(inp, settings)
        assert result.status.tolist() == [FINISHED]
        assert result.target.tolist() == [3]
        assert result.consensus.label.tolist() == [1]
        assert result.counts["done"] == 1


def test_even_split_at_max_overlap_goes_to_review() -> None:
    inp = make_input([(0, 0, 0), (0, 1, 1), (0, 2, 2)], n_tasks=1, n_workers=3)
    result = run_check(inp, MV)
    assert result.status.tolist() == [IN_REVIEW]
    assert result.target.tolist() == [3]  # nothing more is asked for
    assert result.counts["review"] == 1


def test_split_below_max_asks_for_one_more_label() -> None:
    inp = make_input([(0, 0, 0), (0, 1, 1)], n_tasks=1, n_workers=2)
    result = run_check(inp, MV)
    assert result.status.tolist() == [OPEN]
    assert result.target.tolist() == [3]
    assert result.counts["open"] == 1


def test_reviewed_sample_keeps_status_and_reviewer_answer_wins() -> None:
    # Everyone said 0 on task 0, but a reviewer decided 2; task 1 is a plain unanimous task.
    rows = [(0, 0, 0), (0, 1, 0), (0, 2, 0), (1, 0, 1), (1, 1, 1), (1, 2, 1)]
    inp = make_input(
        rows, n_tasks=2, n_workers=3, reviewed=[2, -1], status=[REVIEWED, OPEN], target=[3, 2]
    )
    result = run_check(inp, MV)
    assert result.status.tolist() == [REVIEWED, FINISHED]
    assert result.target.tolist() == [3, 3]
    assert result.consensus.label.tolist() == [2, 1]
    assert result.consensus.confidence[0] == 1.0
    assert result.counts["reviewed"] == 1


def test_gold_samples_keep_status_and_target() -> None:
    # Task 0 is gold (answer 2) and was answered 0 by everyone: a plain task would be done.
    rows = [(0, 0, 0), (0, 1, 0), (0, 2, 0), (1, 0, 0), (1, 1, 1)]
    inp = make_input(
        rows,
        n_tasks=2,
        n_workers=3,
        truth=[2, -1],
        gold=[True, False],
        status=[OPEN, OPEN],
        target=[0, 2],
    )
    result = run_check(inp, MV)
    assert result.status.tolist() == [OPEN, OPEN]
    assert result.target.tolist() == [0, 3]
    assert result.consensus.label[0] == 2  # the known answer wins
    assert result.counts["gold"] == 1
    assert (result.counts["open"], result.counts["done"]) == (1, 0)  # the gold one is no work


def test_excluded_worker_is_left_out_of_consensus() -> None:
    # Only worker 2 disagrees on task 0.
    rows = [(0, 0, 1), (0, 1, 1), (0, 2, 0)]
    settings = CheckSettings(method="mv", min_overlap=2, max_overlap=5, stop_rule="posterior")
    kept = run_check(make_input(rows, n_tasks=1, n_workers=3), settings)
    assert kept.status.tolist() == [OPEN]  # 2 of 3: 0.67 < 0.9, below max
    assert kept.target.tolist() == [4]
    inp = make_input(rows, n_tasks=1, n_workers=3, excluded=[False, False, True])
    result = run_check(inp, settings)
    assert result.consensus.n_labels.tolist() == [2]
    assert result.consensus.confidence[0] == 1.0
    assert result.status.tolist() == [FINISHED]
    assert result.target.tolist() == [2]
    assert result.counts["labels"] == 2
    assert result.counts["excluded_labels"] == 1


def test_fixed_overlap_is_done_at_target_and_never_reviewed() -> None:
    rows = [(0, 0, 0), (0, 1, 1), (1, 0, 0), (2, 0, 0), (2, 1, 0)]
    inp = make_input(rows, n_tasks=3, n_workers=2, target=[2, 2, 3])
    result = run_check(inp, CheckSettings(method="mv", dynamic=False))
    # a 1-1 split at its target is done; 1 of 2 and 2 of 3 labels stay open
    assert result.status.tolist() == [FINISHED, OPEN, OPEN]
    assert result.target.tolist() == [2, 2, 3]
    assert result.counts["review"] == 0


def careless_crowd(excluded: list[bool] | None = None) -> CheckInput:
    """Worker 0 always taps 0 in half a second; worker 1 misses both gold tasks (20, 21)."""
    rows: list[tuple[int, int, int]] = []
    seconds: list[float] = []
    for t in range(20):
        rows += [(t, 0, 0), (t, 1, t % 2), (t, 2, t % 2)]
        seconds += [0.5, 10.0, 10.0]
    rows += [(20, 1, 0), (21, 1, 0), (20, 2, 1), (21, 2, 1)]
    seconds += [10.0] * 4
    return make_input(
        rows,
        n_tasks=22,
        n_workers=3,
        n_classes=2,
        seconds=seconds,
        truth=[-1] * 20 + [1, 1],
        gold=[False] * 20 + [True, True],
        target=[3] * 20 + [0, 0],
        excluded=excluded,
    )


RULES = Rules(min_gold=2, min_gold_accuracy=0.6, max_run=10, min_answers=20, window=20)


def test_careless_worker_and_gold_misses_are_found() -> None:
    result = run_check(careless_crowd(), CheckSettings(method="mv", rules=RULES))
    by_worker: dict[int, dict[str, str]] = {}
    for f in result.findings:
        by_worker.setdefault(f.worker, {})[f.rule] = f.action
    assert by_worker[0]["too_fast"] == "flag"
    assert by_worker[0]["same_option_run"] == "flag"
    assert by_worker[1] == {"gold_accuracy": "suspend"}
    assert 2 not in by_worker
    gold = next(f for f in result.findings if f.rule == "gold_accuracy")
    assert (gold.value, gold.evidence) == (0.0, 2)
    # an excluded (already suspended) worker is not reported again
    again = run_check(
        careless_crowd(excluded=[False, True, False]), CheckSettings(method="mv", rules=RULES)
    )
    assert all(f.worker != 1 for f in again.findings)
    assert any(f.worker == 0 for f in again.findings)


def test_a_tie_is_never_done_even_when_its_confidence_reaches_the_target() -> None:
    # target 0.3: the tied answers' vote shares (0.5, 0.33) reach it, the tie rule still wins
    low = CheckSettings(
        method="mv", min_overlap=2, max_overlap=3, target_confidence=0.3, stop_rule="posterior"
    )
    rows = [(0, 0, 0), (0, 1, 1), (1, 0, 0), (1, 1, 1), (1, 2, 2), (2, 0, 2), (2, 1, 2)]
    result = run_check(make_input(rows, n_tasks=3, n_workers=3), low)
    assert result.consensus.tie.tolist() == [True, True, False]
    assert result.status.tolist() == [OPEN, IN_REVIEW, FINISHED]
    assert result.target.tolist() == [3, 3, 2]
    # a reviewer's answer settles a tie for good
    reviewed = make_input(rows, n_tasks=3, n_workers=3, reviewed=[1, -1, -1])
    assert run_check(reviewed, low).status.tolist()[0] == FINISHED
