"""Benchmark: consensus methods of `quality.aggregate` against crowd-kit 1.4.2 in the same run.

Three subcommands (crowd-kit, scikit-learn<1.8 and pandas must be installed: the `bench` extra):

    python -m bench.bench_quality accuracy          # every method on ../shared/crowd-data
    python -m bench.bench_quality speed             # 1,000,000 synthetic labels (minutes)
    python -m bench.bench_quality speed --labels 100000 --seed 2
    python -m bench.bench_quality record-fixture    # rewrite tests/quality/fixtures/

accuracy: our methods and crowd-kit's MV, Wawa, ZeroBasedSkill, DawidSkene, OneCoinDawidSkene,
GLAD and MACE (defaults) on every dataset under --data (labels.csv worker,task,label and gold.csv
task,label, all read as strings), accuracy in % over the tasks that have both labels and gold.
One table with a mean row; the target is met when our `auto` mean is at least the mean of
crowd-kit's best single method. Gold is only used to score, never to choose.

speed: our `ds` against crowd-kit's `DawidSkene` (defaults: 100 iterations, tol 1e-5) on
synthetic data; our `auto` is shown too, not judged. The generator (deterministic in --seed):
--labels / 5 tasks, each labelled by 5 distinct workers out of --labels / 200 (200,000 tasks
and 5,000 workers at the default 1,000,000 labels); 5 classes with prior (0.3, 0.25, 0.2, 0.15,
0.1); 10% of the workers are spammers who answer uniformly at random; every other worker has an
accuracy drawn from Beta(6, 2) (mean 0.75) and spreads mistakes evenly over the other classes.
Each method runs in a child process of its own that loads the same .npy files, so the peak
memory is its own: "peak" is VmHWM (ru_maxrss where /proc is missing) at the child's end,
"+base" that minus the RSS after the imports (so it includes the method's input data, listed
apart as "input"), and "fit" the rise above the RSS with the input built, measured by resetting
VmHWM through /proc/self/clear_refs just before the fit (blank where the kernel refuses).
Seconds are the median of --repeat fits (3) in that child: the machine may be shared. Targets:
ours at least 10x faster, at most 1/3 of crowd-kit's "+base" peak, accuracy against
the generated truth equal within 0.1 point.

record-fixture: the first 300 tasks (in file order) of snow_rte and act_cf, their labels, gold
answers and crowd-kit's MV and DawidSkene answers, written to tests/quality/fixtures/ for the
tests, which must run without crowd-kit or the shared data.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.child import ChildFailed, peak_mb, rss_mb, run_child, status_mb
from bench.machine import cpu_model

if TYPE_CHECKING:
    import pandas as pd

    from quality.labels import Labels

# crowd-kit and pandas are imported inside the functions that use them: the child that runs
# our method must not carry them in its RSS.

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "crowd-data"
FIXTURES = ROOT / "tests" / "quality" / "fixtures"
FIXTURE_SETS = ("snow_rte", "act_cf")
FIXTURE_TASKS = 300
CROWDKIT_METHODS = (
    "MajorityVote",
    "Wawa",
    "ZeroBasedSkill",
    "DawidSkene",
    "OneCoinDawidSkene",
    "GLAD",
    "MACE",
)
SHORT = {
    "MajorityVote": "ck:MV",
    "Wawa": "ck:Wawa",
    "ZeroBasedSkill": "ck:ZBS",
    "DawidSkene": "ck:DS",
    "OneCoinDawidSkene": "ck:OCDS",
    "GLAD": "ck:GLAD",
    "MACE": "ck:MACE",
}
SPEED_TARGET = 10.0
MEMORY_TARGET = 1 / 3
ACCURACY_GAP = 0.1  # points
K_SYNTH = 5
LABELS_PER_TASK = 5
LABELS_PER_WORKER = 200
CLASS_PRIOR = (0.3, 0.25, 0.2, 0.15, 0.1)
SPAMMER_SHARE = 0.1
ACCURACY_BETA = (6.0, 2.0)


# --------------------------------------------------------------------------- data


def read_rows(path: Path) -> list[dict[str, str]]:
    """A CSV file as a list of dicts, every value a string."""
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def load_labels(path: Path) -> Labels:
    """labels.csv (worker,task,label) as `Labels`."""
    from quality.labels import Labels

    rows = read_rows(path)
    return Labels.from_strings(
        [r["worker"] for r in rows], [r["task"] for r in rows], [r["label"] for r in rows]
    )


def crowdkit_frame(path: Path) -> pd.DataFrame:
    """labels.csv as crowd-kit wants it: columns worker, task, label, all strings."""
    import pandas as pd

    return pd.read_csv(path, dtype=str, keep_default_na=False)[["worker", "task", "label"]]


def crowdkit_method(name: str) -> Any:
    """A crowd-kit aggregator with its defaults."""
    from crowdkit import aggregation

    return getattr(aggregation, name)()


# --------------------------------------------------------------------------- accuracy


def accuracy_table(data: Path) -> int:
    """Every method on every dataset under `data`; print the table and whether auto meets it."""
    from quality.aggregate import METHODS, aggregate

    sets = sorted(p.name for p in data.iterdir() if (p / "labels.csv").exists())
    if not sets:
        print(f"no datasets under {data}")
        return 1
    ours = list(METHODS)
    columns = [*ours, *(SHORT[m] for m in CROWDKIT_METHODS)]
    table: dict[str, dict[str, float]] = {}
    chosen: dict[str, str] = {}
    conf_all: list[np.ndarray] = []
    ok_all: list[np.ndarray] = []
    for name in sets:
        folder = data / name
        gold = {r["task"]: r["label"] for r in read_rows(folder / "gold.csv")}
        labels = load_labels(folder / "labels.csv")
        scored = [i for i, t in enumerate(labels.tasks) if t in gold]
        truth = [gold[labels.tasks[i]] for i in scored]
        row: dict[str, float] = {}
        for method in ours:
            result = aggregate(labels, method)
            got = [labels.classes[c] if c >= 0 else "" for c in result.label[scored]]
            hits = [g == t for g, t in zip(got, truth, strict=True)]
            row[method] = 100.0 * np.mean(hits)
            if method == "auto":
                chosen[name] = result.choice
                conf_all.append(result.confidence[scored])
                ok_all.append(np.array(hits))
        frame = crowdkit_frame(folder / "labels.csv")
        for ck in CROWDKIT_METHODS:
            predicted = crowdkit_method(ck).fit_predict(frame)
            got = [str(predicted.get(labels.tasks[i], "")) for i in scored]
            row[SHORT[ck]] = 100.0 * np.mean([g == t for g, t in zip(got, truth, strict=True)])
        table[name] = row
        print(f"  {name}: {len(scored)} tasks with gold, {labels.n} labels", file=sys.stderr)
    means = {c: float(np.mean([table[s][c] for s in sets])) for c in columns}
    width = max(len(s) for s in [*sets, "best per set"]) + 2
    print("accuracy % on gold tasks (ours, then crowd-kit 1.4.2 'ck:' with defaults)")
    print("".ljust(width) + "".join(f"{c:>8}" for c in columns))
    for name in sets:
        print(name.ljust(width) + "".join(f"{table[name][c]:8.2f}" for c in columns))
    print("mean".ljust(width) + "".join(f"{means[c]:8.2f}" for c in columns))
    ck_cols = [SHORT[m] for m in CROWDKIT_METHODS]
    best_ck = max(ck_cols, key=lambda c: means[c])
    best_ours = max((m for m in ours if m != "auto"), key=lambda c: means[c])
    per_set = float(np.mean([max(table[s][c] for c in ck_cols) for s in sets]))
    print(f"crowd-kit best single method: {best_ck} {means[best_ck]:.2f}")
    print(f"crowd-kit best per dataset, averaged: {per_set:.2f}")
    print(f"our best single method: {best_ours} {means[best_ours]:.2f}")
    best_single = max((m for m in ours if m != "auto"), key=lambda c: means[c])
    gaps = {s: table[s]["auto"] - max(table[s][m] for m in ours if m != "auto") for s in sets}
    for name in sets:
        print(f"{name}: {chosen[name]}; auto - best of ours there {gaps[name]:+.2f}")
        within = table[name]["auto"] - table[name][best_single]
        print(f"  auto - {best_single} (best single by mean) {within:+.2f} (target >= -0.3)")
    from bench.bench_sim import auto_answers, reliability

    dev_conf, dev_ok = np.concatenate(conf_all), np.concatenate(ok_all)
    reliability(dev_conf, dev_ok, "auto, dev datasets")
    # The measure: pooled over the dev datasets and simulated data (one seed of every
    # regime of bench/bench_sim.py, 2,000 tasks each)
    sim_conf, sim_ok = auto_answers(2000, 1)
    reliability(
        np.concatenate([dev_conf, sim_conf]),
        np.concatenate([dev_ok, sim_ok]),
        "auto, dev datasets and simulated data pooled",
    )
    met = means["auto"] >= means[best_ck]
    verdict = "met" if met else "NOT met"
    print(f"target (our auto mean {means['auto']:.2f} >= {means[best_ck]:.2f}): {verdict}")
    return 0


# --------------------------------------------------------------------------- speed


def synthesize(n_labels: int, seed: int) -> dict[str, np.ndarray]:
    """The speed data set described in the module docstring: task, worker, label, truth."""
    rng = np.random.default_rng(seed)
    n_tasks = max(n_labels // LABELS_PER_TASK, 1)
    n_workers = max(n_labels // LABELS_PER_WORKER, 2 * LABELS_PER_TASK)
    truth = rng.choice(K_SYNTH, size=n_tasks, p=CLASS_PRIOR).astype(np.int64)
    accuracy = rng.beta(*ACCURACY_BETA, size=n_workers)
    spammer = rng.random(n_workers) < SPAMMER_SHARE
    accuracy[spammer] = 1.0 / K_SYNTH
    # Distinct workers per task: base + j * step (mod n_workers) with j * step < n_workers.
    base = rng.integers(n_workers, size=n_tasks)
    step = rng.integers(1, n_workers // LABELS_PER_TASK, size=n_tasks, endpoint=True)
    j = np.arange(LABELS_PER_TASK)
    worker = ((base[:, None] + j[None, :] * step[:, None]) % n_workers).ravel()
    task = np.repeat(np.arange(n_tasks), LABELS_PER_TASK)
    right = rng.random(len(task)) < accuracy[worker]
    wrong = (truth[task] + rng.integers(1, K_SYNTH, size=len(task))) % K_SYNTH
    label = np.where(right, truth[task], wrong)
    label[spammer[worker]] = rng.integers(K_SYNTH, size=int(spammer[worker].sum()))
    return {
        "task": task.astype(np.int64),
        "worker": worker.astype(np.int64),
        "label": label.astype(np.int64),
        "truth": truth,
    }


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux clear_refs); False where that is refused."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        return False
    peak, rss = status_mb("VmHWM"), status_mb("VmRSS")
    return peak is not None and rss is not None and peak <= rss + 1.0


def child(impl: str, folder: Path, repeat: int) -> dict[str, Any]:
    """One timed fit in this process: our ds or auto, or crowd-kit's DawidSkene, on the data."""
    ours = impl in ("ds", "auto")
    if ours:
        from quality.aggregate import aggregate
        from quality.labels import Labels
    else:
        import pandas as pd
        from crowdkit.aggregation import DawidSkene
    base = rss_mb()
    arrays = {k: np.load(folder / f"{k}.npy") for k in ("task", "worker", "label")}
    truth = np.load(folder / "truth.npy")
    if ours:
        labels = Labels.from_indices(arrays["task"], arrays["worker"], arrays["label"])
    else:
        frame = pd.DataFrame(arrays)
    del arrays
    ready = rss_mb()
    reset = _reset_peak()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        if ours:
            result = aggregate(labels, impl)
            predicted, iterations = result.label, result.iterations
            del result  # the next fit's peak must not include this one's output
        else:
            model = DawidSkene()
            series = model.fit_predict(frame)
            iterations = len(model.loss_history_)
            del model  # likewise
        times.append(time.perf_counter() - t0)
    peak = peak_mb()
    if not ours:
        predicted = series.reindex(np.arange(len(truth))).fillna(-1).to_numpy(np.int64)
    seconds = float(np.median(times))
    return {
        "seconds": seconds,
        "iterations": iterations,
        "accuracy": 100.0 * float(np.mean(predicted == truth)),
        "base_mb": base,
        "input_mb": ready - base,
        "peak_mb": peak,
        "fit_mb": peak - ready if reset else None,
    }


def _spawn(impl: str, folder: Path, repeat: int) -> dict[str, Any]:
    try:
        return run_child("bench.bench_quality", "_child", impl, str(folder), str(repeat))
    except ChildFailed as exc:
        raise SystemExit(f"{impl} child failed (exit {exc.returncode}):\n{exc.tail}") from None


def speed(n_labels: int, seed: int, repeat: int) -> int:
    """Our ds against crowd-kit's DawidSkene on synthetic labels; print figures and targets."""
    data = synthesize(n_labels, seed)
    n_tasks, n_workers = len(data["truth"]), int(data["worker"].max()) + 1
    print(
        f"data: {len(data['task']):,} labels, {n_tasks:,} tasks x {LABELS_PER_TASK}, "
        f"{n_workers:,} workers, {K_SYNTH} classes, seed {seed}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
        folder = Path(tmp)
        for key, arr in data.items():
            np.save(folder / f"{key}.npy", arr)
        del data
        runs = {
            "ours ds": _spawn("ds", folder, repeat),
            "crowd-kit DS": _spawn("crowdkit", folder, repeat),
            "ours auto": _spawn("auto", folder, repeat),  # not judged: what the default costs
        }
    print(
        f"{'':14}{'seconds':>9}{'iter':>6}{'acc %':>8}{'input MB':>10}{'peak MB':>9}"
        f"{'+base MB':>10}{'fit MB':>8}"
    )
    for name, r in runs.items():
        fit = f"{r['fit_mb']:8.0f}" if r["fit_mb"] is not None else f"{'':>8}"
        print(
            f"{name:14}{r['seconds']:9.2f}{r['iterations']:6d}{r['accuracy']:8.2f}"
            f"{r['input_mb']:10.0f}{r['peak_mb']:9.0f}{r['peak_mb'] - r['base_mb']:10.0f}{fit}"
        )
    ours, ck = runs["ours ds"], runs["crowd-kit DS"]
    ratio = ck["seconds"] / ours["seconds"]
    mem = (ours["peak_mb"] - ours["base_mb"]) / max(ck["peak_mb"] - ck["base_mb"], 1e-9)
    gap = abs(ours["accuracy"] - ck["accuracy"])
    print(f"speed-up {ratio:.1f}x (target >= {SPEED_TARGET:.0f}x): {_verdict(ratio >= 10)}")
    print(f"memory ratio {mem:.2f} (target <= 0.33): {_verdict(mem <= MEMORY_TARGET)}")
    print(f"accuracy gap {gap:.2f} points (target <= 0.1): {_verdict(gap <= ACCURACY_GAP)}")
    return 0


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


# --------------------------------------------------------------------------- fixtures


def record_fixture(data: Path) -> int:
    """Write the slices and crowd-kit's MV and DawidSkene answers under tests/quality/fixtures."""
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for name in FIXTURE_SETS:
        rows = read_rows(data / name / "labels.csv")
        first: list[str] = []
        for r in rows:
            if r["task"] not in first:
                first.append(r["task"])
            if len(first) == FIXTURE_TASKS:
                break
        keep = set(first)
        sliced = [r for r in rows if r["task"] in keep]
        with (FIXTURES / f"{name}_labels.csv").open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["worker", "task", "label"])
            w.writerows([r["worker"], r["task"], r["label"]] for r in sliced)
        gold = {r["task"]: r["label"] for r in read_rows(data / name / "gold.csv")}
        with (FIXTURES / f"{name}_gold.csv").open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["task", "label"])
            w.writerows([t, gold[t]] for t in first if t in gold)
        frame = crowdkit_frame(FIXTURES / f"{name}_labels.csv")
        mv = crowdkit_method("MajorityVote").fit_predict(frame)
        ds = crowdkit_method("DawidSkene").fit_predict(frame)
        with (FIXTURES / f"{name}_crowdkit.csv").open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["task", "mv", "ds"])
            w.writerows([t, mv[t], ds[t]] for t in first)
        print(f"{name}: {len(first)} tasks, {len(sliced)} labels -> {FIXTURES}")
    return 0


# --------------------------------------------------------------------------- main


def _machine() -> str:
    try:
        ck = version("crowd-kit")
    except PackageNotFoundError:
        ck = "not installed"
    return (
        f"machine: {cpu_model()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"numpy {np.__version__}, crowd-kit {ck}"
    )


def main() -> int:
    """Parse the subcommand and run it."""
    if len(sys.argv) == 5 and sys.argv[1] == "_child":
        print(json.dumps(child(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]))))
        return 0
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_quality",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    acc = sub.add_parser("accuracy", help="every method on the real datasets")
    acc.add_argument("--data", type=Path, default=DATA, help="folder of datasets")
    spd = sub.add_parser("speed", help="our ds against crowd-kit's DawidSkene, synthetic data")
    spd.add_argument("--labels", type=int, default=1_000_000, help="labels to generate")
    spd.add_argument("--seed", type=int, default=1, help="the generator's seed")
    spd.add_argument("--repeat", type=int, default=3, help="fits per method; median seconds")
    rec = sub.add_parser("record-fixture", help="rewrite tests/quality/fixtures from crowd-kit")
    rec.add_argument("--data", type=Path, default=DATA, help="folder of datasets")
    args = parser.parse_args()
    print("$ python -m bench.bench_quality " + shlex.join(sys.argv[1:]))
    print(_machine())
    if args.command == "accuracy":
        return accuracy_table(args.data)
    if args.command == "speed":
        if args.labels < 10 * LABELS_PER_TASK * LABELS_PER_TASK:
            parser.error("--labels must be at least 250")
        if args.repeat < 1:
            parser.error("--repeat must be at least 1")
        return speed(args.labels, args.seed, args.repeat)
    return record_fixture(args.data)


if __name__ == "__main__":
    sys.exit(main())
