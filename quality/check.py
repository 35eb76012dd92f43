"""One quality check of a project: consensus, dynamic overlap, agreement, worker rules.

Pure: arrays in, arrays and figures out. The check (`services/checks.py`, scheduled by
`handlers/jobs.py`) loads the arrays, runs `run_check` off the event loop and writes the
result back.

Per sample the status codes are those of storage: 0 open (wants labels), 1 done, 2 review
(a reviewer must decide), 3 reviewed (a reviewer decided; never changed here).

- Consensus: `aggregate` over the labels of workers not excluded (suspended), with gold
  answers and reviewer decisions as known answers (they win, and teach the model about
  the workers who labeled them).
- Dynamic overlap (`OverlapPolicy`): a sample is done when its stopping confidence
  (`quality.overlap.stop_confidence`, by default the probability that the labels still to
  come up to the maximum would not change its answer) reaches the target with at least the
  minimum overlap; otherwise it asks for one more label, up to the maximum; at the maximum
  without the target it goes to review. A sample whose top answers tie (`Consensus.tie`) is
  never done: it asks for another label below the maximum and goes to review at it. Without
  dynamic overlap a sample is
  done when it has its fixed number of labels, and nothing goes to review.
- Gold (control) samples are never re-targeted: they are served by the gold rate, not the
  pick index.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from quality.aggregate import Consensus, aggregate
from quality.agreement import (
    ConfusedPair,
    confused_pairs,
    confusion,
    fleiss_kappa,
    krippendorff_alpha,
    worker_agreement,
)
from quality.labels import Labels
from quality.overlap import DONE, MORE, REVIEW, OverlapPolicy, decide, stop_confidence, wanted
from quality.workers import Finding, Rules, evaluate

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

OPEN, FINISHED, IN_REVIEW, REVIEWED = 0, 1, 2, 3


@dataclass(frozen=True)
class CheckInput:
    """A project's labels and samples as flat arrays (see storage.snapshot.ProjectLabels)."""

    task: IntArray
    worker: IntArray
    label: IntArray
    seconds: FloatArray
    answered: FloatArray
    n_tasks: int
    n_workers: int
    n_classes: int
    truth: IntArray  # per sample, -1 if unknown
    reviewed: IntArray  # per sample, -1 if no reviewer decision
    status: IntArray
    target: IntArray
    gold: BoolArray
    excluded: BoolArray  # per worker (suspended): their labels are left out


@dataclass(frozen=True)
class CheckSettings:
    """The project's [quality] settings that a check uses."""

    method: str = "auto"
    dynamic: bool = True
    min_overlap: int = 3
    max_overlap: int = 5
    target_confidence: float = 0.99
    stop_rule: str = "hybrid"  # quality.overlap.RULES
    rules: Rules = field(default_factory=Rules)


@dataclass(frozen=True)
class CheckResult:
    """What a check decided and measured."""

    consensus: Consensus
    status: IntArray
    target: IntArray
    alpha: float
    kappa: float
    pairs: list[ConfusedPair]
    confusion: FloatArray  # (K, K) labels: row = consensus class, column = class given
    findings: list[Finding]
    agreement: FloatArray  # per worker, with the consensus (NaN without labels)
    counts: dict[str, int]


def run_check(inp: CheckInput, settings: CheckSettings) -> CheckResult:
    """Aggregate, decide each sample's status and wanted labels, score agreement and workers."""
    keep = ~inp.excluded[inp.worker] if len(inp.worker) else np.zeros(0, dtype=bool)
    labels = Labels(
        inp.task[keep],
        inp.worker[keep],
        inp.label[keep],
        inp.n_tasks,
        inp.n_workers,
        max(inp.n_classes, 1),
    )
    known = np.where(inp.reviewed >= 0, inp.reviewed, inp.truth)
    consensus = aggregate(labels, settings.method, known=known)
    n_labels = consensus.n_labels
    status = inp.status.copy()
    target = inp.target.copy()
    live = ~inp.gold & (inp.status != REVIEWED)
    if settings.dynamic:
        policy = OverlapPolicy(
            settings.min_overlap,
            settings.max_overlap,
            settings.target_confidence,
            settings.stop_rule,
        )
        confidence = stop_confidence(labels, consensus, policy, known=known >= 0)
        decision = decide(n_labels, confidence, policy)
        # A tie is never settled: below max_overlap it asks for another label, at max_overlap
        # a reviewer decides (whatever confidence the rule reported for the tied answer).
        tied = consensus.tie & (known < 0)
        decision[tied] = np.where(n_labels[tied] >= policy.max_overlap, REVIEW, MORE)
        want = wanted(n_labels, decision, policy)
        new_status = np.select(
            [decision == DONE, decision == REVIEW, decision == MORE],
            [FINISHED, IN_REVIEW, OPEN],
        )
        status[live] = new_status[live]
        target[live] = want[live]
    else:
        status[live] = np.where(n_labels[live] >= inp.target[live], FINISHED, OPEN)
    # Worker rules look at every label, including those of workers already excluded.
    all_labels = Labels(
        inp.task, inp.worker, inp.label, inp.n_tasks, inp.n_workers, max(inp.n_classes, 1)
    )
    gold_answers = np.where(inp.gold, inp.truth, -1)
    findings = evaluate(
        all_labels,
        seconds=inp.seconds,
        order=inp.answered,
        gold=gold_answers,
        consensus=consensus.label,
        rules=settings.rules,
    )
    findings = [f for f in findings if not inp.excluded[f.worker]]
    crowd = labels.subset(~inp.gold[labels.task]) if labels.n else labels
    agreement, _ = worker_agreement(labels, consensus.label)
    work = status[~inp.gold]  # gold (control) samples are counted apart, never as work
    counts = {
        "labels": int(labels.n),
        "excluded_labels": int((~keep).sum()),
        "samples": int(inp.n_tasks),
        "open": int((work == OPEN).sum()),
        "done": int((work == FINISHED).sum()),
        "review": int((work == IN_REVIEW).sum()),
        "reviewed": int((work == REVIEWED).sum()),
        "gold": int(inp.gold.sum()),
    }
    return CheckResult(
        consensus=consensus,
        status=status,
        target=target,
        alpha=krippendorff_alpha(crowd),
        kappa=fleiss_kappa(crowd),
        pairs=confused_pairs(crowd, consensus.label),
        confusion=confusion(crowd, consensus.label),
        findings=findings,
        agreement=agreement,
        counts=counts,
    )
