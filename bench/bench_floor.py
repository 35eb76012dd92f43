"""Issue 16's two dev-set targets that `auto` misses, and the floor under each.

    python -m bench.bench_floor                  # both parts
    python -m bench.bench_floor accuracy         # the dev mean: gold-free rules that choose or mix
    python -m bench.bench_floor calibration      # every bin within 5 points: calibration families

accuracy: `auto` must be above the best single method on the mean of the five dev sets (ds and
mace, 86.60; `auto` 86.56, hds on all five). Every rule below sees only the labels and is
measured on the dev sets and one seed of every simulated regime (bench/bench_sim.py):

    hds             the default, always
    auto            the rule in quality/choose.py (held-out likelihood, hds unless > 5 s.e.)
    ll-best         the same without the margin: the best held-out likelihood wins
    stacking        a mixture of every candidate's tempered posterior, its weights those that
                    best predict the held-out labels (Yao et al. 2018, "Using stacking to
                    average Bayesian predictive distributions")
    mean            the same mixture with equal weights
    medoid          the candidate whose answers differ least from the other candidates'
    vote            each task's answer most candidates give (hds breaks a tie)
    hds-strength    hds with its prior strength (HDS_ROW_STRENGTH, 0.5-16) chosen by held-out
                    likelihood: the same criterion choosing a setting instead of a method

calibration: pooled over the dev sets and one seed of every regime, in 10 bins of equal count
(>= 200 answers each), every bin's share correct within 5 points of its mean confidence. The
families, each on `auto`'s chosen method:

    auto            temperature T chosen by held-out label likelihood (quality/choose.py)
    T+floor         (1 - e) * tempered + e / K, T and e chosen by held-out label likelihood
    bootstrap       isotonic map from confidence to share correct, learnt on labels simulated
                    from the fitted model and refitted (parametric bootstrap), no temperature
    oracle T        the temperature that maximises the likelihood of the GOLD answers, per
                    data set: the best any temperature can do, a floor for the family
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from bench.bench_quality import DATA, load_labels, read_rows
from bench.bench_sim import REGIMES, simulate
from bench.machine import cpu_model
from quality import methods
from quality.aggregate import aggregate
from quality.choose import CANDIDATES, FOLDS, TEMPERATURES, _hashes, _mix, _temper, _worker_model
from quality.choose import run as run_method
from quality.labels import BoolArray, FloatArray, IntArray, Labels
from quality.methods import prepare

GAP = 0.05  # the bin bound
STRENGTHS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
FLOORS = (0.0, 0.005, 0.01, 0.02, 0.05, 0.1)
T = TypeVar("T")
ORACLE_T = tuple(float(t) for t in np.exp(np.linspace(np.log(0.5), np.log(16.0), 40)))


@dataclass(frozen=True)
class Case:
    """One data set: its labels, which tasks are scored and their true class."""

    kind: str  # "dev" or "sim"
    name: str
    labels: Labels
    scored: IntArray
    truth: IntArray  # class index per scored task; -1 where gold names a class nobody gave


def cases(data: Path, tasks: int) -> Iterator[Case]:
    """The dev sets under `data`, then seed 0 of every simulated regime."""
    for folder in sorted(p for p in data.iterdir() if (p / "labels.csv").exists()):
        gold = {r["task"]: r["label"] for r in read_rows(folder / "gold.csv")}
        labels = load_labels(folder / "labels.csv")
        scored = np.array([i for i, t in enumerate(labels.tasks) if t in gold], dtype=np.int64)
        index = {c: i for i, c in enumerate(labels.classes)}
        truth = np.array([index.get(gold[labels.tasks[i]], -1) for i in scored], dtype=np.int64)
        yield Case("dev", folder.name, labels, scored, truth)
    for regime in REGIMES:
        labels, truth = simulate(regime, tasks, 0)
        yield Case("sim", regime.name, labels, np.arange(labels.n_tasks), truth)


def folds(labels: Labels) -> IntArray:
    """Each label's fold, as quality.choose assigns it."""
    task_hash, worker_hash = _hashes(labels, np.random.default_rng(0))
    mixed = _mix(task_hash[labels.task] ^ (worker_hash[labels.worker] * np.uint64(3)))
    return (mixed % np.uint64(FOLDS)).astype(np.int64)


def held_out(labels: Labels, method: str, fold: IntArray) -> tuple[FloatArray, FloatArray]:
    """Every label predicted by `method` fitted without its fold: (posterior rows of its task,
    P(its label | each true class)), both (labels, K), in fold order."""
    posts, likes = [], []
    for f in range(FOLDS):
        hidden = fold == f
        fitted = run_method(prepare(labels.subset(~hidden), None), method)
        t, w, y = labels.task[hidden], labels.worker[hidden], labels.label[hidden]
        posts.append(fitted.posterior[t])
        likes.append(_worker_model(fitted, labels, t, w, y))
    return np.concatenate(posts), np.concatenate(likes)


def log_score(post: FloatArray, like: FloatArray) -> FloatArray:
    """log P(each held-out label) under the predictive sum_k post(k) P(y | k)."""
    out: FloatArray = np.log(np.maximum((post * like).sum(axis=1), 1e-300))
    return out


def best_temperature(post: FloatArray, like: FloatArray) -> tuple[float, FloatArray]:
    """The grid temperature that best predicts the held-out labels, and its per-label scores."""
    scored = [(log_score(_temper(post, t), like), t) for t in TEMPERATURES]
    scores, temp = max(scored, key=lambda s: float(s[0].mean()))
    return temp, scores


def accuracy(case: Case, answer: IntArray) -> float:
    """Percent of the scored tasks answered with their true class."""
    return 100.0 * float(np.mean(answer[case.scored] == case.truth))


def stack_weights(prob: FloatArray, rounds: int = 500) -> FloatArray:
    """Mixture weights maximising sum log(w @ prob) over the columns (EM; rows: candidates)."""
    w = np.full(len(prob), 1.0 / len(prob))
    for _ in range(rounds):
        share = w[:, None] * prob
        w = (share / share.sum(axis=0)).mean(axis=1)
    return w


def with_strength(strength: float, run: Callable[[], T]) -> T:
    """`run()` with hds's prior strength set to `strength` (restored afterwards)."""
    saved = methods.HDS_ROW_STRENGTH
    methods.HDS_ROW_STRENGTH = strength
    try:
        return run()
    finally:
        methods.HDS_ROW_STRENGTH = saved


def rules(case: Case) -> dict[str, float]:
    """Accuracy of every gold-free rule, and of every candidate, on one data set."""
    labels = case.labels
    fold = folds(labels)
    prep = prepare(labels, None)
    fits = {m: run_method(prep, m) for m in CANDIDATES}
    temps, scores = {}, {}
    for m in CANDIDATES:
        temps[m], scores[m] = best_temperature(*held_out(labels, m, fold))
    out = {m: accuracy(case, fits[m].label) for m in CANDIDATES}
    out["auto"] = accuracy(case, aggregate(labels, "auto").label)
    top = max(CANDIDATES, key=lambda m: float(scores[m].mean()))
    out["ll-best"] = out[top]
    tempered = np.stack([_temper(fits[m].posterior, temps[m]) for m in CANDIDATES])
    w = stack_weights(np.exp(np.stack([scores[m] for m in CANDIDATES])))
    out["stacking"] = accuracy(case, np.einsum("m,mtk->tk", w, tempered).argmax(axis=1))
    out["mean"] = accuracy(case, tempered.mean(axis=0).argmax(axis=1))
    answers = {m: fits[m].label for m in CANDIDATES}
    differs = {m: sum(np.mean(answers[m] != answers[o]) for o in CANDIDATES) for m in CANDIDATES}
    out["medoid"] = out[min(CANDIDATES, key=lambda m: differs[m])]
    k = labels.n_classes
    votes = np.stack([np.stack(list(answers.values())) == c for c in range(k)], axis=-1).sum(0)
    out["vote"] = accuracy(case, (votes + 0.1 * fits["hds"].posterior).argmax(axis=1))

    def strength_score(s: float) -> FloatArray:
        return with_strength(s, lambda: best_temperature(*held_out(labels, "hds", fold))[1])

    chosen = max(STRENGTHS, key=lambda s: float(strength_score(s).mean()))
    out["hds-strength"] = accuracy(
        case, with_strength(chosen, lambda: run_method(prep, "hds").label)
    )
    return out


RULES = ("hds", "auto", "ll-best", "stacking", "mean", "medoid", "vote", "hds-strength")


def accuracy_part(data: Path, tasks: int) -> int:
    """Print every rule on every data set, the means and the verdict against the best single."""
    table: dict[str, dict[str, float]] = {}
    kinds: dict[str, str] = {}
    for case in cases(data, tasks):
        table[case.name] = rules(case)
        kinds[case.name] = case.kind
        print(f"  {case.name} done", file=sys.stderr)
    print("accuracy %: dev sets (gold), then seed 0 of every simulated regime (truth)")
    print("| data set | " + " | ".join([*CANDIDATES, *RULES[1:]]) + " |")
    print("|---" * (len(CANDIDATES) + len(RULES)) + "|")
    columns = [*CANDIDATES, *RULES[1:]]
    for kind in ("dev", "sim"):
        names = [n for n in table if kinds[n] == kind]
        for n in names:
            print(f"| {n} | " + " | ".join(f"{table[n][c]:.2f}" for c in columns) + " |")
        means = {c: float(np.mean([table[n][c] for n in names])) for c in columns}
        print(f"| **{kind} mean** | " + " | ".join(f"{means[c]:.2f}" for c in columns) + " |")
        best = max(CANDIDATES, key=lambda c: means[c])
        above = [r for r in RULES[1:] if means[r] > means[best]]
        print(
            f"{kind}: best single method {best} {means[best]:.2f}; rules above it: "
            f"{', '.join(above) or 'none'}"
        )
    return 0


def reliability(conf: FloatArray, ok: BoolArray) -> tuple[float, float, list[str]]:
    """ECE, the largest bin gap and the table rows, over 10 bins of equal count."""
    order = np.argsort(conf, kind="stable")
    conf, right = conf[order], ok[order].astype(np.float64)
    ece, worst, rows = 0.0, 0.0, []
    for idx in np.array_split(np.arange(len(conf)), 10):
        c, a = float(conf[idx].mean()), float(right[idx].mean())
        ece += len(idx) * abs(a - c)
        worst = max(worst, abs(a - c))
        rows.append(
            f"| {conf[idx].min():.3f}-{conf[idx].max():.3f} | {c:.3f} | {a:.3f} | {a - c:+.3f} |"
        )
    return ece / len(conf), worst, rows


def isotonic(x: FloatArray, y: BoolArray) -> tuple[FloatArray, FloatArray]:
    """Pool-adjacent-violators fit of y on x: block left edges and block means."""
    order = np.argsort(x, kind="stable")
    edges: list[float] = []
    means: list[float] = []
    weights: list[float] = []
    for xi, yi in zip(x[order], y[order].astype(np.float64), strict=True):
        edges.append(float(xi))
        means.append(float(yi))
        weights.append(1.0)
        while len(means) > 1 and means[-2] > means[-1]:
            w = weights[-2] + weights[-1]
            means[-2:] = [(means[-2] * weights[-2] + means[-1] * weights[-1]) / w]
            weights[-2:] = [w]
            edges.pop()
    return np.array(edges), np.array(means)


def bootstrap_confidence(labels: Labels, method: str, posterior: FloatArray) -> FloatArray:
    """Confidence mapped through the isotonic fit learnt on two data sets simulated from the
    fitted model (its truth drawn from each task's posterior, labels from the worker model)."""
    fitted = run_method(prepare(labels, None), method)
    rng = np.random.default_rng(1)
    k = labels.n_classes
    conf, right = [], []
    for _ in range(2):
        truth = np.minimum(
            (rng.random(labels.n_tasks)[:, None] > posterior.cumsum(1)).sum(1), k - 1
        )
        rows = np.stack(
            [
                _worker_model(fitted, labels, labels.task, labels.worker, np.full(labels.n, y))
                for y in range(k)
            ],
            axis=-1,
        )
        given = rows[np.arange(labels.n), truth[labels.task]]
        given /= given.sum(axis=1, keepdims=True)
        label = np.minimum((rng.random(labels.n)[:, None] > given.cumsum(1)).sum(1), k - 1)
        fake = Labels.from_indices(
            labels.task,
            labels.worker,
            label,
            n_tasks=labels.n_tasks,
            n_workers=labels.n_workers,
            n_classes=k,
        )
        refit = run_method(prepare(fake, None), method)
        conf.append(refit.posterior.max(axis=1))
        right.append(refit.posterior.argmax(axis=1) == truth)
    edges, means = isotonic(np.concatenate(conf), np.concatenate(right))
    at = np.clip(
        np.searchsorted(edges, posterior.max(axis=1), side="right") - 1, 0, len(means) - 1
    )
    out: FloatArray = means[at]
    return out


def families(case: Case) -> dict[str, FloatArray]:
    """Each family's confidence for the scored tasks (auto's chosen method and answers)."""
    labels = case.labels
    result = aggregate(labels, "auto")
    method = result.method.removeprefix("auto:")
    raw = run_method(prepare(labels, None), method).posterior
    post, like = held_out(labels, method, folds(labels))
    k = labels.n_classes
    floored = max(
        ((t, e) for t in TEMPERATURES for e in FLOORS),
        key=lambda te: float(
            log_score((1 - te[1]) * _temper(post, te[0]) + te[1] / k, like).mean()
        ),
    )
    s = case.scored
    ok = case.truth >= 0
    gold_t = max(
        ORACLE_T,
        key=lambda t: float(
            np.log(np.maximum(_temper(raw, t)[s[ok], case.truth[ok]], 1e-300)).mean()
        ),
    )
    t, e = floored
    return {
        "auto": result.confidence[s],
        "T+floor": ((1 - e) * _temper(raw, t) + e / k).max(axis=1)[s],
        "bootstrap": bootstrap_confidence(labels, method, raw)[s],
        "oracle T": _temper(raw, gold_t).max(axis=1)[s],
        "right": (result.label[s] == case.truth).astype(np.float64),
    }


def calibration_part(data: Path, tasks: int) -> int:
    """Print each family's pooled reliability and verdict, and its ECE on the dev sets alone."""
    got: dict[str, list[FloatArray]] = {}
    dev: dict[str, list[FloatArray]] = {}
    for case in cases(data, tasks):
        for name, values in families(case).items():
            got.setdefault(name, []).append(values)
            if case.kind == "dev":
                dev.setdefault(name, []).append(values)
        print(f"  {case.name} done", file=sys.stderr)
    right = np.concatenate(got.pop("right")).astype(bool)
    dev_right = np.concatenate(dev.pop("right")).astype(bool)
    print(f"pooled: dev sets and seed 0 of every regime, {len(right):,} answers, 10 bins")
    print("| family | ECE | largest bin gap | every bin within 5 points | ECE, dev sets alone |")
    print("|---|---|---|---|---|")
    tables = {}
    for name, parts in got.items():
        ece, worst, rows = reliability(np.concatenate(parts), right)
        dev_ece = reliability(np.concatenate(dev[name]), dev_right)[0]
        tables[name] = rows
        verdict = "yes" if worst <= GAP else "no"
        print(f"| {name} | {ece:.3f} | {worst:.3f} | {verdict} | {dev_ece:.3f} |")
    for name, rows in tables.items():
        print(
            f"\n{name}:\n| confidence | mean confidence | share correct | gap |\n|---|---|---|---|"
        )
        print("\n".join(rows))
    return 0


def main() -> int:
    """Parse the arguments and run the parts asked for."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_floor", description=__doc__)
    parser.add_argument(
        "part", nargs="?", choices=("accuracy", "calibration", "both"), default="both"
    )
    parser.add_argument("--data", type=Path, default=DATA, help="folder of dev datasets")
    parser.add_argument("--tasks", type=int, default=2000, help="tasks per simulated data set")
    args = parser.parse_args()
    if not args.data.is_dir():
        parser.error(f"no datasets at {args.data}: pass --data FOLDER")
    print("$ python -m bench.bench_floor " + shlex.join(sys.argv[1:]))
    print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    status = 0
    if args.part in ("accuracy", "both"):
        status |= accuracy_part(args.data, args.tasks)
    if args.part in ("calibration", "both"):
        status |= calibration_part(args.data, args.tasks)
    return status


if __name__ == "__main__":
    sys.exit(main())
