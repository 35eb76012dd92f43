"""Agreement between labellers: chance-corrected reliability, per-worker agreement, confusions.

Everything is computed from the flat label arrays of a `Labels` with `np.bincount`, or from the
(n_tasks, n_classes) vote counts; nothing builds a worker-by-task matrix. A consensus or gold
answer is a plain int array of shape (n_tasks,) holding a class index, or -1 for "none".

Each label is one value: if a worker labelled the same task twice, both labels count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from quality.labels import FloatArray, IntArray, Labels

NONE = -1  # "no class" in a consensus or gold array


def per_task_classes(values: npt.ArrayLike, labels: Labels, name: str) -> IntArray:
    """Check a per-task class array (consensus, gold): shape (n_tasks,), values -1..K-1."""
    arr = np.asarray(values, dtype=np.int64)
    if arr.shape != (labels.n_tasks,):
        raise ValueError(
            f"{name} must have one entry per task: shape ({labels.n_tasks},), got {arr.shape}"
        )
    if arr.size and (int(arr.min()) < NONE or int(arr.max()) >= labels.n_classes):
        raise ValueError(
            f"{name} values must be class indices 0..{labels.n_classes - 1}, or -1 for none"
        )
    return arr


def krippendorff_alpha(labels: Labels) -> float:
    """Krippendorff's alpha for nominal data; any number of labels per task.

    Builds the coincidence matrix: a task u with m_u >= 2 labels, n_uc of them of class c, adds
    n_uc * n_uk / (m_u - 1) to o[c, k] for c != k and n_uc * (n_uc - 1) / (m_u - 1) to o[c, c].
    Tasks with fewer than two labels are not pairable and are left out, as Krippendorff does.
    With n_c = sum_k o[c, k] and n = sum_c n_c (the pairable labels),

        alpha = 1 - (n - 1) * sum_{c != k} o[c, k] / sum_{c != k} n_c * n_k.

    Returns NaN when alpha is undefined: no pairable task, or all pairable labels in one class
    (no expected disagreement). 1 is perfect agreement, 0 chance level, below 0 worse than chance.
    """
    counts = labels.counts()
    o = _coincidences(counts)
    # n_c from the integer counts, not o's row sums, so that one class gives exactly 0 below.
    n_c = counts[counts.sum(axis=1) >= 2].sum(axis=0)
    n = float(n_c.sum())
    expected = n * n - float(n_c @ n_c)  # sum over c != k of n_c * n_k
    if expected <= 0:
        return float("nan")
    observed = float(o.sum() - np.trace(o))  # sum over c != k of o[c, k]
    return 1.0 - (n - 1.0) * observed / expected


def _coincidences(counts: FloatArray) -> FloatArray:
    """Coincidence matrix o (K, K) from per-task vote counts; unpairable tasks weigh 0."""
    m = counts.sum(axis=1)
    weight = np.zeros_like(m)
    pairable = m >= 2
    weight[pairable] = 1.0 / (m[pairable] - 1.0)
    # sum_u w_u n_uc n_uk, minus the diagonal's self-pairs sum_u w_u n_uc.
    o: FloatArray = (counts * weight[:, None]).T @ counts
    o[np.diag_indices_from(o)] -= weight @ counts
    return o


def fleiss_kappa(labels: Labels) -> float:
    """Fleiss' kappa, generalised to a different number of raters per task.

    For each task i with m_i >= 2 labels, n_ic of them of class c, the agreement is the share of
    agreeing ordered pairs of its labels, P_i = sum_c n_ic (n_ic - 1) / (m_i (m_i - 1)). P_bar is
    the plain mean of P_i over those tasks (each task weighs the same, however many labels it
    has). Chance agreement P_e = sum_c p_c^2 uses the pooled class shares p_c = sum_i n_ic /
    sum_i m_i over the same tasks. kappa = (P_bar - P_e) / (1 - P_e); with the same number of
    raters everywhere this is Fleiss (1971) exactly. Tasks with fewer than two labels are left
    out. Returns NaN when no task has two labels or all their labels are one class (P_e = 1).
    """
    counts = labels.counts()
    m = counts.sum(axis=1)
    keep = m >= 2
    if not keep.any():
        return float("nan")
    n_ic = counts[keep]
    m_i = m[keep]
    p_i = (n_ic * (n_ic - 1.0)).sum(axis=1) / (m_i * (m_i - 1.0))
    p_bar = float(p_i.mean())
    p_c = n_ic.sum(axis=0) / float(m_i.sum())
    p_e = float(p_c @ p_c)
    if p_e >= 1.0:
        return float("nan")
    return (p_bar - p_e) / (1.0 - p_e)


@dataclass
class AgreementSums:
    """Krippendorff's alpha and Fleiss' kappa summed over the tasks part by part.

    Both figures are sums over tasks (the coincidences and pairable class totals for alpha;
    the per-task agreement, the tasks and the class totals for kappa), so vote counts can be
    added a slice of tasks at a time, e.g. while a project's labels are read in task order:
    memory follows the slice, not the project. `alpha()` and `kappa()` then equal
    `krippendorff_alpha` and `fleiss_kappa` over all the tasks (up to rounding).
    """

    n_classes: int
    o: FloatArray = field(init=False)  # coincidences (K, K)
    n_c: FloatArray = field(init=False)  # labels per class on tasks with >= 2 labels
    p_sum: float = 0.0  # sum of the per-task agreement P_i over those tasks
    tasks: int = 0  # tasks with >= 2 labels

    def __post_init__(self) -> None:
        self.o = np.zeros((self.n_classes, self.n_classes))
        self.n_c = np.zeros(self.n_classes)

    def add(self, counts: npt.ArrayLike) -> None:
        """Add the (n_tasks, n_classes) vote counts of some more tasks (each task once)."""
        votes: FloatArray = np.asarray(counts, dtype=np.float64)
        m = votes.sum(axis=1)
        pairable = m >= 2
        n_ic, m_i = votes[pairable], m[pairable]
        self.o += _coincidences(n_ic)
        self.n_c += n_ic.sum(axis=0)
        self.p_sum += float(((n_ic * (n_ic - 1.0)).sum(axis=1) / (m_i * (m_i - 1.0))).sum())
        self.tasks += len(m_i)

    def alpha(self) -> float:
        """Krippendorff's alpha (nominal) of the tasks added; NaN where undefined."""
        n = float(self.n_c.sum())
        expected = n * n - float(self.n_c @ self.n_c)
        if expected <= 0:
            return float("nan")
        observed = float(self.o.sum() - np.trace(self.o))
        return 1.0 - (n - 1.0) * observed / expected

    def kappa(self) -> float:
        """Fleiss' kappa of the tasks added; NaN where undefined."""
        if self.tasks == 0:
            return float("nan")
        p_c = self.n_c / float(self.n_c.sum())
        p_e = float(p_c @ p_c)
        if p_e >= 1.0:
            return float("nan")
        return (self.p_sum / self.tasks - p_e) / (1.0 - p_e)


def worker_agreement(labels: Labels, consensus: npt.ArrayLike) -> tuple[FloatArray, IntArray]:
    """Per worker: share of their labels equal to the consensus, and how many were compared.

    Only labels on tasks with a consensus (>= 0) count. The worker's own label is part of the
    consensus they are compared with (no leave-one-out), which lifts everyone's figure a little,
    most on tasks with few labels; compare workers with each other rather than with a fixed bar.
    Workers with nothing to compare get NaN and a count of 0.
    """
    cons = per_task_classes(consensus, labels, "consensus")
    target = cons[labels.task]
    on = target >= 0
    return _share_per_worker(labels, on, labels.label == target)


def gold_accuracy(labels: Labels, gold: npt.ArrayLike) -> tuple[FloatArray, IntArray]:
    """Per worker: accuracy on gold tasks and the number of gold answers (NaN where 0).

    `gold` holds each task's known class, or -1 for tasks that are not gold.
    """
    truth = per_task_classes(gold, labels, "gold")
    target = truth[labels.task]
    on = target >= 0
    return _share_per_worker(labels, on, labels.label == target)


def _share_per_worker(
    labels: Labels, on: npt.NDArray[np.bool_], hit: npt.NDArray[np.bool_]
) -> tuple[FloatArray, IntArray]:
    """Share of `hit` among each worker's labels where `on`, and the count behind it."""
    worker = labels.worker[on]
    n = np.bincount(worker, minlength=labels.n_workers).astype(np.int64)
    hits = np.bincount(worker, weights=hit[on], minlength=labels.n_workers)
    share = np.full(labels.n_workers, np.nan)
    np.divide(hits, n, out=share, where=n > 0)
    return share, n


def confusion(labels: Labels, consensus: npt.ArrayLike) -> FloatArray:
    """Label counts (K, K): row = consensus class, column = class given (tasks with consensus)."""
    cons = per_task_classes(consensus, labels, "consensus")
    target = cons[labels.task]
    on = target >= 0
    k = labels.n_classes
    flat = np.bincount(target[on] * k + labels.label[on], minlength=k * k)
    return flat.reshape(k, k).astype(np.float64)


@dataclass(frozen=True)
class ConfusedPair:
    """Two classes given side by side on `count` of `disputed` non-unanimous tasks."""

    a: int  # class index, a < b
    b: int
    share: float  # count / disputed
    disputed: int  # tasks whose labels are not unanimous
    count: int  # disputed tasks where both a and b were given


def confused_pairs(labels: Labels, consensus: npt.ArrayLike, top: int = 3) -> list[ConfusedPair]:
    """The unordered class pairs most often given together on disputed tasks, most first.

    A task is disputed when its labels are not unanimous: at least two different classes were
    given (so it has at least two labels). A pair {a, b} counts a disputed task when at least one
    label said a and at least one said b; share = that count / the number of disputed tasks. A
    task with three classes counts for all three of its pairs, so shares can add up to more than
    1. Tasks without a consensus still count: ties are the most disputed tasks of all.

    `consensus` only orders pairs with the same count: the pair with more labels against the
    consensus (consensus a and label b, or the other way round) comes first, then by class index.
    Pairs never given together are not listed; no disputed task gives [].
    """
    k = labels.n_classes
    against = confusion(labels, consensus)
    present = labels.counts() > 0
    disputed = present[present.sum(axis=1) >= 2].astype(np.float64)
    n_disputed = len(disputed)
    if n_disputed == 0 or top <= 0:
        return []
    together = disputed.T @ disputed  # (K, K): disputed tasks where both classes were given
    a, b = np.triu_indices(k, 1)
    count = together[a, b]
    swapped = against[a, b] + against[b, a]
    ranked = np.lexsort((b, a, -swapped, -count))
    ranked = ranked[count[ranked] > 0][:top]
    return [
        ConfusedPair(int(a[i]), int(b[i]), float(count[i]) / n_disputed, n_disputed, int(count[i]))
        for i in ranked
    ]


def describe(pair: ConfusedPair, class_names: Sequence[str]) -> str:
    """One English sentence, e.g. "'neutral' and 'positive' are swapped in 18% of disputed items".

    Classes without a name (e.g. labels built from indices) are called "class <index>".
    """

    def name(c: int) -> str:
        return f"'{class_names[c]}'" if c < len(class_names) else f"class {c}"

    return (
        f"{name(pair.a)} and {name(pair.b)} are swapped in {pair.share:.0%} of disputed items"
        f" ({pair.count} of {pair.disputed})"
    )
