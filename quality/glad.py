"""Consensus methods that weigh workers by a skill rather than a confusion matrix: GLAD and
zero-based skill (ZBS). Both use the shared preparation and output of `quality.methods`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from quality.labels import FloatArray
from quality.methods import TIE_EPS, Consensus, Prep, finish, per_worker, share

# --- GLAD -----------------------------------------------------------------------------------

GLAD_NEWTON_STEPS = 5


def glad(prep: Prep, max_iter: int, tol: float) -> Consensus:
    """GLAD: P(right) = sigmoid(alpha_w * beta_t), worker ability times task easiness.

    J. Whitehill, P. Ruvolo, T. Wu, J. Bergsma, J. Movellan, "Whose Vote Should Count More:
    Optimal Integration of Labels from Labelers of Unknown Expertise", NIPS 2009. Mistakes are
    spread evenly over the other classes; the class prior is fixed and uniform, as in GLAD
    (a learnt prior swamps the hard tasks, whose easiness goes to 0). Priors: alpha ~ N(1, 1),
    log beta ~ N(0, 1). Each M-step takes GLAD_NEWTON_STEPS diagonal Newton steps on the
    expected log posterior. Worker skill is sigmoid(alpha): P(right) on a task of easiness 1.
    """
    k = prep.k
    post = share(prep.votes())
    prep.clamp(post)
    alpha = np.ones(prep.n_workers)
    log_beta = np.zeros(prep.n_tasks)
    n = max(len(prep.task), 1)
    old_ll = -np.inf
    iterations = 0
    log_wrong = np.log(k - 1) if k > 1 else 0.0
    for _ in range(max_iter):
        iterations += 1
        q = post[prep.label, prep.task]  # P(this label is right), held fixed in the M-step
        for _ in range(GLAD_NEWTON_STEPS):
            beta = np.exp(log_beta)[prep.task]
            s = _sigmoid(alpha[prep.worker] * beta)
            grad = np.bincount(prep.worker, weights=(q - s) * beta, minlength=prep.n_workers)
            curv = np.bincount(
                prep.worker, weights=s * (1.0 - s) * beta * beta, minlength=prep.n_workers
            )
            alpha += (grad - (alpha - 1.0)) / (curv + 1.0)
            x = alpha[prep.worker] * beta
            s = _sigmoid(x)
            grad = np.bincount(prep.task, weights=(q - s) * x, minlength=prep.n_tasks)
            curv = np.bincount(prep.task, weights=s * (1.0 - s) * x * x, minlength=prep.n_tasks)
            log_beta += (grad - log_beta) / (curv + 1.0)
            np.clip(log_beta, -5.0, 5.0, out=log_beta)
        x = alpha[prep.worker] * np.exp(log_beta)[prep.task]
        log_miss = -np.logaddexp(0.0, x) - log_wrong
        post = np.asarray(
            np.bincount(
                prep.label * prep.n_tasks + prep.task,
                weights=-np.logaddexp(0.0, -x) - log_miss,  # log P(right) - log P(this miss)
                minlength=k * prep.n_tasks,
            ),
            dtype=np.float64,
        ).reshape(k, prep.n_tasks)
        post += np.bincount(prep.task, weights=log_miss, minlength=prep.n_tasks)
        top = post.max(axis=0) if prep.n_tasks else np.zeros(0)
        post -= top
        np.exp(post, out=post)
        sums = post.sum(axis=0)
        post /= sums
        prep.clamp(post)
        ll = float((top + np.log(sums)).sum())
        if abs(ll - old_ll) / n < tol:
            break
        old_ll = ll
    seen = np.bincount(prep.worker, minlength=prep.n_workers) > 0
    skill = np.where(seen, _sigmoid(alpha), np.nan)
    result = finish(prep, "glad", post, skill, iterations)
    return replace(result, easiness=np.exp(log_beta))


def _sigmoid(x: FloatArray) -> FloatArray:
    out: FloatArray = np.exp(-np.logaddexp(0.0, -x))
    return out


# --- zero-based skill -------------------------------------------------------------------------

ZBS_LR = 1.0  # crowd-kit's ZeroBasedSkill defaults: learning rate, halved every 20 steps
ZBS_LR_STEPS = 20
ZBS_LR_FACTOR = 0.5
ZBS_TOL = 1e-9


def zbs(prep: Prep, max_iter: int) -> Consensus:
    """Zero-based skill: votes weighted by skills learnt from agreement, starting from zero.

    As crowd-kit's `ZeroBasedSkill`: skills start at 0 (the first vote is a majority vote);
    each step moves every worker's skill toward their share of labels equal to the current
    weighted vote, skill += lr * (agreement - skill), with lr halved every ZBS_LR_STEPS steps.
    Posterior = weighted vote share, as in `_wawa` (tasks whose workers all weigh 0 keep the
    plain vote share).
    """
    votes = prep.votes()
    plain = share(votes)
    skill = np.zeros(prep.n_workers)
    lr = ZBS_LR
    post = plain
    iterations = 0
    for step in range(max(max_iter, 1)):
        iterations += 1
        weighted = np.asarray(
            np.bincount(
                prep.label * prep.n_tasks + prep.task,
                weights=skill[prep.worker],
                minlength=prep.k * prep.n_tasks,
            ),
            dtype=np.float64,
        ).reshape(prep.k, prep.n_tasks)
        zero = weighted.sum(axis=0) <= 0
        weighted[:, zero] = plain[:, zero]
        post = share(weighted)
        prep.clamp(post)
        top = post.max(axis=0)
        chosen = np.argmax(np.where(post >= top - TIE_EPS, prep.rank[:, None], -1), axis=0)
        agree = per_worker(prep, chosen[prep.task] == prep.label, np.ones(len(prep.task)))
        new = skill + lr * (np.nan_to_num(agree, nan=0.0) - skill)
        moved = float(np.abs(new - skill).max()) if len(skill) else 0.0
        skill = new
        if (step + 1) % ZBS_LR_STEPS == 0:
            lr *= ZBS_LR_FACTOR
        if moved < ZBS_TOL:
            break
    seen = np.bincount(prep.worker, minlength=prep.n_workers) > 0
    return finish(prep, "zbs", post, np.where(seen, skill, np.nan), iterations)
