from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from quality import methods
from quality.aggregate import METHODS, AggregateError, Consensus, aggregate
from quality.labels import FloatArray, IntArray, Labels

FIXTURES = Path(__file__).parent / "fixtures"
CONCRETE = tuple(m for m in METHODS if m != "auto")
EM_CONFUSION = ("ds", "ocds", "hds", "mace")


def labels_of(rows: list[tuple[int, int, int]], **sizes: int) -> Labels:
    """Labels from (task, worker, label) triples."""
    t, w, y = zip(*rows, strict=True) if rows else ((), (), ())
    return Labels.from_indices(list(t), list(w), list(y), **sizes)


def simulate(
    rng: np.random.Generator,
    confusion: FloatArray,
    n_tasks: int,
    per_task: int,
    prior: FloatArray | None = None,
) -> tuple[Labels, IntArray]:
    """Each task gets `per_task` distinct random workers answering from confusion[w, true]."""
    n_workers, k, _ = confusion.shape
    truth = rng.choice(k, size=n_tasks, p=prior)
    worker = np.argsort(rng.random((n_tasks, n_workers)), axis=1)[:, :per_task].ravel()
    task = np.repeat(np.arange(n_tasks), per_task)
    cum = np.cumsum(confusion[worker, truth[task]], axis=1)
    label = (rng.random(len(task))[:, None] > cum).sum(axis=1)
    labels = Labels.from_indices(
        task, worker, np.minimum(label, k - 1), n_tasks=n_tasks, n_workers=n_workers, n_classes=k
    )
    return labels, truth.astype(np.int64)


def check_invariants(result: Consensus, labels: Labels) -> None:
    post = result.posterior
    assert post.shape == (labels.n_tasks, labels.n_classes)
    assert np.allclose(post.sum(axis=1), 1.0)
    assert np.all(post >= 0.0)
    assert result.n_labels.tolist() == labels.labels_per_task().tolist()
    has = result.label >= 0
    assert (result.label[result.n_labels > 0] >= 0).all()
    assert (result.label[~has] == -1).all()
    assert np.allclose(result.confidence[has], post[has, result.label[has]])
    assert np.allclose(result.confidence[~has], 0.0)
    assert np.allclose(post[has].max(axis=1), result.confidence[has])
    assert result.worker_skill.shape == (labels.n_workers,)


# --- majority vote and Wawa, by hand ---------------------------------------------------------


def test_mv_vote_share_tie_and_skill() -> None:
    # task 0: 0,0,1 -> 0 (2/3); task 1: 1,2 -> tie between 1 and 2, lowest wins; task 2: 2
    labels = labels_of(
        [(0, 0, 0), (0, 1, 0), (0, 2, 1), (1, 0, 1), (1, 1, 2), (2, 2, 2)], n_classes=3
    )
    r = aggregate(labels, "mv")
    assert r.method == "mv"
    assert r.label.tolist() == [0, 1, 2]
    assert r.tie.tolist() == [False, True, False]
    assert np.allclose(r.posterior, [[2 / 3, 1 / 3, 0.0], [0.0, 0.5, 0.5], [0.0, 0.0, 1.0]])
    assert np.allclose(r.confidence, [2 / 3, 0.5, 1.0])
    assert r.iterations == 0
    # tied task 1 does not count: w0 1/1, w1 1/1, w2 (task 0 wrong, task 2 right) 1/2
    assert np.allclose(r.worker_skill, [1.0, 1.0, 0.5])


def test_mv_three_way_tie_picks_lowest_class() -> None:
    r = aggregate(labels_of([(0, 0, 2), (0, 1, 1), (0, 2, 3)], n_classes=4), "mv")
    assert r.label.tolist() == [1]
    assert r.tie.tolist() == [True]
    assert math.isnan(r.worker_skill[0])  # only a tied task: nothing to agree with


WAWA_ROWS = [
    (0, 0, 0), (0, 1, 0), (0, 2, 1),
    (1, 0, 1), (1, 1, 1), (1, 2, 0),
    (2, 0, 0), (2, 2, 1),
    (3, 0, 1), (3, 2, 0), (3, 3, 0),
    (4, 0, 0), (4, 1, 0), (4, 3, 1),
    (5, 0, 1), (5, 1, 1),
    (6, 0, 0), (6, 1, 0),
    (7, 0, 1), (7, 1, 1),
]  # fmt: skip


def test_wawa_weights_flip_a_vote() -> None:
    labels = labels_of(WAWA_ROWS)
    mv = aggregate(labels, "mv")
    # MV skills (task 2 is tied): w0 6/7, w1 5/5, w2 1/3 (tasks 0, 1 wrong, 3 right), w3 1/2
    assert np.allclose(mv.worker_skill, [6 / 7, 1.0, 1 / 3, 1 / 2])
    assert mv.label[3] == 0  # two against one
    wawa = aggregate(labels, "wawa")
    # task 3: class 1 has w0's 6/7, class 0 has w2 + w3 = 1/3 + 1/2 = 5/6 < 6/7
    assert wawa.label[3] == 1
    assert np.allclose(wawa.posterior[3], [35 / 71, 36 / 71])
    # task 2 was a tie in MV: w0 (6/7) beats w2 (1/3)
    assert wawa.label[2] == 0
    assert not wawa.tie[2]
    assert np.allclose(wawa.posterior[2, 0], (6 / 7) / (6 / 7 + 1 / 3))


# --- shared conventions, every method --------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_tasks_without_labels_are_uniform_and_undecided(method: str) -> None:
    labels = labels_of([(0, 0, 1), (0, 1, 1), (2, 0, 0), (2, 1, 0)], n_tasks=4, n_classes=3)
    r = aggregate(labels, method)
    check_invariants(r, labels)
    for t in (1, 3):
        assert np.allclose(r.posterior[t], 1 / 3)
        assert r.label[t] == -1
        assert r.confidence[t] == 0.0
        assert r.n_labels[t] == 0
        assert not r.tie[t]
    assert r.label[0] == 1
    assert r.label[2] == 0


@pytest.mark.parametrize("method", METHODS)
def test_single_class(method: str) -> None:
    labels = labels_of([(0, 0, 0), (0, 1, 0), (1, 1, 0)], n_tasks=3, n_classes=1)
    r = aggregate(labels, method)
    assert r.label.tolist() == [0, 0, -1]
    assert r.confidence.tolist() == [1.0, 1.0, 0.0]
    assert r.posterior.tolist() == [[1.0], [1.0], [1.0]]
    assert not r.tie.any()


@pytest.mark.parametrize("method", METHODS)
def test_no_labels_at_all(method: str) -> None:
    labels = Labels.from_indices([], [], [], n_tasks=2, n_workers=1, n_classes=2)
    r = aggregate(labels, method)
    assert r.label.tolist() == [-1, -1]
    assert np.allclose(r.posterior, 0.5)
    assert np.isnan(r.worker_skill).all()


@pytest.mark.parametrize("method", METHODS)
def test_known_answers_come_out_one_hot(method: str) -> None:
    # task 0's crowd says 0, but it is known to be 2; task 3 has no labels and is known too
    labels = labels_of(
        [(0, 0, 0), (0, 1, 0), (1, 0, 1), (1, 1, 1), (2, 0, 2)], n_tasks=4, n_classes=3
    )
    known = np.array([2, -1, -1, 1])
    r = aggregate(labels, method, known=known)
    check_invariants(r, labels)
    assert r.label.tolist()[0] == 2
    assert r.label.tolist()[3] == 1
    assert r.posterior[0].tolist() == [0.0, 0.0, 1.0]
    assert r.posterior[3].tolist() == [0.0, 1.0, 0.0]
    assert r.confidence[0] == 1.0
    assert not r.tie[0]


@pytest.mark.parametrize("method", METHODS)
def test_random_data_invariants_and_label_order(method: str) -> None:
    rng = np.random.default_rng(7)
    conf = 0.5 * rng.dirichlet(np.ones(4), size=(12, 4)) + 0.5 * np.eye(4)
    labels, _ = simulate(rng, conf, 150, 4)
    r = aggregate(labels, method)
    check_invariants(r, labels)
    order = rng.permutation(labels.n)
    shuffled = Labels(
        labels.task[order],
        labels.worker[order],
        labels.label[order],
        labels.n_tasks,
        labels.n_workers,
        labels.n_classes,
    )
    r2 = aggregate(shuffled, method)
    assert np.allclose(r.posterior, r2.posterior, atol=1e-9)
    assert np.array_equal(r.label, r2.label)


def test_auto_says_what_it_chose_and_keeps_its_answers() -> None:
    rng = np.random.default_rng(3)
    conf = np.broadcast_to(np.full((3, 3), 0.1) + 0.7 * np.eye(3), (8, 3, 3))
    labels, _ = simulate(rng, conf, 60, 3)
    auto = aggregate(labels)
    chosen = auto.method.removeprefix("auto:")
    assert auto.method.startswith("auto:")
    assert chosen in CONCRETE
    assert auto.choice.startswith("auto ")
    assert chosen in auto.choice
    plain = aggregate(labels, chosen)
    assert np.array_equal(auto.label, plain.label)  # tempering changes confidence only
    tempered = plain.posterior ** (1 / auto.temperature)
    tempered /= tempered.sum(axis=1, keepdims=True)
    assert np.allclose(auto.posterior, tempered)
    assert plain.choice == ""
    assert plain.temperature == 1.0


def test_mv_tie_goes_to_the_crowds_most_frequent_option() -> None:
    # task 0: 0 vs 2 tied; over all tasks class 2 is given 4 times, class 0 once
    labels = labels_of([(0, 0, 0), (0, 1, 2), (1, 0, 2), (1, 1, 2), (2, 2, 2), (2, 0, 1)])
    r = aggregate(labels, "mv")
    assert r.label[0] == 2
    assert r.tie[0]
    assert r.label[2] == 2
    assert r.tie[2]
    assert not r.tie[1]
    # equally frequent options: the lowest index, as before
    even = aggregate(labels_of([(0, 0, 0), (0, 1, 1)]), "mv")
    assert even.label.tolist() == [0]
    assert even.tie.tolist() == [True]


def test_zbs_is_majority_vote_weighted_by_learnt_skill() -> None:
    # w0 and w1 agree everywhere, w2 always disagrees: zbs follows w0/w1 on the 1-1 task
    rows = [(t, w, 0) for t in range(6) for w in (0, 1)] + [(t, 2, 1) for t in range(6)]
    rows += [(6, 0, 0), (6, 2, 1)]
    r = aggregate(labels_of(rows), "zbs")
    check_invariants(r, labels_of(rows))
    assert r.label[6] == 0
    assert not r.tie[6]
    assert r.worker_skill[0] > 0.9
    assert r.worker_skill[2] < 0.1
    assert r.iterations > 1


def test_bad_requests() -> None:
    labels = labels_of([(0, 0, 0), (1, 0, 1)])
    with pytest.raises(AggregateError, match="unknown method"):
        aggregate(labels, "median")
    with pytest.raises(AggregateError, match="shape"):
        aggregate(labels, "ds", known=np.array([0]))
    with pytest.raises(AggregateError, match=r"-1 or in 0\.\.1"):
        aggregate(labels, "ds", known=np.array([0, 2]))
    with pytest.raises(AggregateError, match="max_iter"):
        aggregate(labels, "ds", max_iter=-1)


def test_worker_without_labels_has_no_skill() -> None:
    labels = labels_of([(0, 0, 0), (0, 1, 0), (1, 0, 1), (1, 1, 1)], n_workers=3)
    for method in CONCRETE:
        skill = aggregate(labels, method).worker_skill
        assert math.isnan(skill[2]), method
        assert not np.isnan(skill[:2]).any(), method


# --- EM methods against a plain-loop reference ----------------------------------------------


def reference_em(labels: Labels, model: str, iters: int, known: IntArray) -> FloatArray:
    """DS or HDS written with loops over labels, straight from the docstrings' formulas."""
    k, n_t, n_w = labels.n_classes, labels.n_tasks, labels.n_workers
    rows = list(
        zip(labels.task.tolist(), labels.worker.tolist(), labels.label.tolist(), strict=True)
    )
    has = [False] * n_t
    post = [[0.0] * k for _ in range(n_t)]
    for t, _, y in rows:
        post[t][y] += 1.0
        has[t] = True
    for t in range(n_t):
        s = sum(post[t])
        post[t] = [v / s for v in post[t]] if s else [1.0 / k] * k

    def clamp() -> None:
        for t in range(n_t):
            if known[t] >= 0:
                post[t] = [1.0 if c == known[t] else 0.0 for c in range(k)]

    def m_step() -> tuple[list[float], list[list[list[float]]]]:
        tot = [1.0] * k
        for t in range(n_t):
            if has[t] or known[t] >= 0:
                for c in range(k):
                    tot[c] += post[t][c]
        prior = [v / sum(tot) for v in tot]
        cnt = [[[0.0] * k for _ in range(n_w)] for _ in range(k)]
        for t, w, y in rows:
            for c in range(k):
                cnt[c][w][y] += post[t][c]
        conf = [[[0.0] * k for _ in range(n_w)] for _ in range(k)]
        if model == "ds":
            for c in range(k):
                for w in range(n_w):
                    a = [cnt[c][w][y] + 0.01 + (1.0 if y == c else 0.0) for y in range(k)]
                    conf[c][w] = [v / sum(a) for v in a]
            return prior, conf
        right = sum(cnt[c][w][c] for c in range(k) for w in range(n_w))
        pooled_acc = right / len(rows)
        err = [[sum(cnt[c][w][y] for w in range(n_w)) for y in range(k)] for c in range(k)]
        for c in range(k):
            err[c] = [0.0 if y == c else err[c][y] + 1.0 / (k - 1) for y in range(k)]
            err[c] = [v / sum(err[c]) for v in err[c]]
        for w in range(n_w):
            n = sum(cnt[c][w][y] for c in range(k) for y in range(k))
            acc = (sum(cnt[c][w][c] for c in range(k)) + 2.0 * pooled_acc) / (n + 2.0)
            for c in range(k):
                mean = [acc if y == c else (1 - acc) * err[c][y] for y in range(k)]
                a = [cnt[c][w][y] + 2.0 * mean[y] for y in range(k)]
                conf[c][w] = [v / sum(a) for v in a]
        return prior, conf

    def e_step(prior: list[float], conf: list[list[list[float]]]) -> None:
        logp = [[math.log(prior[c]) for c in range(k)] for _ in range(n_t)]
        for t, w, y in rows:
            for c in range(k):
                logp[t][c] += math.log(conf[c][w][y])
        for t in range(n_t):
            top = max(logp[t])
            e = [math.exp(v - top) for v in logp[t]]
            post[t] = [v / sum(e) for v in e]
        clamp()

    clamp()
    prior, conf = m_step()
    for _ in range(iters):
        e_step(prior, conf)
        prior, conf = m_step()
    e_step(prior, conf)
    return np.array(post)


@pytest.mark.parametrize("model", ["ds", "hds"])
@pytest.mark.parametrize("with_known", [False, True])
def test_em_matches_plain_loop_reference(model: str, with_known: bool) -> None:
    rng = np.random.default_rng(11)
    conf = rng.dirichlet(np.ones(3), size=(6, 3)) * 0.5 + 0.5 * np.eye(3)
    labels, truth = simulate(rng, conf, 40, 3)
    known = np.where(rng.random(40) < 0.2, truth, -1) if with_known else np.full(40, -1)
    for iters in (0, 1, 4):
        ours = aggregate(labels, model, known=known, max_iter=iters, tol=0.0)
        ref = reference_em(labels, model, iters, known)
        assert ours.iterations == iters
        assert np.allclose(ours.posterior, ref, atol=1e-10), iters


# --- what the models are for -----------------------------------------------------------------


def test_ds_uses_an_adversarial_worker() -> None:
    # w0 and w1 are right except on disjoint tasks; w2 always gives the other class. On the
    # tasks where one of w0/w1 errs, the vote is 2 wrong against 1 right; DS reads w2 backwards.
    rows: list[tuple[int, int, int]] = []
    rng = np.random.default_rng(5)
    truth = rng.integers(0, 2, size=60)
    for t, z in enumerate(truth.tolist()):
        rows.append((t, 0, 1 - z if t % 10 == 0 else z))
        rows.append((t, 1, 1 - z if t % 10 == 5 else z))
        rows.append((t, 2, 1 - z))
    labels = labels_of(rows)
    mv = aggregate(labels, "mv")
    ds = aggregate(labels, "ds")
    flipped = np.arange(60) % 5 == 0
    assert (mv.label[flipped] != truth[flipped]).all()
    assert (ds.label == truth).all()
    assert ds.confusion is not None
    assert ds.confusion[2, 0, 1] > 0.9
    assert ds.confusion[2, 1, 0] > 0.9
    assert ds.worker_skill[2] < 0.1
    assert ds.worker_skill[0] > 0.8


def test_known_answers_teach_the_workers() -> None:
    # Two workers always invert the answer and one is always right: the majority is always
    # wrong, and without help EM settles on the majority's reading. Ten known answers show
    # that workers 0 and 1 invert, and every other task comes out right.
    rows = []
    truth = np.arange(40) % 2
    for t, z in enumerate(truth.tolist()):
        rows += [(t, 0, 1 - z), (t, 1, 1 - z), (t, 2, z)]
    labels = labels_of(rows)
    blind = aggregate(labels, "ds")
    assert (blind.label != truth).all()
    known = np.where(np.arange(40) < 10, truth, -1)
    for method in EM_CONFUSION:
        taught = aggregate(labels, method, known=known)
        assert (taught.label == truth).all(), method
        assert taught.worker_skill[2] > 0.7, method
        # MACE has no "inverts the answer" worker: to it they are spammers, not wrong ones
        assert taught.worker_skill[0] < (0.6 if method == "mace" else 0.3), method


@pytest.mark.parametrize("model", ["ds", "hds"])
def test_recovers_worker_confusion_matrices(model: str) -> None:
    rng = np.random.default_rng(2024)
    k, n_workers = 3, 10
    base = rng.dirichlet(np.ones(k), size=(n_workers, k))
    true_conf = 0.4 * base + 0.6 * np.eye(k)  # every worker better than chance, each its own way
    true_conf[3] = np.eye(k)[[1, 2, 0]] * 0.8 + 0.2 / k  # one worker relabels systematically
    prior = np.array([0.5, 0.3, 0.2])
    labels, truth = simulate(rng, true_conf, 20_000, 5, prior)
    r = aggregate(labels, model)
    assert r.confusion is not None
    assert np.abs(r.confusion - true_conf).max() < 0.05
    assert (r.label == truth).mean() > 0.95
    mv = aggregate(labels, "mv")
    assert (r.label == truth).mean() > (mv.label == truth).mean()


def test_one_coin_recovers_accuracies() -> None:
    rng = np.random.default_rng(8)
    k, n_workers = 4, 12
    acc = rng.uniform(0.35, 0.95, size=n_workers)
    conf = ((1 - acc) / (k - 1))[:, None, None] * (1 - np.eye(k)) + acc[:, None, None] * np.eye(k)
    labels, _ = simulate(rng, conf, 8000, 4)
    r = aggregate(labels, "ocds")
    assert np.abs(r.worker_skill - acc).max() < 0.03


def test_mace_and_glad_see_through_spammers() -> None:
    rng = np.random.default_rng(13)
    k, n_workers = 3, 20
    conf = np.broadcast_to(0.1 / 2 * (1 - np.eye(k)) + 0.9 * np.eye(k), (n_workers, k, k)).copy()
    conf[:8] = np.array([0.8, 0.1, 0.1])  # 8 spammers who mostly say class 0, whatever it is
    labels, truth = simulate(rng, conf, 1500, 5)
    mv = aggregate(labels, "mv")
    for method in ("mace", "glad", "hds", "ds"):
        r = aggregate(labels, method)
        assert (r.label == truth).mean() > (mv.label == truth).mean() + 0.05, method
        assert r.worker_skill[:8].max() < r.worker_skill[8:].min(), method


def test_sparse_many_class_data_prefers_shrinkage() -> None:
    # Many workers with a handful of labels each, 5 classes: hds should not do worse than
    # one-coin DS or majority vote (full DS has too many parameters per worker here).
    rng = np.random.default_rng(21)
    k, n_workers = 5, 400
    acc = rng.beta(5, 2, size=n_workers)
    conf = ((1 - acc) / (k - 1))[:, None, None] * (1 - np.eye(k)) + acc[:, None, None] * np.eye(k)
    labels, truth = simulate(rng, conf, 600, 5)
    score = {m: (aggregate(labels, m).label == truth).mean() for m in ("mv", "ocds", "hds")}
    assert score["hds"] >= score["mv"]
    assert score["hds"] >= score["ocds"] - 0.01


def test_em_stops_when_converged() -> None:
    rng = np.random.default_rng(4)
    conf = np.broadcast_to(np.full((2, 2), 0.2) + 0.6 * np.eye(2), (6, 2, 2))
    labels, _ = simulate(rng, conf, 200, 3)
    r = aggregate(labels, "ds", max_iter=500)
    assert 1 <= r.iterations < 500
    assert aggregate(labels, "ds", max_iter=2, tol=0.0).iterations == 2


def test_digamma() -> None:
    x = np.array([0.5, 1.0, 2.0, 10.0, 123.4])
    expected = [-1.9635100260214235, -0.5772156649015329, 0.42278433509846713, 2.251752589066721]
    got = methods._digamma(x)
    assert np.allclose(got[:4], expected, atol=1e-12)
    # psi(x + 1) - psi(x) = 1 / x
    assert np.isclose(methods._digamma(np.array([124.4]))[0] - got[4], 1 / 123.4, atol=1e-12)


# --- crowd-kit 1.4.2 on real slices (recorded by bench.bench_quality record-fixture) ---------


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def load_fixture(name: str) -> tuple[Labels, dict[str, dict[str, str]], dict[str, str]]:
    rows = read_csv(FIXTURES / f"{name}_labels.csv")
    labels = Labels.from_strings(
        [r["worker"] for r in rows], [r["task"] for r in rows], [r["label"] for r in rows]
    )
    crowdkit = {r["task"]: r for r in read_csv(FIXTURES / f"{name}_crowdkit.csv")}
    gold = {r["task"]: r["label"] for r in read_csv(FIXTURES / f"{name}_gold.csv")}
    return labels, crowdkit, gold


def answers(labels: Labels, result: Consensus) -> list[str]:
    return [labels.classes[c] for c in result.label.tolist()]


@pytest.mark.parametrize("name", ["snow_rte", "act_cf"])
def test_mv_equals_crowdkit_outside_ties(name: str) -> None:
    labels, crowdkit, _ = load_fixture(name)
    r = aggregate(labels, "mv")
    assert r.tie.sum() < labels.n_tasks / 5
    for task, ours, tie in zip(labels.tasks, answers(labels, r), r.tie.tolist(), strict=True):
        if not tie:
            assert ours == crowdkit[task]["mv"], task


def test_ds_agrees_with_crowdkit_on_dense_data() -> None:
    labels, crowdkit, _ = load_fixture("snow_rte")
    ours = answers(labels, aggregate(labels, "ds"))
    same = np.mean([a == crowdkit[t]["ds"] for t, a in zip(labels.tasks, ours, strict=True)])
    assert same >= 0.97


def test_ds_on_sparse_data_agrees_where_crowdkit_is_sure_and_beats_it() -> None:
    # act_cf: 5 classes, most workers give a handful of labels. crowd-kit's unsmoothed DS
    # overfits there (and stops after 5 iterations when its ELBO drops); ours is smoothed, so
    # it may disagree, but only where crowd-kit's DS departs from the plain vote.
    labels, crowdkit, gold = load_fixture("act_cf")
    ours = dict(zip(labels.tasks, answers(labels, aggregate(labels, "ds")), strict=True))
    sure = [t for t in labels.tasks if crowdkit[t]["ds"] == crowdkit[t]["mv"]]
    assert len(sure) > 0.8 * labels.n_tasks
    assert np.mean([ours[t] == crowdkit[t]["ds"] for t in sure]) >= 0.97
    scored = [t for t in labels.tasks if t in gold]
    ours_acc = np.mean([ours[t] == gold[t] for t in scored])
    theirs_acc = np.mean([crowdkit[t]["ds"] == gold[t] for t in scored])
    assert ours_acc > theirs_acc


@pytest.mark.parametrize("name", ["snow_rte", "act_cf"])
def test_auto_beats_crowdkit_mv_on_real_slices(name: str) -> None:
    labels, crowdkit, gold = load_fixture(name)
    ours = dict(zip(labels.tasks, answers(labels, aggregate(labels)), strict=True))
    scored = [t for t in labels.tasks if t in gold]
    assert np.mean([ours[t] == gold[t] for t in scored]) >= np.mean(
        [crowdkit[t]["mv"] == gold[t] for t in scored]
    )
