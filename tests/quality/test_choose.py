"""`auto`'s choice of method by held-out label likelihood (quality/choose.py)."""

from __future__ import annotations

import numpy as np
import pytest

from quality import choose as qc
from quality.aggregate import aggregate
from quality.labels import FloatArray, IntArray, Labels


def crowd(
    seed: int, n_tasks: int, per_task: int, conf: FloatArray, hard: float = 0.0
) -> tuple[Labels, IntArray]:
    """Workers answer from conf[w, true]; on a `hard` share of tasks every worker guesses."""
    rng = np.random.default_rng(seed)
    n_workers, k, _ = conf.shape
    truth = rng.integers(k, size=n_tasks)
    worker = np.argsort(rng.random((n_tasks, n_workers)), axis=1)[:, :per_task].ravel()
    task = np.repeat(np.arange(n_tasks), per_task)
    cum = np.cumsum(conf[worker, truth[task]], axis=1)
    label = np.minimum((rng.random(len(task))[:, None] > cum).sum(axis=1), k - 1)
    guessed = (rng.random(n_tasks) < hard)[task]
    label = np.where(guessed, rng.integers(k, size=len(task)), label)
    return Labels.from_indices(task, worker, label, n_tasks=n_tasks, n_workers=n_workers), truth


def one_coin(acc: FloatArray, k: int) -> FloatArray:
    conf = np.repeat(((1 - acc) / (k - 1))[:, None, None], k, axis=1).repeat(k, axis=2)
    conf[:, np.arange(k), np.arange(k)] = acc[:, None]
    return conf


def test_same_seed_same_choice_any_row_order() -> None:
    rng = np.random.default_rng(1)
    labels, _ = crowd(1, 300, 4, one_coin(rng.uniform(0.5, 0.95, 30), 3))
    a = qc.choose(labels, seed=5)
    order = rng.permutation(labels.n)
    shuffled = Labels(
        labels.task[order],
        labels.worker[order],
        labels.label[order],
        labels.n_tasks,
        labels.n_workers,
        labels.n_classes,
    )
    b = qc.choose(shuffled, seed=5)
    assert (a.method, a.temperature, a.reason) == (b.method, b.temperature, b.reason)
    assert [s.loglik for s in a.scores] == pytest.approx([s.loglik for s in b.scores])
    assert a.hidden == labels.n
    assert a.fits == qc.HELD_OUT_FITS


def test_spammers_move_auto_off_hds_and_it_pays() -> None:
    # half the crowd answers at random, the rest are good: MACE's model of a spammer fits
    rng = np.random.default_rng(2)
    acc = rng.uniform(0.75, 0.95, 60)
    conf = one_coin(acc, 3)
    conf[:30] = 1 / 3
    labels, truth = crowd(2, 1500, 5, conf)
    auto = aggregate(labels)
    assert auto.method != "auto:hds", auto.choice
    assert "standard errors better" in auto.choice
    acc_of = {m: float(np.mean(aggregate(labels, m).label == truth)) for m in ("hds", "mv")}
    assert float(np.mean(auto.label == truth)) >= acc_of["hds"] - 0.003
    assert float(np.mean(auto.label == truth)) > acc_of["mv"]


def test_correlated_errors_raise_the_temperature_and_calibrate() -> None:
    # on 20 % of tasks every worker guesses: a latent-class posterior is too sure there
    rng = np.random.default_rng(3)
    labels, truth = crowd(3, 2000, 7, one_coin(rng.uniform(0.7, 0.9, 40), 2), hard=0.2)
    auto = aggregate(labels)
    assert auto.temperature > 1.0
    raw = aggregate(labels, auto.method.removeprefix("auto:"))
    right = auto.label == truth

    def ece(conf: FloatArray) -> float:
        order = np.argsort(conf)
        bins = np.array_split(order, 10)
        return float(sum(abs(conf[b].mean() - right[b].mean()) * len(b) for b in bins)) / len(conf)

    assert ece(auto.confidence) < 0.8 * ece(raw.confidence)  # measured: 0.055 against 0.073
    assert ece(auto.confidence) <= 0.06


def test_the_default_needs_a_clear_margin() -> None:
    per = np.array([-1.0, -1.0, -0.9, -1.1] * 50)
    base = qc.Score("hds", 1.0, float(per.mean()), per)
    noise = np.random.default_rng(0).normal(0, 0.2, len(per))
    slight = qc.Score("mace", 1.0, float((per + noise).mean()), per + noise)
    kept = qc._decide((slight, base), len(per), 5)
    assert kept.method == "hds"
    assert kept.reason.startswith("auto kept hds")
    better = qc.Score("mace", 1.5, float((per + 0.05).mean()), per + 0.05 + noise / 10)
    moved = qc._decide((better, base), len(per), 5)
    assert moved.method == "mace"
    assert moved.temperature == 1.5


def test_few_labels_keep_the_default_and_bad_candidates_are_refused() -> None:
    labels = Labels.from_indices([0, 0, 1], [0, 1, 0], [0, 1, 1])
    choice = qc.choose(labels)
    assert (choice.method, choice.fits) == ("hds", 0)
    assert "too few labels" in choice.reason
    with pytest.raises(ValueError, match="candidates"):
        qc.choose(labels, candidates=("auto",))


def test_a_large_project_is_judged_on_a_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qc, "CHOICE_LABELS", 600)
    monkeypatch.setattr(qc, "SMALL_LABELS", 300)
    rng = np.random.default_rng(4)
    labels, _ = crowd(4, 400, 5, one_coin(rng.uniform(0.6, 0.9, 30), 2))
    choice = qc.choose(labels)
    assert choice.fits == qc.LARGE_FITS
    assert 150 < choice.hidden < 400  # whole tasks of about 600 labels, 2 of 5 folds hidden


def test_clustered_standard_error_counts_a_prolific_worker_once() -> None:
    # the whole gain is on worker 0's 50 labels: as evidence that is one worker, not 50 labels
    diff = np.r_[np.full(50, 0.2), np.zeros(150)]
    worker = np.r_[np.zeros(50, dtype=np.int64), np.arange(1, 151)]
    task = np.arange(200)
    plain = qc._standard_error(diff, ())
    clustered = qc._standard_error(diff, (task, worker))
    assert clustered > 3 * plain
    assert qc._standard_error(diff[:1], ()) == float("inf")


def test_fits_that_predict_alike_keep_the_default_whatever_z_rounding_gives() -> None:
    # A crowd in full agreement: every fit predicts the held-out labels the same, and the
    # paired difference is rounding error over a standard error of nothing.
    task = np.repeat(np.arange(300), 5)
    worker = np.tile(np.arange(5), 300)
    labels = Labels.from_indices(task, worker, task % 2, n_tasks=300, n_workers=5, n_classes=2)
    choice = qc.choose(labels)
    assert choice.method == qc.DEFAULT
    assert "no method predicts held-out labels better" in choice.reason
    assert "inf" not in choice.reason


def test_a_crowd_too_big_for_confusion_matrices_is_judged_among_the_light_methods() -> None:
    # 3,000 workers x 60 classes^2 = 10.8M cells: ds, ocds, hds and mace would hold a 60 x 60
    # matrix per worker (gigabytes at 200 classes); auto keeps to the methods without one.
    rng = np.random.default_rng(0)
    n_tasks, k = 1200, 60
    truth = rng.integers(k, size=n_tasks)
    task = np.repeat(np.arange(n_tasks), 5)
    worker = rng.permutation(np.arange(n_tasks * 5) % 3000)
    right = rng.random(len(task)) < 0.8
    label = np.where(right, truth[task], rng.integers(k, size=len(task)))
    labels = Labels.from_indices(task, worker, label, n_tasks=n_tasks, n_workers=3000, n_classes=k)
    assert labels.n_workers * k**2 > qc.CONFUSION_CELLS
    choice = qc.choose(labels)
    assert choice.method in qc.LIGHT
    assert {s.method for s in choice.scores} <= set(qc.LIGHT)
    result = aggregate(labels, "auto")
    assert result.method == f"auto:{choice.method}"
    assert np.mean(result.label == truth) > 0.9
