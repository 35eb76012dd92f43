"""Dynamic overlap: ask for more labels only where the consensus is not yet settled (pure).

Every task gets at least `min_overlap` labels. After that a task is done as soon as its
confidence (`stop_confidence`) reaches `target_confidence`; a task that reaches `max_overlap`
labels without getting there goes to a person for review instead of to more workers.

Which confidence, `OverlapPolicy.rule`:

- "hybrid" (default): the larger of "predictive" and the consensus posterior with its error
  scaled up POSTERIOR_ERROR_FACTOR times (1 - 10 * (1 - posterior)), the latter only for tasks
  whose every worker has at least KNOWN_WORKER_LABELS labels in the project. Where workers are
  known, a confident weighted consensus settles a task long before the unweighted vote count
  does (two reliable workers agreeing); where they are not (a new crowd, workers with a label or
  two), the posterior is noise and only the vote count speaks. The factor is measured, not
  derived: tasks stopped this way keep the full-overlap answer 98-100 % of the time on the five
  crowd datasets (bench/bench_overlap.py), i.e. the posterior's own error (<= 0.001 at 0.99)
  is about ten times too small. With "mv" or "wawa" the confidence is a vote share, not a
  posterior, so "hybrid" is "predictive" there.
- "predictive": the probability that the labels still to come, up to max_overlap,
  would not change the answer (`quality.stopping`, a Dirichlet-multinomial model of the
  project's own votes, no gold needed). Calibrated, so stopping at target t loses at most
  about (1 - t) of the accuracy the full overlap would give: 0.99 for "within 1 point". At
  max_overlap nothing is to come: a task is done when its answer has the most votes, and goes
  to review on a tie or when the consensus model overrules the majority (under "hybrid", unless
  the model is confident enough on known workers to settle it).
- "posterior": the consensus method's own posterior of its answer (the rule before; with few
  labels per task it is overconfident, see docs/benchmarks.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from quality.aggregate import Consensus
from quality.labels import BoolArray, FloatArray, IntArray, Labels
from quality.stopping import fit_prior, predictive_confidence

RULES: tuple[str, ...] = ("hybrid", "predictive", "posterior")
POSTERIOR_ERROR_FACTOR = 10.0  # "hybrid": how much the posterior understates its own error
KNOWN_WORKER_LABELS = 5  # "hybrid": a worker with fewer labels is not known enough to trust
VOTE_SHARE_METHODS = ("mv", "wawa")  # their confidence is a vote share: "hybrid" ignores it

MORE = 0  # ask for more labels
DONE = 1  # confident enough, with at least min_overlap labels
REVIEW = 2  # max_overlap labels and still not confident: a person decides


@dataclass(frozen=True)
class OverlapPolicy:
    """How many labels a task gets: min_overlap, up to max_overlap until target_confidence."""

    min_overlap: int = 3
    max_overlap: int = 5
    target_confidence: float = 0.99
    rule: str = "hybrid"  # one of RULES: what `stop_confidence` measures

    def __post_init__(self) -> None:
        if self.min_overlap < 1:
            raise ValueError(f"min_overlap must be at least 1 (got {self.min_overlap})")
        if self.max_overlap < self.min_overlap:
            raise ValueError(
                f"max_overlap ({self.max_overlap}) must be at least min_overlap"
                f" ({self.min_overlap}): raise max_overlap or lower min_overlap"
            )
        if not 0.0 < self.target_confidence <= 1.0:
            raise ValueError(
                "target_confidence must be above 0 and at most 1"
                f" (got {self.target_confidence}), e.g. 0.99"
            )
        if self.rule not in RULES:
            raise ValueError(f"rule must be one of {', '.join(RULES)} (got {self.rule!r})")


def stop_confidence(
    labels: Labels,
    consensus: Consensus,
    policy: OverlapPolicy,
    *,
    known: BoolArray | None = None,
    cap: IntArray | None = None,
) -> FloatArray:
    """Per task: the confidence `decide` compares with the target, as `policy.rule` says.

    `labels` are those behind `consensus`; `known` (n_tasks,) marks tasks whose answer is known
    (gold, a reviewer's decision): confidence 1. `cap` (n_tasks,): the most labels each task can
    get, default max_overlap (a replay passes each task's pool when it is smaller).
    """
    if policy.rule == "posterior":
        return consensus.confidence
    counts = labels.counts()
    n = labels.labels_per_task()
    top = np.full(labels.n_tasks, policy.max_overlap, dtype=np.int64) if cap is None else cap
    remaining = np.maximum(np.asarray(top, dtype=np.int64) - n, 0)
    conf = predictive_confidence(counts, consensus.label, remaining, fit_prior(counts))
    if (
        policy.rule == "hybrid"
        and consensus.method.removeprefix("auto:") not in VOTE_SHARE_METHODS
    ):
        per_worker = labels.labels_per_worker()
        unknown = per_worker[labels.worker] < KNOWN_WORKER_LABELS
        trusted = np.bincount(labels.task, weights=unknown, minlength=labels.n_tasks) == 0
        scaled = 1.0 - POSTERIOR_ERROR_FACTOR * (1.0 - raw_confidence(consensus))
        conf = np.where(trusted & (n > 0), np.maximum(conf, scaled), conf)
    if known is not None:
        conf[np.asarray(known, dtype=np.bool_)] = 1.0
    return conf


def raw_confidence(consensus: Consensus) -> FloatArray:
    """The method's own posterior of each answer, before `auto`'s calibration (temperature).

    `hybrid`'s posterior arm reads this one: POSTERIOR_ERROR_FACTOR was measured on it, and
    the dynamic-overlap replay with the calibrated confidence instead spends more labels for
    no accuracy (docs/benchmarks.md, consensus section).
    """
    if consensus.temperature == 1.0:
        return consensus.confidence
    log_post = np.log(np.maximum(consensus.posterior, 1e-300)) * consensus.temperature
    log_post -= log_post.max(axis=1, keepdims=True)
    raw = np.exp(log_post)
    raw /= raw.sum(axis=1, keepdims=True)
    chosen = np.maximum(consensus.label, 0)
    out: FloatArray = np.where(
        consensus.label >= 0, raw[np.arange(len(chosen)), chosen], consensus.confidence
    )
    return out


def decide(n_labels: npt.ArrayLike, confidence: npt.ArrayLike, policy: OverlapPolicy) -> IntArray:
    """Per task: MORE, DONE or REVIEW.

    DONE when confidence >= target and n_labels >= min_overlap (DONE wins over REVIEW);
    otherwise REVIEW when n_labels >= max_overlap; otherwise MORE. A NaN confidence (e.g. a task
    without labels) is never confident.
    """
    n = np.asarray(n_labels, dtype=np.int64)
    conf = np.asarray(confidence, dtype=np.float64)
    if n.shape != conf.shape:
        raise ValueError(
            f"n_labels and confidence must have the same shape, got {n.shape} and {conf.shape}"
        )
    done = (conf >= policy.target_confidence) & (n >= policy.min_overlap)
    review = ~done & (n >= policy.max_overlap)
    status = np.full(n.shape, MORE, dtype=np.int64)
    status[done] = DONE
    status[review] = REVIEW
    return status


def wanted(n_labels: npt.ArrayLike, status: npt.ArrayLike, policy: OverlapPolicy) -> IntArray:
    """Per task: how many labels it should have now.

    MORE: one more than it has, but at least min_overlap and at most max_overlap (so a new task
    asks for min_overlap at once). DONE and REVIEW: what it has, nothing more.
    """
    n = np.asarray(n_labels, dtype=np.int64)
    st = np.asarray(status, dtype=np.int64)
    if n.shape != st.shape:
        raise ValueError(
            f"n_labels and status must have the same shape, got {n.shape} and {st.shape}"
        )
    if not np.isin(st, (MORE, DONE, REVIEW)).all():
        raise ValueError("status values must be MORE (0), DONE (1) or REVIEW (2), from decide()")
    more = np.clip(n + 1, policy.min_overlap, policy.max_overlap)
    out: IntArray = np.where(st == MORE, more, n)
    return out
