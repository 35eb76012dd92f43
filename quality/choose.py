"""`auto`: choose the consensus method per project from the labels alone, and calibrate it.

No gold is used. The criterion is held-out label likelihood (cf. Paun et al., "Comparing
Bayesian models of annotation", TACL 2018): hide a share of the labels, fit every candidate on
the rest, and score how well each fitted model predicts the hidden labels. A hidden label y of
worker w on task t is predicted as

    P(y) = sum_k  post_t(k) ** (1 / T) / Z  *  P(w says y | true k)

with post_t the task's posterior from its labels that were not hidden and P(w says y | k) the
fitted worker model (confusion matrix for ds, ocds, hds, mace; GLAD's sigmoid of ability times
the task's easiness). The candidates (CANDIDATES) are the methods that are models of how a
worker produces a label; the vote methods (mv, wawa, zbs) are not, and a one-coin model built
around their vote share (`_worker_model` has one, for measuring) is not theirs to be judged by:
on the five dev sets it would pick mv on act_cf, where mv is a point below hds. A model that
describes the workers better predicts their labels better; one that overfits a sparse crowd (full
Dawid-Skene on workers seen twice) or underfits a dense one (one accuracy for a worker who
confuses two classes) predicts them worse.

T, the temperature, is the candidate's one setting chosen with it: the posterior of a
latent-class model counts the labels of a task as independent, and when a task is hard its
workers err together, so the posterior is too sure. The T that predicts the hidden labels best
is the one at which the posterior means what it says about them; the answer (argmax) does not
change with T, only the confidence. Grid: TEMPERATURES.

The rule: every label goes to one of FOLDS folds at random (seeded, whatever the row order);
HELD_OUT_FITS of them are hidden in turn, each time fitting the candidates on the rest. The
candidate (with its best T) of the highest mean held-out log-likelihood per label wins, except
that the default (DEFAULT, hds) is kept unless the winner beats it by more than MARGIN_Z
standard errors of the paired per-label difference: a choice made on noise would cost more
than it gains. The standard error is the largest of the plain one and those clustered by task
and by worker (`_standard_error`), and still too small: cross-validation folds share their
training labels, and no estimate of its variance is unbiased (Bengio & Grandvalet, JMLR 2004),
so the margin is wide. Measured (bench/bench_sim.py, 2,000 tasks): every switch that paid had
z >= 5.9 (spammers 15-18, class imbalance 9, 2 labels per item 6-7); on the smallest dev set
(act_cf, 300 tasks) glad came out at z = 3.0 and is a point (3 tasks) below hds on its gold.
MARGIN_Z = 5 sits between; it was set with that dev set in view, and says so. A large project is
judged on a sample of whole tasks of about CHOICE_LABELS labels, so the choice costs a bounded
multiple of one fit (bench/bench_sim.py measures it against one hds fit on 1M labels).
Deterministic for a given seed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from quality.glad import glad, zbs
from quality.labels import BoolArray, FloatArray, IntArray, Labels
from quality.methods import CONCRETE, Consensus, Prep, finish, prepare, run_core

CANDIDATES: tuple[str, ...] = ("ds", "ocds", "hds", "mace", "glad")
DEFAULT = "hds"
TEMPERATURES: tuple[float, ...] = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0)
FOLDS = 5
HELD_OUT_FITS = 5  # folds hidden in turn (all five while the sample is small)
LARGE_FITS = 2  # ... and for a sample of more than SMALL_LABELS labels
SMALL_LABELS = 20_000
CHOICE_LABELS = 50_000
MARGIN_Z = 5.0
# ... and by more than this many nats a held-out label: below it two fits predict the same (a
# crowd in full agreement, one worker), and a z of thousands is rounding error over an error
# of nothing. The smallest gain of a switch in the simulation was 0.019.
MIN_GAIN = 1e-4
# ds, ocds, hds and mace hold a (classes x classes) matrix per worker: past this many cells
# (workers x classes^2; 200 classes and 4,740 workers made 190M and took 7.5 GB and 9 min),
# `auto` chooses among the methods without one (LIGHT) and defaults to the first of them.
CONFUSION_CELLS = 10_000_000
LIGHT: tuple[str, ...] = ("glad",)
SEED = 0
SKILL_CLIP = (0.01, 0.99)


def run(prep: Prep, method: str, max_iter: int = 100, tol: float = 1e-5) -> Consensus:
    """Run one concrete method (one of `quality.methods.CONCRETE`) on prepared labels."""
    if method == "glad":
        return glad(prep, max_iter, tol)
    if method == "zbs":
        return zbs(prep, max_iter)
    return run_core(prep, method, max_iter, tol)


@dataclass(frozen=True)
class Score:
    """One candidate's held-out figures."""

    method: str
    temperature: float
    loglik: float  # mean held-out log-likelihood per label at that temperature
    per_label: FloatArray  # held-out log-likelihood of every hidden label, at that temperature


@dataclass(frozen=True)
class Choice:
    """What `choose` decided and on what evidence."""

    method: str
    temperature: float
    scores: tuple[Score, ...]  # every candidate, best first
    hidden: int  # hidden labels scored
    fits: int  # folds fitted
    reason: str  # one line: what was chosen and why


def choose(
    labels: Labels,
    known: IntArray | None = None,
    *,
    seed: int = SEED,
    candidates: tuple[str, ...] = CANDIDATES,
    max_iter: int = 100,
    tol: float = 1e-5,
) -> Choice:
    """The candidate method (and temperature) whose fit best predicts held-out labels."""
    unknown = [m for m in candidates if m not in CONCRETE]
    if unknown or not candidates:
        raise ValueError(f"candidates must be among {', '.join(CONCRETE)}")
    default = DEFAULT
    if labels.n_workers * labels.n_classes**2 > CONFUSION_CELLS:
        candidates = tuple(m for m in candidates if m in LIGHT) or LIGHT
        default = candidates[0]
    rng = np.random.default_rng(seed)
    task_hash, worker_hash = _hashes(labels, rng)
    # a hash of the label's task and worker: a label's fold does not depend on the row order
    # or on how tasks and workers are numbered, and a worker's labels (like a task's) are
    # spread over the folds
    mixed = _mix(task_hash[labels.task] ^ (worker_hash[labels.worker] * np.uint64(3)))
    fold = (mixed % np.uint64(FOLDS)).astype(np.int64)
    sample, known, kept = _sample(labels, known, task_hash)
    if kept is not None:
        fold = fold[kept]
    if sample.n < 2 * FOLDS:
        reason = f"auto: {default} (too few labels, {labels.n}, to compare methods)"
        return Choice(default, 1.0, (), 0, 0, reason)
    fits = HELD_OUT_FITS if sample.n <= SMALL_LABELS else LARGE_FITS
    per: dict[str, list[FloatArray]] = {m: [] for m in candidates}
    who: list[IntArray] = []  # the hidden labels' tasks, then workers, fold by fold
    for f in range(fits):
        hidden = fold == f
        who.append(np.stack([sample.task[hidden], sample.worker[hidden]]))
        prep = prepare(sample.subset(~hidden), known)
        for method in candidates:
            fitted = run(prep, method, max_iter, tol)
            per[method].append(_predict(fitted, sample, hidden))
    scores = []
    for method in candidates:
        table = np.concatenate(per[method], axis=1)  # (temperatures, hidden labels)
        best = int(np.argmax(table.mean(axis=1)))
        scores.append(Score(method, TEMPERATURES[best], float(table[best].mean()), table[best]))
    scores.sort(key=lambda s: -s.loglik)
    hidden_n = len(scores[0].per_label)
    return _decide(tuple(scores), hidden_n, fits, np.concatenate(who, axis=1), default)


def _decide(
    scores: tuple[Score, ...],
    hidden: int,
    fits: int,
    who: IntArray | None = None,
    default: str = DEFAULT,
) -> Choice:
    top = scores[0]
    base = next((s for s in scores if s.method == default), None)
    figures = f"{hidden:,} held-out labels, {fits} folds"
    if base is None or top.method == default:
        runner = scores[1] if len(scores) > 1 else top
        reason = (
            f"auto chose {top.method} (T={top.temperature:g}): best held-out label "
            f"log-likelihood {top.loglik:.4f} per label, next {runner.method} "
            f"{runner.loglik:.4f} ({figures})"
        )
        return Choice(top.method, top.temperature, scores, hidden, fits, reason)
    diff = top.per_label - base.per_label
    se = _standard_error(diff, () if who is None else (who[0], who[1]))
    z = float(diff.mean() / se) if se > 0 else (np.inf if diff.mean() > 0 else 0.0)
    if z > MARGIN_Z and diff.mean() > MIN_GAIN:
        reason = (
            f"auto chose {top.method} (T={top.temperature:g}): held-out label log-likelihood "
            f"{top.loglik:.4f} per label against {default}'s {base.loglik:.4f}, "
            f"{z:.1f} standard errors better ({figures})"
        )
        return Choice(top.method, top.temperature, scores, hidden, fits, reason)
    if diff.mean() <= MIN_GAIN:
        reason = (
            f"auto kept {default} (T={base.temperature:g}): no method predicts held-out labels "
            f"better ({top.method} {top.loglik:.4f} vs {base.loglik:.4f} per label; {figures})"
        )
        return Choice(default, base.temperature, scores, hidden, fits, reason)
    reason = (
        f"auto kept {default} (T={base.temperature:g}): {top.method} predicts held-out labels "
        f"only {z:.1f} standard errors better ({top.loglik:.4f} vs {base.loglik:.4f} per "
        f"label; needs {MARGIN_Z:g}; {figures})"
    )
    return Choice(default, base.temperature, scores, hidden, fits, reason)


def _standard_error(diff: FloatArray, groupings: tuple[IntArray, ...]) -> float:
    """Standard error of the mean of `diff`: the largest of the plain one and the ones
    clustered by each grouping (the labels of one task, or of one worker, are not independent
    evidence: a model's gain on a few prolific workers is not a gain on the crowd)."""
    n = len(diff)
    if n < 2:
        return float("inf")
    centred = diff - diff.mean()
    se = float(diff.std(ddof=1) / np.sqrt(n))
    for group in groupings:
        _, index = np.unique(group, return_inverse=True)
        sums = np.bincount(index, weights=centred)
        g = len(sums)
        if g > 1:
            se = max(se, float(np.sqrt((sums**2).sum() * g / (g - 1)) / n))
    return se


def _sample(
    labels: Labels, known: IntArray | None, task_hash: npt.NDArray[np.uint64]
) -> tuple[Labels, IntArray | None, BoolArray | None]:
    """All labels, or those of a hash-chosen set of whole tasks holding about CHOICE_LABELS,
    renumbered so that the fits cost what the sample holds, not what the whole project does.

    Returns the sample, its tasks' known answers and which labels it kept (None: all).
    """
    if labels.n <= CHOICE_LABELS:
        return labels, known, None
    share = (task_hash >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    kept = (share < CHOICE_LABELS / labels.n)[labels.task]
    tasks, task = np.unique(labels.task[kept], return_inverse=True)
    workers, worker = np.unique(labels.worker[kept], return_inverse=True)
    sample = Labels(
        task.astype(np.int64),
        worker.astype(np.int64),
        labels.label[kept],
        len(tasks),
        len(workers),
        labels.n_classes,
    )
    return sample, (known[tasks] if known is not None else None), kept


_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64's finaliser: well-spread 64-bit values from any 64-bit input."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
        out: npt.NDArray[np.uint64] = x ^ (x >> np.uint64(31))
    return out


def _hashes(
    labels: Labels, rng: np.random.Generator
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """Seeded 64-bit keys of every task and worker from what they labelled, not their index.

    A worker's key hashes how many labels of each class they gave; a task's, the sum of its
    labels' (worker key, class) hashes. So the bot's check and `labelgram aggregate` on the
    exported labels (tasks and workers numbered differently) hide the same labels, as long as
    the classes are in the same order: the class's index is hashed (the bot's is the options'
    order; `labelgram aggregate` sorts them unless `--classes` gives that order).
    """
    k = labels.n_classes
    coef = rng.integers(1, 2**63, size=k + 2, dtype=np.uint64)
    hist = np.bincount(labels.worker * k + labels.label, minlength=labels.n_workers * k)
    with np.errstate(over="ignore"):
        worker = _mix(hist.reshape(labels.n_workers, k).astype(np.uint64) @ coef[:k] + coef[k])
        per_label = _mix(worker[labels.worker] ^ (labels.label.astype(np.uint64) * coef[k + 1]))
        sums = np.zeros(labels.n_tasks, dtype=np.uint64)
        np.add.at(sums, labels.task, per_label)
    return _mix(sums), worker


def _predict(fitted: Consensus, labels: Labels, hidden: BoolArray) -> FloatArray:
    """(len(TEMPERATURES), hidden labels): log P(each hidden label) under the fitted model."""
    t = labels.task[hidden]
    w = labels.worker[hidden]
    y = labels.label[hidden]
    log_post = np.log(np.maximum(fitted.posterior[t], 1e-300))  # (n, K)
    log_post -= log_post.max(axis=1, keepdims=True)
    like = _worker_model(fitted, labels, t, w, y)  # (n, K): P(y | true k)
    out = np.empty((len(TEMPERATURES), len(t)))
    for i, temp in enumerate(TEMPERATURES):
        post = np.exp(log_post / temp)
        post /= post.sum(axis=1, keepdims=True)
        out[i] = np.log(np.maximum((post * like).sum(axis=1), 1e-300))
    return out


def _worker_model(
    fitted: Consensus, labels: Labels, t: IntArray, w: IntArray, y: IntArray
) -> FloatArray:
    """(n, K): P(worker w gives label y | the true class is k), for each hidden label."""
    k = labels.n_classes
    if fitted.confusion is not None:
        return np.asarray(fitted.confusion[w, :, y], dtype=np.float64)
    if fitted.easiness is not None:
        skill = np.clip(np.nan_to_num(fitted.worker_skill, nan=0.5), 1e-6, 1 - 1e-6)
        alpha = np.log(skill / (1.0 - skill))
        acc = 1.0 / (1.0 + np.exp(-alpha[w] * fitted.easiness[t]))
    elif fitted.method == "mv":
        acc = np.full(len(t), _pooled(fitted, labels))
    else:
        pooled = _pooled(fitted, labels)
        acc = np.nan_to_num(fitted.worker_skill, nan=pooled)[w]
    acc = np.clip(acc, *SKILL_CLIP)
    like = np.repeat(((1.0 - acc) / max(k - 1, 1))[:, None], k, axis=1)
    like[np.arange(len(t)), y] = acc
    return like


def _pooled(fitted: Consensus, labels: Labels) -> float:
    """Share of all labels equal to their task's consensus label."""
    chosen = fitted.label[labels.task]
    counted = chosen >= 0
    if not counted.any():
        return 0.5
    return float(np.mean(chosen[counted] == labels.label[counted]))


def auto(
    labels: Labels, known: IntArray | None, max_iter: int, tol: float, seed: int = SEED
) -> Consensus:
    """`aggregate(labels, "auto")`: choose, fit the choice on every label, temper, explain."""
    choice = choose(labels, known, seed=seed, max_iter=max_iter, tol=tol)
    prep = prepare(labels, known)
    fitted = run(prep, choice.method, max_iter, tol)
    post_t = _temper(fitted.posterior, choice.temperature).T.copy()
    result = finish(
        prep, fitted.method, post_t, fitted.worker_skill, fitted.iterations, fitted.confusion
    )
    return replace(
        result,
        method=f"auto:{choice.method}",
        easiness=fitted.easiness,
        temperature=choice.temperature,
        choice=choice.reason,
    )


def _temper(posterior: FloatArray, temperature: float) -> FloatArray:
    """Rows of `posterior` raised to 1/temperature and renormalised (argmax kept)."""
    if temperature == 1.0:
        return posterior.copy()
    log_post = np.log(np.maximum(posterior, 1e-300))
    log_post -= log_post.max(axis=1, keepdims=True)
    out: FloatArray = np.exp(log_post / temperature)
    out /= out.sum(axis=1, keepdims=True)
    return out
