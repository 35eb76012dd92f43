"""Dynamic overlap: ask for more labels only where the consensus is not yet confident (pure).

Every task gets at least `min_overlap` labels. After that a task is done as soon as its
consensus confidence reaches `target_confidence`; a task that reaches `max_overlap` labels
without getting there goes to a person for review instead of to more workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from quality.labels import IntArray

MORE = 0  # ask for more labels
DONE = 1  # confident enough, with at least min_overlap labels
REVIEW = 2  # max_overlap labels and still not confident: a person decides


@dataclass(frozen=True)
class OverlapPolicy:
    """How many labels a task gets: min_overlap, up to max_overlap until target_confidence."""

    min_overlap: int = 3
    max_overlap: int = 5
    target_confidence: float = 0.9

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
                f" (got {self.target_confidence}), e.g. 0.9"
            )


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
