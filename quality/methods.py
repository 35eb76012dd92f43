"""The consensus methods: majority vote, weighted votes and latent-class models fitted with EM.

`run(prepare(labels, known), method)` turns a `Labels` into a `Consensus`: a posterior over
classes for every task, the chosen class, how sure it is, and an estimate of each worker's
skill. `quality.aggregate.aggregate` is the public entry point (it adds `auto`, which chooses
one of these per project: `quality.choose`).

Everything scales with the number of labels. The models below whose workers are described by a
confusion matrix (ds, ocds, hds, mace) share one EM engine: the E-step sums, for every true
class k, log P(worker says y | true k) over each task's labels with `np.bincount`; the M-step
counts soft answers per (worker, given class) the same way. Per-worker confusion arrays
(n_workers, K, K) are the largest model state; there is no worker-by-task matrix and no
(n_labels, K, K) array. Work per EM iteration is O(n_labels * K) time, O(n_labels) extra memory.

Methods (`METHODS`):

    mv    majority vote
    wawa  worker-agreement-weighted majority vote
    ds    Dawid-Skene, full confusion matrices, light Dirichlet smoothing
    ocds  one-coin Dawid-Skene: one accuracy per worker, errors spread evenly
    hds   hierarchical (MAP) Dawid-Skene: each worker's confusion matrix shrinks toward a
          one-coin matrix of their own accuracy and the crowd's error pattern
    mace  MACE (Hovy et al. 2013), variational Bayes
    glad  GLAD (Whitehill et al. 2009): worker ability and task difficulty
    zbs   zero-based skill (crowd-kit's ZeroBasedSkill): votes weighted by a skill learnt
          from agreement, starting from zero

Ties: the label is, among the classes whose posterior is within TIE_EPS of the top, the one
the crowd gives most often overall (then the lowest index), and `tie` reports the task.

`known` answers (gold tasks, a reviewer's decision) are clamped during EM, so the worker
estimates learn from them, and come out one-hot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from quality.labels import BoolArray, FloatArray, IntArray, Labels, LabelsError

CONCRETE: tuple[str, ...] = ("mv", "wawa", "ds", "ocds", "hds", "mace", "glad", "zbs")

TIE_EPS = 1e-9  # posteriors closer than this count as a tie for the EM methods

# ds: Dirichlet pseudo-counts on each row of a worker's confusion matrix: DS_SMOOTH in every
# cell (log() stays finite) and DS_DIAG more on the diagonal: one imagined right answer per
# true class, so a worker seen on one task of a class is not "always says y" for it. Without
# it, full DS overfits sparse many-class data (crowd-kit's DawidSkene: 83% on act_cf, majority
# vote 88%); a worker with dozens of labels per class barely notices it.
DS_SMOOTH = 0.01
DS_DIAG = 1.0
# hds: a worker's confusion row for true class k is their soft counts plus HDS_ROW_STRENGTH
# pseudo-labels spread like a one-coin worker of the same accuracy; their one-coin accuracy
# itself has HDS_ACC_STRENGTH pseudo-labels at the crowd's pooled accuracy.
HDS_ROW_STRENGTH = 2.0
HDS_ACC_STRENGTH = 2.0
CLASS_PRIOR_SMOOTH = 1.0  # Dirichlet(1 + this) on the class prior: no class gets prior 0


@dataclass(frozen=True)
class Consensus:
    """What a consensus method concluded about every task and worker."""

    method: str  # the method that produced it; "auto:<method>" when chosen by auto
    posterior: FloatArray  # (n_tasks, n_classes), rows sum to 1; uniform for unlabelled tasks
    label: IntArray  # (n_tasks,) argmax class; -1 for tasks with no labels (and not known)
    confidence: FloatArray  # (n_tasks,) posterior of the chosen label; 0 for no labels
    n_labels: IntArray  # (n_tasks,) labels behind each task
    tie: BoolArray  # (n_tasks,) top posterior shared by more than one class (EM: within 1e-9)
    worker_skill: FloatArray  # (n_workers,) P(worker is right); NaN for workers with no labels
    iterations: int  # EM iterations used (0 for mv and wawa)
    # (n_workers, K, K): [w, true, given] = P(w answers `given` | the answer is `true`); for the
    # methods that have one (ds, ocds, hds, mace), else None
    confusion: FloatArray | None = None
    easiness: FloatArray | None = None  # glad: (n_tasks,) task easiness beta, else None
    # auto: the posterior is the method's raised to 1/temperature and renormalised (same
    # labels, calibrated confidence); 1.0 for the methods run by name
    temperature: float = 1.0
    choice: str = ""  # auto: which method it chose and why (one line), else ""


class AggregateError(LabelsError):
    """A consensus request that cannot be carried out (unknown method, bad `known`)."""


def run_core(prep: Prep, method: str, max_iter: int, tol: float) -> Consensus:
    """Run mv, wawa or one of the confusion-matrix EM methods (ds, ocds, hds, mace)."""
    if method == "mv":
        return _majority_vote(prep)
    if method == "wawa":
        return _wawa(prep)
    m_steps: dict[str, _MStep] = {
        "ds": _m_step_ds,
        "ocds": _m_step_one_coin,
        "hds": _m_step_hierarchical,
        "mace": _m_step_mace,
    }
    return _confusion_em(prep, method, m_steps[method], max_iter, tol)


# --- preparation --------------------------------------------------------------------------


@dataclass(frozen=True)
class Prep:
    """Labels with the index arrays every method needs, computed once.

    Per-task arrays over classes are kept class-major, (K, n_tasks), so that every pass over
    them is contiguous; the output is transposed once at the end.
    """

    task: IntArray
    worker: IntArray
    label: IntArray
    wy: IntArray  # worker * K + label: the (worker, given class) cell of each label
    n_tasks: int
    n_workers: int
    k: int
    n_labels: IntArray  # (n_tasks,)
    n_wy: FloatArray  # (n_workers * K,) labels per (worker, given class)
    known: IntArray  # (n_tasks,) class or -1
    is_known: BoolArray  # (n_tasks,)
    in_prior: FloatArray  # (n_tasks,) 1.0 for tasks that inform the class prior, else 0.0
    rank: IntArray  # (K,) tie-break: the crowd's most frequent class has the highest rank

    @property
    def labelled(self) -> BoolArray:
        """Tasks with at least one label."""
        return self.n_labels > 0

    def votes(self) -> FloatArray:
        """Votes per class and task, (K, n_tasks)."""
        flat = np.bincount(self.label * self.n_tasks + self.task, minlength=self.k * self.n_tasks)
        return flat.reshape(self.k, self.n_tasks).astype(np.float64)

    def clamp(self, post_t: FloatArray) -> None:
        """Set the known tasks' columns of a (K, n_tasks) posterior to one-hot, in place."""
        if self.is_known.any():
            post_t[:, self.is_known] = 0.0
            post_t[self.known[self.is_known], self.is_known] = 1.0


def prepare(labels: Labels, known: IntArray | None = None) -> Prep:
    """Check `known` ((n_tasks,) class or -1) and index the labels for every method."""
    k = labels.n_classes
    if known is None:
        known_arr = np.full(labels.n_tasks, -1, dtype=np.int64)
    else:
        known_arr = np.asarray(known, dtype=np.int64)
        if known_arr.shape != (labels.n_tasks,):
            raise AggregateError(f"known must have shape ({labels.n_tasks},)")
        if len(known_arr) and (int(known_arr.min()) < -1 or int(known_arr.max()) >= k):
            raise AggregateError(f"known classes must be -1 or in 0..{k - 1}")
    wy = labels.worker * k + labels.label
    n_labels = labels.labels_per_task()
    is_known = known_arr >= 0
    return Prep(
        task=labels.task,
        worker=labels.worker,
        label=labels.label,
        wy=wy,
        n_tasks=labels.n_tasks,
        n_workers=labels.n_workers,
        k=k,
        n_labels=n_labels,
        n_wy=np.bincount(wy, minlength=labels.n_workers * k).astype(np.float64),
        known=known_arr,
        is_known=is_known,
        in_prior=((n_labels > 0) | is_known).astype(np.float64),
        rank=_rank(np.bincount(labels.label, minlength=k)),
    )


def _rank(freq: IntArray) -> IntArray:
    """Rank of each class by frequency: most frequent highest; equal ones, lower index higher."""
    order = np.lexsort((-np.arange(len(freq)), freq))  # ascending: rarest (then highest index)
    rank = np.empty(len(freq), dtype=np.int64)
    rank[order] = np.arange(len(freq))
    return rank


# --- shared output --------------------------------------------------------------------------


def finish(
    prep: Prep,
    method: str,
    post_t: FloatArray,
    worker_skill: FloatArray,
    iterations: int,
    confusion: FloatArray | None = None,
) -> Consensus:
    """Apply the output conventions to a (K, n_tasks) posterior (modified in place).

    Unlabelled tasks get a uniform row, known tasks a one-hot row; a tie is a second class
    within TIE_EPS of the maximum, and the label is, among the tied classes, the one the crowd
    chose most often over all tasks (`Prep.rank`), not simply the lowest index.
    """
    k = prep.k
    empty = ~prep.labelled
    post_t[:, empty] = 1.0 / k
    prep.clamp(post_t)
    top = post_t.max(axis=0) if prep.n_tasks else np.zeros(0)
    at_top = post_t >= top - TIE_EPS
    tie = at_top.sum(axis=0) > 1
    label = np.argmax(np.where(at_top, prep.rank[:, None], -1), axis=0).astype(np.int64)
    confidence = np.take_along_axis(post_t, label[None, :], axis=0)[0]
    undecided = empty & ~prep.is_known
    label[undecided] = -1
    confidence[undecided] = 0.0
    tie[undecided | prep.is_known] = False
    return Consensus(
        method=method,
        posterior=np.ascontiguousarray(post_t.T),
        label=label,
        confidence=confidence,
        n_labels=prep.n_labels,
        tie=tie,
        worker_skill=worker_skill,
        iterations=iterations,
        confusion=confusion,
    )


def share(votes_t: FloatArray) -> FloatArray:
    """Columns of a (K, n_tasks) array divided by their sums; all-zero columns uniform."""
    sums = votes_t.sum(axis=0)
    out = np.full_like(votes_t, 1.0 / max(votes_t.shape[0], 1))
    np.divide(votes_t, sums, out=out, where=sums > 0)
    return out


def per_worker(
    prep: Prep, hits: FloatArray | BoolArray, counted: FloatArray | BoolArray
) -> FloatArray:
    """Per worker: sum of `hits` over sum of `counted` (per-label arrays); NaN where 0."""
    n = np.bincount(prep.worker, weights=counted, minlength=prep.n_workers)
    h = np.bincount(prep.worker, weights=hits, minlength=prep.n_workers)
    out = np.full(prep.n_workers, np.nan)
    np.divide(h, n, out=out, where=n > 0)
    return out


# --- majority vote and Wawa -----------------------------------------------------------------


def _majority_vote(prep: Prep) -> Consensus:
    """Majority vote: posterior = vote share (no smoothing); a tie goes to the tied class the
    crowd chose most often overall (`_finish`) and is reported in `tie`.

    The winner's vote share is its confidence, so a 2-of-3 vote reports 0.67; ties are
    reported in `tie`. Worker skill is the share of a worker's labels equal to the output
    label, counting only tasks that are not tied (known answers count as the output).
    """
    result = finish(prep, "mv", share(prep.votes()), np.zeros(prep.n_workers), 0)
    decided = ~result.tie[prep.task]
    agree = (result.label[prep.task] == prep.label) & decided
    return replace(result, worker_skill=per_worker(prep, agree, decided))


def _wawa(prep: Prep) -> Consensus:
    """Worker Agreement With Aggregate: majority vote weighted by agreement with majority vote.

    Each worker's weight is the share of their labels equal to the majority vote (crowd-kit's
    `Wawa`, after Toloka's heuristic of the same name); posterior = weighted vote share.
    Tasks whose workers all have weight 0 keep the plain vote share.
    """
    mv = _majority_vote(prep)
    skill = np.nan_to_num(mv.worker_skill, nan=0.0)
    votes = np.asarray(
        np.bincount(
            prep.label * prep.n_tasks + prep.task,
            weights=skill[prep.worker],
            minlength=prep.k * prep.n_tasks,
        ),
        dtype=np.float64,
    ).reshape(prep.k, prep.n_tasks)
    zero = votes.sum(axis=0) == 0
    votes[:, zero] = mv.posterior.T[:, zero]
    return finish(prep, "wawa", share(votes), mv.worker_skill, 0)


# --- the confusion-matrix EM engine ---------------------------------------------------------

# M-step: (soft counts C[k, w, y], class prior, prep, previous confusion or None)
#         -> (confusion [k, w, y] = P(w says y | true k), class prior)
_MStep = Callable[[FloatArray, FloatArray, Prep, FloatArray | None], tuple[FloatArray, FloatArray]]


def _soft_counts(prep: Prep, post_t: FloatArray) -> FloatArray:
    """C[k, w, y]: sum over worker w's labels y of P(that task's true class is k)."""
    size = prep.n_workers * prep.k
    out = np.empty((prep.k, size))
    for c in range(prep.k):
        out[c] = np.bincount(prep.wy, weights=post_t[c][prep.task], minlength=size)
    return out.reshape(prep.k, prep.n_workers, prep.k)


def _e_step(prep: Prep, log_conf: FloatArray, log_prior: FloatArray) -> tuple[FloatArray, float]:
    """(K, n_tasks) posterior given log P(y | k) per (k, worker, y); and the log-likelihood.

    Known tasks are clamped to their class and count in the log-likelihood at that class.
    Unlabelled tasks come out at the prior and add 0 to the log-likelihood.
    """
    flat = log_conf.reshape(prep.k, -1)
    post = np.empty((prep.k, prep.n_tasks))
    for c in range(prep.k):
        post[c] = np.bincount(prep.task, weights=flat[c][prep.wy], minlength=prep.n_tasks)
        post[c] += log_prior[c]
    top = post.max(axis=0) if prep.n_tasks else np.zeros(0)
    post -= top
    np.exp(post, out=post)
    sums = post.sum(axis=0)
    post /= sums
    task_ll = top + np.log(sums)
    if prep.is_known.any():
        with np.errstate(divide="ignore"):
            hit = np.log(post[prep.known[prep.is_known], prep.is_known])
        task_ll[prep.is_known] += np.maximum(hit, -1e300)
        prep.clamp(post)
    return post, float(task_ll.sum())


def _class_prior(post_t: FloatArray, prep: Prep) -> FloatArray:
    """Class frequencies over labelled or known tasks, with CLASS_PRIOR_SMOOTH pseudo-counts."""
    totals = post_t @ prep.in_prior + CLASS_PRIOR_SMOOTH
    prior: FloatArray = totals / totals.sum()
    return prior


def _confusion_em(prep: Prep, method: str, m_step: _MStep, max_iter: int, tol: float) -> Consensus:
    """EM for models where P(worker w says y | true k) is a confusion cell, started from MV.

    Stops when the log-likelihood per label changes by less than `tol`, or after `max_iter`
    E-steps.
    """
    post = share(prep.votes())
    prep.clamp(post)
    conf, prior = m_step(_soft_counts(prep, post), _class_prior(post, prep), prep, None)
    n = max(len(prep.task), 1)
    old_ll = -np.inf
    iterations = 0
    for _ in range(max_iter):
        iterations += 1
        del post  # the E-step's new posterior replaces it: do not hold both
        post, ll = _e_step(prep, np.log(conf), np.log(prior))
        conf, prior = m_step(_soft_counts(prep, post), _class_prior(post, prep), prep, conf)
        if abs(ll - old_ll) / n < tol:
            break
        old_ll = ll
    del post
    post, _ = _e_step(prep, np.log(conf), np.log(prior))
    confusion = np.ascontiguousarray(conf.transpose(1, 0, 2))  # [w, true, given]
    skill = np.einsum("wkk->wk", confusion) @ prior
    skill[np.bincount(prep.worker, minlength=prep.n_workers) == 0] = np.nan
    return finish(prep, method, post, skill, iterations, confusion)


def _m_step_ds(
    counts: FloatArray, prior: FloatArray, prep: Prep, prev: FloatArray | None
) -> tuple[FloatArray, FloatArray]:
    """Dawid-Skene: each worker has a full confusion matrix (Dawid & Skene 1979).

    A. P. Dawid, A. M. Skene, "Maximum likelihood estimation of observer error-rates using the
    EM algorithm", Applied Statistics 28(1), 1979. The M-step is the MAP estimate under a
    Dirichlet prior per confusion row: DS_SMOOTH pseudo-counts in every cell and DS_DIAG more
    on the diagonal (see there). Class prior: frequencies with CLASS_PRIOR_SMOOTH pseudo-counts.
    """
    k = prep.k
    alpha = np.full((k, 1, k), DS_SMOOTH)
    alpha[np.arange(k), 0, np.arange(k)] += DS_DIAG
    conf = counts + alpha
    conf /= conf.sum(axis=2, keepdims=True)
    return conf, prior


def _one_coin_accuracy(counts: FloatArray, prep: Prep, strength: float) -> FloatArray:
    """Per worker: soft share of labels equal to the true class, with a Beta prior.

    The prior has `strength` pseudo-labels at the crowd's pooled accuracy (empirical Bayes).
    """
    diag = np.einsum("kwk->w", counts)
    total = counts.sum(axis=(0, 2))
    pooled = float(diag.sum() / total.sum()) if total.sum() > 0 else 1.0
    pooled = min(max(pooled, 1.0 / prep.k), 1.0 - 1e-6)
    acc: FloatArray = (diag + strength * pooled) / (total + strength)
    return acc


def _one_coin_confusion(acc: FloatArray, k: int) -> FloatArray:
    """Confusion [k, w, y]: acc[w] on the diagonal, the rest spread evenly."""
    if k == 1:
        return np.ones((1, len(acc), 1))
    off = (1.0 - acc) / (k - 1)
    conf = np.broadcast_to(off[None, :, None], (k, len(acc), k)).copy()
    idx = np.arange(k)
    conf[idx, :, idx] = acc
    return conf


def _m_step_one_coin(
    counts: FloatArray, prior: FloatArray, prep: Prep, prev: FloatArray | None
) -> tuple[FloatArray, FloatArray]:
    """One-coin Dawid-Skene: one accuracy per worker, mistakes spread evenly over other classes.

    The "one-coin" simplification of Dawid & Skene (1979), e.g. as analysed by Zhang, Chen,
    Zhou & Jordan, "Spectral methods meet EM", NeurIPS 2014. Accuracy is a MAP estimate with
    one pseudo-label at the crowd's pooled accuracy, clipped into [1e-6, 1 - 1e-6].
    """
    acc = np.clip(_one_coin_accuracy(counts, prep, 1.0), 1e-6, 1.0 - 1e-6)
    return _one_coin_confusion(acc, prep.k), prior


def _m_step_hierarchical(
    counts: FloatArray, prior: FloatArray, prep: Prep, prev: FloatArray | None
) -> tuple[FloatArray, FloatArray]:
    """Hierarchical Dawid-Skene: full confusion rows shrunk toward the worker's one-coin row.

    Row k of worker w: (C[k, w, :] + s * m_w[k, :]) / (C[k, w, :].sum() + s) with
    s = HDS_ROW_STRENGTH and prior mean m_w[k, k] = a_w (the worker's one-coin accuracy, itself
    shrunk toward the pooled accuracy with HDS_ACC_STRENGTH pseudo-labels), m_w[k, y] =
    (1 - a_w) * E[k, y] for y != k, where E is the crowd's pooled distribution of mistakes on
    true class k. MAP-EM under these Dirichlet priors; the prior means are re-estimated each
    M-step from the current soft counts (empirical Bayes). See `aggregate` for why.
    """
    k = prep.k
    if k == 1:
        return np.ones((1, prep.n_workers, 1)), prior
    acc = np.clip(_one_coin_accuracy(counts, prep, HDS_ACC_STRENGTH), 1e-6, 1.0 - 1e-6)
    pooled = counts.sum(axis=1)  # [k, y]
    idx = np.arange(k)
    pooled[idx, idx] = 0.0
    pooled += 1.0 / (k - 1)  # one pseudo-mistake per row, spread evenly
    pooled[idx, idx] = 0.0
    errors = pooled / pooled.sum(axis=1, keepdims=True)
    mean = (1.0 - acc)[None, :, None] * errors[:, None, :]
    mean[idx, :, idx] = acc
    conf = counts + HDS_ROW_STRENGTH * mean
    conf /= conf.sum(axis=2, keepdims=True)
    return conf, prior


def _digamma(x: FloatArray) -> FloatArray:
    """The digamma function for x > 0 (recurrence to x >= 6, then the asymptotic series)."""
    x = np.asarray(x, dtype=np.float64).copy()
    out = np.zeros_like(x)
    for _ in range(6):
        small = x < 6.0
        out[small] -= 1.0 / x[small]
        x[small] += 1.0
    inv2 = 1.0 / (x * x)
    series = inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 * (1 / 240 - inv2 / 132))))
    result: FloatArray = out + np.log(x) - 0.5 / x - series
    return result


MACE_THETA_PRIOR = (0.5, 0.5)  # Beta(a, b) on P(worker knows the answer): crowd-kit's default
MACE_STRATEGY_PRIOR = 10.0  # symmetric Dirichlet on a spammer's answer distribution


def _m_step_mace(
    counts: FloatArray, prior: FloatArray, prep: Prep, prev: FloatArray | None
) -> tuple[FloatArray, FloatArray]:
    """MACE: each answer is either known (then right) or a guess from the worker's strategy.

    D. Hovy, T. Berg-Kirkpatrick, A. Vaswani, E. Hovy, "Learning Whom to Trust with MACE",
    NAACL 2013. P(y | true k) = theta_w [y == k] + (1 - theta_w) xi_w[y]. Variational Bayes
    M-step (MACE's default, and crowd-kit's): Beta(0.5, 0.5) on theta, Dirichlet(10) on xi,
    parameters set to exp(E[log .]) and renormalised. The expected number of worker w's
    answers y given knowingly is C[y, w, y] * theta / (theta + (1 - theta) xi[y]), so the
    soft counts suffice. The class prior stays uniform, as in MACE. Deterministic: started
    from majority vote instead of random restarts.
    """
    k = prep.k
    w = prep.n_workers
    if k == 1:
        return np.ones((1, w, 1)), prior
    n_wy = prep.n_wy.reshape(w, k)
    right = np.einsum("kwk->wk", counts)  # soft count of answers y whose truth was y
    if prev is None:
        knew = right  # first pass: every right answer was known
    else:
        hit = np.einsum("kwk->wk", prev)  # theta + (1 - theta) xi[y]
        guess = prev[(np.arange(k) + 1) % k, :, np.arange(k)].T  # (1 - theta) xi[y]
        knew = right * (1.0 - guess / hit)
    guessed = np.maximum(n_wy - knew, 0.0)
    a, b = MACE_THETA_PRIOR
    kn = knew.sum(axis=1) + a
    gs = guessed.sum(axis=1) + b
    norm = _digamma(kn + gs)
    theta = np.exp(_digamma(kn) - norm)
    gamma = np.exp(_digamma(gs) - norm)
    theta = theta / (theta + gamma)
    xi_counts = guessed + MACE_STRATEGY_PRIOR
    xi = np.exp(_digamma(xi_counts) - _digamma(xi_counts.sum(axis=1, keepdims=True)))
    xi /= xi.sum(axis=1, keepdims=True)
    conf = np.broadcast_to(((1.0 - theta)[:, None] * xi)[None], (k, w, k)).copy()
    idx = np.arange(k)
    conf[idx, :, idx] += theta
    return conf, np.full(k, 1.0 / k)
