"""Worker quality rules: who to suspend, who to flag for a coordinator to look at (pure).

Four rules, each over flat per-label arrays (no worker-by-task matrix):

- gold_accuracy: accuracy on gold tasks below `min_gold_accuracy` after at least `min_gold`
  gold answers. The only rule with action "suspend": gold answers are known to be right, so a
  low score is evidence on its own.
- too_fast: at least `fast_share` of the worker's last `window` answers took less than
  `min_seconds`. Waits for min(window, min_answers) answers, so one quick tap from a newcomer is
  not a finding.
- same_option_run: the worker's longest run of the same option, in answer order, is at least
  `max_run` long.
- low_agreement: agreement with the consensus more than `agreement_gap` below the median of all
  workers with at least `min_answers` labels on tasks with a consensus (only those are judged).

The last three are "flag": they can have innocent causes (a fast reader, a skewed data set, a
hard batch), so a person decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from quality.agreement import gold_accuracy, worker_agreement
from quality.labels import FloatArray, IntArray, Labels

RULES = ("gold_accuracy", "too_fast", "same_option_run", "low_agreement")


@dataclass(frozen=True)
class Rules:
    """Thresholds for `evaluate`; the defaults suit a crowd of casual phone users."""

    min_gold: int = 5  # gold answers before the accuracy rule applies
    min_gold_accuracy: float = 0.6  # suspend below
    min_seconds: float = 2.0  # answers faster than this are flagged
    fast_share: float = 0.5  # flag when at least this share of the last `window` answers was fast
    max_run: int = 15  # flag runs of the same option at least this long
    agreement_gap: float = 0.25  # flag agreement with consensus this far below the crowd median
    min_answers: int = 20  # labels before the agreement rule applies
    window: int = 50

    def __post_init__(self) -> None:
        problems = []
        if self.min_gold < 1:
            problems.append("min_gold must be at least 1")
        if not 0.0 <= self.min_gold_accuracy <= 1.0:
            problems.append("min_gold_accuracy must be between 0 and 1")
        if not self.min_seconds >= 0.0:
            problems.append("min_seconds must be 0 or more")
        if not 0.0 < self.fast_share <= 1.0:
            problems.append("fast_share must be above 0 and at most 1")
        if self.max_run < 2:
            problems.append("max_run must be at least 2")
        if not 0.0 <= self.agreement_gap <= 1.0:
            problems.append("agreement_gap must be between 0 and 1")
        if self.min_answers < 1:
            problems.append("min_answers must be at least 1")
        if self.window < 1:
            problems.append("window must be at least 1")
        if problems:
            raise ValueError("; ".join(problems))


@dataclass(frozen=True)
class Finding:
    """One rule that fired for one worker."""

    worker: int  # worker index
    rule: str  # "gold_accuracy" | "too_fast" | "same_option_run" | "low_agreement"
    action: str  # "suspend" | "flag"
    value: float  # the measured figure (accuracy, share, run length, agreement)
    threshold: float  # the bar it crossed (for low_agreement: crowd median minus the gap)
    evidence: int  # how many answers it rests on

    def reason(self) -> str:
        """One English line for a coordinator, e.g. "gold accuracy 40% after 10 gold answers".

        Stored as it is (the suspension, the audit log); `parse_reason` reads its figures
        back, so the bot can say it in the reader's language (`bot.reasons`)."""
        if self.rule == "gold_accuracy":
            return (
                f"gold accuracy {self.value:.0%} after {self.evidence} gold answers"
                f" (< {self.threshold:.0%})"
            )
        if self.rule == "too_fast":
            return (
                f"{self.value:.0%} of the last {self.evidence} answers were too fast"
                f" (>= {self.threshold:.0%})"
            )
        if self.rule == "same_option_run":
            return f"the same option {self.value:.0f} times in a row (>= {self.threshold:.0f})"
        if self.rule == "low_agreement":
            return (
                f"agrees with the consensus on {self.value:.0%} of {self.evidence} answers"
                f" (< {self.threshold:.0%}, well below the crowd)"
            )
        return (
            f"{self.rule}: {self.value:g} (threshold {self.threshold:g}, {self.evidence} answers)"
        )


@dataclass(frozen=True)
class Reason:
    """A finding's figures, read back from its English reason (stored as text in the
    database and the audit log); the bot renders them in the reader's language."""

    rule: str
    value: float  # as shown: a share to the percent, a run length
    threshold: float
    evidence: int


_PCT = r"(-?\d+)%"
_REASONS = (
    (
        "gold_accuracy",
        re.compile(rf"gold accuracy {_PCT} after (\d+) gold answers \(< {_PCT}\)"),
        (True, False, True),
    ),
    (
        "too_fast",
        re.compile(rf"{_PCT} of the last (\d+) answers were too fast \(>= {_PCT}\)"),
        (True, False, True),
    ),
    (
        "same_option_run",
        re.compile(r"the same option (\d+) times in a row \(>= (\d+)\)"),
        (False, False),
    ),
    (
        "low_agreement",
        re.compile(
            rf"agrees with the consensus on {_PCT} of (\d+) answers \(< {_PCT}, well below"
            r" the crowd\)"
        ),
        (True, False, True),
    ),
)


def parse_reason(text: str) -> Reason | None:
    """The figures of a reason `Finding.reason()` (or the gold rule of `storage.gold`)
    wrote; None for any other text (an older or hand-written reason)."""
    for rule, pattern, percents in _REASONS:
        match = pattern.fullmatch(text.strip())
        if match is None:
            continue
        groups = zip(match.groups(), percents, strict=True)
        numbers = [int(g) / 100 if pct else int(g) for g, pct in groups]
        if len(numbers) == 3:
            value, evidence, threshold = numbers
        else:  # same_option_run: the run is its own evidence
            value, threshold = numbers
            evidence = int(value)
        return Reason(rule, float(value), float(threshold), int(evidence))
    return None


def evaluate(
    labels: Labels,
    *,
    seconds: npt.ArrayLike,
    order: npt.ArrayLike,
    gold: npt.ArrayLike,
    consensus: npt.ArrayLike,
    rules: Rules,
) -> list[Finding]:
    """Every rule that fires, by worker and then in the order of `RULES`.

    `seconds`: per label, time from card shown to answer (NaN if unknown: never fast).
    `order`: per label, when it was answered (any increasing number, e.g. a Unix timestamp);
    labels with equal times keep their order in the arrays. `gold` and `consensus`: per task, a
    class index or -1.
    """
    secs = _per_label(seconds, labels, "seconds")
    when = _per_label(order, labels, "order")
    findings: list[Finding] = []

    accuracy, n_gold = gold_accuracy(labels, gold)
    low = (n_gold >= rules.min_gold) & (accuracy < rules.min_gold_accuracy)
    findings += [
        Finding(
            int(w),
            "gold_accuracy",
            "suspend",
            float(accuracy[w]),
            rules.min_gold_accuracy,
            int(n_gold[w]),
        )
        for w in np.flatnonzero(low)
    ]

    share, n_recent = fast_share(
        labels, secs, when, min_seconds=rules.min_seconds, window=rules.window
    )
    enough = n_recent >= min(rules.window, rules.min_answers)
    findings += [
        Finding(int(w), "too_fast", "flag", float(share[w]), rules.fast_share, int(n_recent[w]))
        for w in np.flatnonzero(enough & (share >= rules.fast_share))
    ]

    run = longest_run(labels, when)
    findings += [
        Finding(int(w), "same_option_run", "flag", float(run[w]), rules.max_run, int(run[w]))
        for w in np.flatnonzero(run >= rules.max_run)
    ]

    agreement, n_compared = worker_agreement(labels, consensus)
    judged = n_compared >= rules.min_answers
    if judged.any():
        bar = float(np.median(agreement[judged])) - rules.agreement_gap
        findings += [
            Finding(int(w), "low_agreement", "flag", float(agreement[w]), bar, int(n_compared[w]))
            for w in np.flatnonzero(judged & (agreement < bar))
        ]

    findings.sort(key=lambda f: (f.worker, RULES.index(f.rule)))
    return findings


def fast_share(
    labels: Labels,
    seconds: npt.ArrayLike,
    order: npt.ArrayLike,
    *,
    min_seconds: float,
    window: int,
) -> tuple[FloatArray, IntArray]:
    """Per worker: share of their last `window` answers faster than `min_seconds`, and how many.

    The count is min(labels given, window); workers without labels get NaN and 0.
    """
    secs = _per_label(seconds, labels, "seconds")
    sort, worker, _ = _by_worker_and_time(labels, _per_label(order, labels, "order"))
    given = labels.labels_per_worker()
    first = np.cumsum(given) - given  # index of each worker's first label in sorted order
    from_end = given[worker] - (np.arange(labels.n) - first[worker])  # 1 = latest answer
    recent = from_end <= window
    fast = secs[sort] < min_seconds
    n = np.bincount(worker[recent], minlength=labels.n_workers).astype(np.int64)
    n_fast = np.bincount(worker[recent], weights=fast[recent], minlength=labels.n_workers)
    share = np.full(labels.n_workers, np.nan)
    np.divide(n_fast, n, out=share, where=n > 0)
    return share, n


def longest_run(labels: Labels, order: npt.ArrayLike) -> IntArray:
    """Per worker: the longest run of the same class in their answer order (0 without labels)."""
    _, worker, label = _by_worker_and_time(labels, _per_label(order, labels, "order"))
    longest = np.zeros(labels.n_workers, dtype=np.int64)
    if labels.n == 0:
        return longest
    # A run starts at the first label and wherever the worker or the class changes.
    starts = np.flatnonzero(
        np.concatenate(([True], (np.diff(worker) != 0) | (np.diff(label) != 0)))
    )
    lengths = np.diff(np.append(starts, labels.n))
    np.maximum.at(longest, worker[starts], lengths)
    return longest


def _by_worker_and_time(labels: Labels, order: FloatArray) -> tuple[IntArray, IntArray, IntArray]:
    """The sort putting labels by worker, then time (stable), and the sorted worker and class."""
    sort = np.lexsort((order, labels.worker)).astype(np.int64)
    return sort, labels.worker[sort], labels.label[sort]


def _per_label(values: npt.ArrayLike, labels: Labels, name: str) -> FloatArray:
    """A per-label float array, checked against the number of labels."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (labels.n,):
        raise ValueError(
            f"{name} must have one entry per label: shape ({labels.n},), got {arr.shape}"
        )
    return arr
