"""When has a task enough labels? The predictive stopping rule of dynamic overlap (pure numpy).

The question dynamic overlap has to answer is not "is the consensus right?" (no rule can know
that without gold: on a noisy dataset even every label leaves a quarter of the answers wrong),
but "would the labels still to come, up to max_overlap, change the answer?". If the answer to
that is "no" with probability >= target, stopping costs at most (1 - target) of the accuracy
that the full overlap would have had, whatever that accuracy is.

The model (gold-free, fitted on the project's own labels, cheap):

- Each task t has its own distribution of answers over the K options, theta_t, drawn from one
  Dirichlet(alpha) for the whole project. This is the Dirichlet-multinomial (Polya) model of
  overdispersed votes: a hard item's labels disagree among themselves more than the workers'
  average skill explains, and their errors are correlated. That correlation is what a latent-
  class posterior (Dawid-Skene and kin) leaves out, and why it is overconfident with 3 labels
  per item (bench/bench_overlap.py measures it: items put at >= 0.999 right 89% of the time).
- alpha is the maximum-likelihood (empirical Bayes) fit to every labelled task's vote counts
  (`fit_prior`, Minka's fixed point). It is identified from the spread of votes within tasks,
  needs no gold, and dynamic stopping does not bias it: a stopping rule that looks only at the
  labels seen so far leaves the likelihood unchanged (the likelihood principle).
- `predictive_confidence`: after c votes, theta_t ~ Dirichlet(alpha + c); the m labels still
  to come are Dirichlet-multinomial. The confidence is the probability that, with them, the
  answer still has more votes than every other option (a tie counts half), taken one rival at
  a time and summed (a union bound: exact for two options, conservative for more). This is
  Bayesian predictive probability, the stochastic curtailment of sequential trials.

Votes are counted one per label, unweighted: the answer itself is the consensus method's
(worker-weighted) label, but weighting the votes by estimated skill makes the rule
overconfident again (measured in docs/benchmarks.md).
"""

from __future__ import annotations

import numpy as np

from quality.labels import FloatArray, IntArray

ALPHA_FLOOR = 1e-3  # keeps the fit finite when every task so far is unanimous
FIT_ITERATIONS = 500
FIT_TOL = 1e-9
CHUNK_CELLS = 2_000_000  # states * (m + 1)^2 cells computed at once


def fit_prior(counts: FloatArray) -> FloatArray:
    """Dirichlet alpha (K,) maximising the Dirichlet-multinomial likelihood of the vote counts.

    `counts` (n_tasks, K): votes per task and option (whole numbers); tasks without votes are
    ignored. Minka's fixed point, "Estimating a Dirichlet distribution" (2000), eq. (55), with
    psi(c + a) - psi(a) written as sum_{j < c} 1 / (a + j), which whole counts make exact.
    Without any task of two or more votes the spread is unknown: the uniform alpha = 1.
    """
    c = np.rint(np.asarray(counts, dtype=np.float64)).astype(np.int64)
    if c.ndim != 2 or c.shape[1] < 1:
        raise ValueError("counts must be a (tasks, options) array")
    if (c < 0).any():
        raise ValueError("counts must not be negative")
    k = c.shape[1]
    c = c[c.sum(axis=1) > 0]
    n = c.sum(axis=1)
    if not len(c) or int(n.max()) < 2:
        return np.ones(k)
    top = int(n.max())
    # tail[k, j]: tasks with more than j votes for option k; n_tail[j]: with more than j votes
    tail = np.empty((k, top))
    for opt in range(k):
        hist = np.bincount(c[:, opt], minlength=top + 1)
        tail[opt] = len(c) - np.cumsum(hist)[:top]
    n_tail = len(c) - np.cumsum(np.bincount(n, minlength=top + 1))[:top]
    j = np.arange(top, dtype=np.float64)
    alpha = np.ones(k)
    for _ in range(FIT_ITERATIONS):
        num = (tail / (alpha[:, None] + j[None, :])).sum(axis=1)
        den = float((n_tail / (alpha.sum() + j)).sum())
        new = np.maximum(alpha * num / den, ALPHA_FLOOR)
        done = bool(np.abs(new - alpha).max() < FIT_TOL * max(1.0, float(alpha.max())))
        alpha = new
        if done:
            break
    return alpha


def predictive_confidence(
    counts: FloatArray, answer: IntArray, remaining: IntArray, alpha: FloatArray
) -> FloatArray:
    """Per task: P(`answer` still leads every other option after `remaining` more labels).

    `counts` (n_tasks, K) votes so far (whole numbers), `answer` (n_tasks,) the option the
    consensus gives (-1: none, confidence 0), `remaining` (n_tasks,) labels still to come
    (0: the votes as they are: 1 if the answer leads, 0.5 on a two-way tie, 0 if behind),
    `alpha` the Dirichlet prior from `fit_prior`. See the module docstring for the model.
    """
    cnt = np.rint(np.asarray(counts, dtype=np.float64))
    ans = np.asarray(answer, dtype=np.int64)
    rem = np.asarray(remaining, dtype=np.int64)
    prior = np.asarray(alpha, dtype=np.float64)
    if cnt.ndim != 2 or ans.shape != (len(cnt),) or rem.shape != (len(cnt),):
        raise ValueError("counts (tasks, K), answer (tasks,) and remaining (tasks,) must agree")
    if prior.shape != (cnt.shape[1],) or not (prior > 0).all():
        raise ValueError("alpha must be K positive numbers")
    if (rem < 0).any():
        raise ValueError("remaining must not be negative")
    if len(ans) and int(ans.max()) >= cnt.shape[1]:
        raise ValueError("answer must be -1 or an option index")
    out = np.zeros(len(cnt))
    has = ans >= 0
    if not has.any():
        return out
    # Tasks in the same state (votes, answer, labels to come) get the same value: compute once.
    state = np.column_stack([cnt[has], ans[has], rem[has]])
    uniq, inverse = np.unique(state, axis=0, return_inverse=True)
    k = cnt.shape[1]
    u_cnt, u_ans, u_rem = uniq[:, :k], uniq[:, k].astype(np.int64), uniq[:, k + 1].astype(np.int64)
    values = np.empty(len(uniq))
    for m in np.unique(u_rem):
        group = np.flatnonzero(u_rem == m)
        size = max(1, CHUNK_CELLS // (int(m) + 1) ** 2)
        for at in range(0, len(group), size):
            part = group[at : at + size]
            values[part] = _lead_probability(u_cnt[part], u_ans[part], int(m), prior)
    out[has] = values[inverse.reshape(-1)]
    return out


def _log_rising(base: FloatArray, top: int) -> FloatArray:
    """(S, top + 1): [s, x] = log(base_s (base_s + 1) ... (base_s + x - 1)), 0 at x = 0."""
    steps = base[:, None] + np.arange(top, dtype=np.float64)[None, :]
    with np.errstate(divide="ignore"):
        logs = np.log(steps)  # base 0 (no "rest" with two options): log 0 = -inf, weight 0
    return np.concatenate([np.zeros((len(base), 1)), np.cumsum(logs, axis=1)], axis=1)


def _lead_probability(cnt: FloatArray, ans: IntArray, m: int, alpha: FloatArray) -> FloatArray:
    """`predictive_confidence` for S distinct states with the same m labels to come."""
    s_idx = np.arange(len(cnt))
    post = cnt + alpha[None, :]
    total = post.sum(axis=1)
    a_ans = post[s_idx, ans]
    c_ans = cnt[s_idx, ans]
    grid = np.arange(m + 1)
    log_fact = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, m + 1, dtype=np.float64)))])
    x = grid[:, None]  # future votes for the answer
    y = grid[None, :]  # future votes for the rival
    z = m - x - y  # future votes for every other option
    valid = z >= 0
    z_ok = np.where(valid, z, 0)
    r_ans = _log_rising(a_ans, m)
    # log of the multinomial coefficient over the Dirichlet-multinomial normaliser
    head = log_fact[m] - _log_rising(total, m)[:, m]
    coef = -log_fact[x] - log_fact[y] - log_fact[z_ok]
    lost = np.zeros(len(cnt))
    for rival in range(alpha.shape[0]):
        a_riv = post[:, rival]
        r_riv = _log_rising(a_riv, m)
        r_rest = _log_rising(np.maximum(total - a_ans - a_riv, 0.0), m)
        log_p = (
            head[:, None, None]
            + coef[None, :, :]
            + r_ans[:, :, None]
            + r_riv[:, None, :]
            + r_rest[:, z_ok]
        )
        p = np.where(valid[None, :, :], np.exp(log_p), 0.0)
        lead = (c_ans[:, None, None] + x[None]) - (cnt[:, rival][:, None, None] + y[None])
        beaten = (p * (lead < 0)).sum(axis=(1, 2)) + 0.5 * (p * (lead == 0)).sum(axis=(1, 2))
        beaten[ans == rival] = 0.0
        lost += beaten
    out: FloatArray = np.clip(1.0 - lost, 0.0, 1.0)
    return out
