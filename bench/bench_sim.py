"""Simulation study: `auto` against every single method on crowds the dev datasets do not cover.

    python -m bench.bench_sim study            # every regime, --seeds data sets each
    python -m bench.bench_sim study --seeds 3 --tasks 2000
    python -m bench.bench_sim cost             # auto's choice against one hds fit, 1M labels

study: each regime generates --seeds data sets (seed 0, 1, ...) of --tasks tasks from a known
truth; every method of ours and `auto` aggregate them; accuracy % against the truth, mean over
seeds. Regimes (what the five dev sets lack: they have 2-5 classes, 5-20 labels per task and
workers with dozens to hundreds of labels):

    sparse       workers give 1-3 labels each (a new crowd), 4 classes, 5 labels per task
    many         20 classes, 5 labels per task, 40 labels per worker
    spammers     40 % of workers answer uniformly at random, 3 classes, 5 per task
    adversarial  15 % of workers answer a fixed wrong class for each class, binary, 5 per task
    imbalance    class prior 0.85 / 0.1 / 0.05, workers confuse toward the common class
    two          2 labels per task, binary, 30 labels per worker
    ten          10 labels per task, 4 classes, confusion matrices with a confused pair

Honest workers: accuracy from Beta(6, 2), mistakes spread over the other classes unless the
regime says otherwise. Target: `auto` within 0.3 points of the best single method in every
regime (the best on that regime, chosen with the truth, a stricter bar than the method with the
best mean) and above the best single method on the mean over regimes. Calibration: every
`auto` answer pooled with its confidence, in bins of >= 200 answers (reliability table, ECE).

cost: one hds fit on 1,000,000 labels (bench.bench_quality's generator) against auto's choice
alone (`quality.choose.choose`) and auto as a whole, median of --repeat; target choice <= 5x.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bench.machine import cpu_model
from quality.aggregate import METHODS, aggregate
from quality.choose import choose
from quality.labels import BoolArray, FloatArray, IntArray, Labels

CONCRETE = tuple(m for m in METHODS if m != "auto")
GAP = 0.3  # points
COST_TARGET = 5.0
BIN = 200
ECE_TARGET = 0.05


@dataclass(frozen=True)
class Regime:
    """One kind of crowd: classes, labels per task and per worker, how workers answer."""

    name: str
    k: int
    per_task: int
    per_worker: float  # mean labels per worker
    make: Callable[[np.random.Generator, int, int], FloatArray]  # (rng, workers, k) -> conf
    prior: tuple[float, ...] | None = None


def _honest(rng: np.random.Generator, n: int, k: int) -> FloatArray:
    acc = rng.beta(6.0, 2.0, size=n)
    conf = np.repeat(((1.0 - acc) / (k - 1))[:, None, None], k, axis=1).repeat(k, axis=2)
    idx = np.arange(k)
    conf[:, idx, idx] = acc[:, None]
    return conf


def _spammers(share: float) -> Callable[[np.random.Generator, int, int], FloatArray]:
    def make(rng: np.random.Generator, n: int, k: int) -> FloatArray:
        conf = _honest(rng, n, k)
        conf[rng.random(n) < share] = 1.0 / k
        return conf

    return make


def _adversarial(rng: np.random.Generator, n: int, k: int) -> FloatArray:
    conf = _honest(rng, n, k)
    bad = rng.random(n) < 0.15
    flip = np.roll(np.eye(k), 1, axis=1) * 0.9 + 0.1 / k
    conf[bad] = flip / flip.sum(axis=1, keepdims=True)
    return conf


def _toward_common(rng: np.random.Generator, n: int, k: int) -> FloatArray:
    acc = rng.beta(6.0, 2.0, size=n)
    conf = np.zeros((n, k, k))
    for c in range(k):
        conf[:, c, c] = acc
        conf[:, c, 0] += (1.0 - acc) * (0.7 if c != 0 else 0.0)
        others = [j for j in range(k) if j != c]
        rest = (1.0 - acc) * (0.3 if c != 0 else 1.0) / len(others)
        for j in others:
            conf[:, c, j] += rest
    return conf


def _confused_pair(rng: np.random.Generator, n: int, k: int) -> FloatArray:
    conf = _honest(rng, n, k)
    mix = rng.beta(2.0, 3.0, size=n)  # how often a worker says 1 for a true 0
    conf[:, 0, :] = 0.0
    conf[:, 0, 0] = 1.0 - mix
    conf[:, 0, 1] = mix
    return conf


REGIMES = (
    Regime("sparse", 4, 5, 2.0, _honest),
    Regime("many", 20, 5, 40.0, _honest),
    Regime("spammers", 3, 5, 30.0, _spammers(0.4)),
    Regime("adversarial", 2, 5, 30.0, _adversarial),
    Regime("imbalance", 3, 5, 30.0, _toward_common, (0.85, 0.1, 0.05)),
    Regime("two", 2, 2, 30.0, _honest),
    Regime("ten", 4, 10, 60.0, _confused_pair),
)


def simulate(regime: Regime, n_tasks: int, seed: int) -> tuple[Labels, IntArray]:
    """Labels and truth of one data set of `regime` (deterministic in `seed`)."""
    rng = np.random.default_rng(seed)
    k = regime.k
    n_labels = n_tasks * regime.per_task
    n_workers = max(round(n_labels / regime.per_worker), regime.per_task * 2)
    prior = np.array(regime.prior) if regime.prior is not None else None
    truth = rng.choice(k, size=n_tasks, p=prior).astype(np.int64)
    conf = regime.make(rng, n_workers, k)
    # per_task distinct workers per task: base + j * step (mod n_workers)
    base = rng.integers(n_workers, size=n_tasks)
    step = rng.integers(1, max(n_workers // regime.per_task, 1), size=n_tasks, endpoint=True)
    j = np.arange(regime.per_task)
    worker = ((base[:, None] + j[None, :] * step[:, None]) % n_workers).ravel()
    task = np.repeat(np.arange(n_tasks), regime.per_task)
    cum = np.cumsum(conf[worker, truth[task]], axis=1)
    label = np.minimum((rng.random(len(task))[:, None] > cum).sum(axis=1), k - 1)
    labels = Labels.from_indices(
        task, worker, label, n_tasks=n_tasks, n_workers=n_workers, n_classes=k
    )
    return labels, truth


def study(n_tasks: int, seeds: int) -> int:
    """Every regime x seed; the accuracy table, the targets and auto's reliability table."""
    columns = [*CONCRETE, "auto"]
    table: dict[str, dict[str, float]] = {}
    chosen: dict[str, list[str]] = {}
    conf_all: list[FloatArray] = []
    ok_all: list[np.ndarray] = []
    for regime in REGIMES:
        acc: dict[str, list[float]] = {m: [] for m in columns}
        chosen[regime.name] = []
        for seed in range(seeds):
            labels, truth = simulate(regime, n_tasks, seed)
            for method in columns:
                result = aggregate(labels, method)
                acc[method].append(100.0 * float(np.mean(result.label == truth)))
                if method == "auto":
                    chosen[regime.name].append(result.method.removeprefix("auto:"))
                    conf_all.append(result.confidence)
                    ok_all.append(result.label == truth)
        table[regime.name] = {m: float(np.mean(v)) for m, v in acc.items()}
        print(f"  {regime.name}: {', '.join(chosen[regime.name])}", file=sys.stderr)
    names = [r.name for r in REGIMES]
    means = {m: float(np.mean([table[n][m] for n in names])) for m in columns}
    print(f"accuracy % against the simulated truth, {n_tasks} tasks, mean of {seeds} seeds")
    print("| regime | " + " | ".join(columns) + " | auto chose | best | auto - best |")
    print("|---" * (len(columns) + 4) + "|")
    met_all = True
    for n in names:
        row = table[n]
        best = max(CONCRETE, key=lambda m: row[m])
        gap = row["auto"] - row[best]
        met_all &= gap >= -GAP
        picks = ",".join(sorted(set(chosen[n]), key=chosen[n].index))
        cells = " | ".join(f"{row[m]:.2f}" for m in columns)
        print(f"| {n} | {cells} | {picks} | {best} | {gap:+.2f} |")
    cells = " | ".join(f"{means[m]:.2f}" for m in columns)
    best_mean = max(CONCRETE, key=lambda m: means[m])
    print(f"| mean | {cells} | | {best_mean} | {means['auto'] - means[best_mean]:+.2f} |")
    print(f"within {GAP} of the best method in every regime: {_verdict(met_all)}")
    above = means["auto"] > means[best_mean]
    print(
        f"auto mean {means['auto']:.2f} above best single {best_mean} {means[best_mean]:.2f}: "
        f"{_verdict(above)}"
    )
    reliability(np.concatenate(conf_all), np.concatenate(ok_all))
    return 0


def auto_answers(n_tasks: int, seeds: int) -> tuple[FloatArray, BoolArray]:
    """`auto`'s confidence and whether it is right, for every task of every regime and seed."""
    conf: list[FloatArray] = []
    right: list[BoolArray] = []
    for regime in REGIMES:
        for seed in range(seeds):
            labels, truth = simulate(regime, n_tasks, seed)
            result = aggregate(labels, "auto")
            conf.append(result.confidence)
            right.append(result.label == truth)
    return np.concatenate(conf), np.concatenate(right)


def reliability(conf: FloatArray, ok: np.ndarray, label: str = "auto, simulated") -> float:
    """Print a reliability table (bins of >= BIN answers by confidence) and return the ECE."""
    order = np.argsort(conf, kind="stable")
    conf, ok = conf[order], ok[order].astype(np.float64)
    bins = np.array_split(np.arange(len(conf)), max(len(conf) // BIN, 1))
    # merge bins to at most 10 rows of equal count, each >= BIN answers
    rows = np.array_split(np.arange(len(bins)), min(10, len(bins)))
    ece = 0.0
    print(f"reliability ({label}): {len(conf):,} answers")
    print("| confidence | answers | mean confidence | share correct | gap |")
    print("|---|---|---|---|---|")
    for row in rows:
        idx = np.concatenate([bins[i] for i in row])
        c, a = float(conf[idx].mean()), float(ok[idx].mean())
        ece += len(idx) * abs(c - a)
        print(
            f"| {conf[idx].min():.3f}-{conf[idx].max():.3f} | {len(idx):,} | {c:.3f} | "
            f"{a:.3f} | {a - c:+.3f} |"
        )
    ece /= max(len(conf), 1)
    print(f"ECE {ece:.4f} (target <= {ECE_TARGET}): {_verdict(ece <= ECE_TARGET)}")
    return ece


def cost(repeat: int) -> int:
    """Seconds of one hds fit, of auto's choice alone and of auto, on 1M synthetic labels."""
    from bench.bench_quality import synthesize

    data = synthesize(1_000_000, 1)
    labels = Labels.from_indices(data["task"], data["worker"], data["label"])
    runs: dict[str, list[float]] = {"hds fit": [], "auto's choice": [], "auto (choice + fit)": []}
    picked = ""
    for _ in range(repeat):
        t0 = time.perf_counter()
        aggregate(labels, "hds")
        t1 = time.perf_counter()
        picked = choose(labels).reason
        t2 = time.perf_counter()
        aggregate(labels, "auto")
        t3 = time.perf_counter()
        runs["hds fit"].append(t1 - t0)
        runs["auto's choice"].append(t2 - t1)
        runs["auto (choice + fit)"].append(t3 - t2)
    med = {k: float(np.median(v)) for k, v in runs.items()}
    print(
        f"1,000,000 labels, {labels.n_tasks:,} tasks, {labels.n_workers:,} workers; "
        f"median of {repeat}"
    )
    print("| | seconds | x one hds fit |")
    print("|---|---|---|")
    for k, v in med.items():
        print(f"| {k} | {v:.2f} | {v / med['hds fit']:.2f} |")
    ratio = med["auto's choice"] / med["hds fit"]
    print(
        f"choice {ratio:.2f}x one hds fit (target <= {COST_TARGET:g}x): "
        f"{_verdict(ratio <= COST_TARGET)}"
    )
    print(picked)
    return 0


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    """Parse the subcommand and run it."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_sim", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    st = sub.add_parser("study", help="every regime, every method")
    st.add_argument("--tasks", type=int, default=2000)
    st.add_argument("--seeds", type=int, default=3)
    co = sub.add_parser("cost", help="auto's choice against one hds fit on 1M labels")
    co.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print("$ python -m bench.bench_sim " + shlex.join(sys.argv[1:]))
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"numpy {np.__version__}"
    )
    if args.command == "study":
        if args.tasks < 100 or args.seeds < 1:
            parser.error("--tasks must be >= 100 and --seeds >= 1")
        return study(args.tasks, args.seeds)
    return cost(max(args.repeat, 1))


if __name__ == "__main__":
    sys.exit(main())
