"""`labelgram demo`: the whole labeling job against a local sandbox, with no token.

A sandbox Bot API server starts on 127.0.0.1, the real bot connects to it over HTTP, the
bundled example project is loaded and a simulated crowd labels every sample by pressing
buttons. At the end a summary shows throughput, latency, Bot API calls and accuracy.
"""

from __future__ import annotations

import asyncio
import math
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app import build_application, polling
from config.project import ProjectSpec, load_project_file
from config.settings import Settings
from quality.aggregate import aggregate
from quality.labels import Labels
from sandbox.crowd import Crowd, WorkerResult, mixed_profiles
from sandbox.server import RateLimits, SandboxServer
from services.importing import import_file
from storage.models import LabelRow, Role
from storage.repository import Repository

DEMO_DIR = Path(__file__).with_name("demo_data")
DEMO_PROJECT = DEMO_DIR / "project.toml"
MAX_SAMPLES = 600


@dataclass(frozen=True)
class DemoOptions:
    """What the demo runs."""

    workers: int = 12
    samples: int = 200
    overlap: int | None = None
    seed: int = 7
    telegram_limits: bool = False
    card_flow: str | None = None  # the project file's when None
    quiet: bool = False
    db_path: Path | None = None


class Progress:
    """A one-line progress bar on stderr (only when stderr is a terminal)."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total, self.done = total, 0
        self.enabled = not quiet and sys.stderr.isatty()
        self.started = time.perf_counter()

    def tick(self) -> None:
        """Count one label."""
        self.done += 1

    def draw(self, final: bool = False) -> None:
        """Redraw the bar."""
        if not self.enabled:
            return
        share = min(self.done / self.total, 1.0) if self.total else 1.0
        rate = self.done / max(time.perf_counter() - self.started, 1e-9)
        bar = "█" * int(share * 30) + "░" * (30 - int(share * 30))
        end = "\n" if final else ""
        sys.stderr.write(
            f"\r  {bar} {share:6.1%}  {self.done}/{self.total} labels  {rate:6.1f}/s{end}"
        )
        sys.stderr.flush()

    async def run(self) -> None:
        """Redraw until cancelled."""
        while True:
            self.draw()
            await asyncio.sleep(0.2)


def _check(opts: DemoOptions, overlap: int) -> str | None:
    if not 1 <= opts.samples <= MAX_SAMPLES:
        return (
            f"--samples must be between 1 and {MAX_SAMPLES} (the bundled data has {MAX_SAMPLES})"
        )
    if opts.workers < 1 or opts.workers > 500:
        return "--workers must be between 1 and 500"
    if not 1 <= overlap <= opts.workers:
        return f"--overlap must be between 1 and the number of workers ({opts.workers})"
    return None


async def run_demo(opts: DemoOptions) -> int:
    """Run the demo; the exit code is 0 when every sample got its labels."""
    spec = load_project_file(DEMO_PROJECT)
    overlap = opts.overlap or spec.overlap
    problem = _check(opts, overlap)
    if problem:
        print(f"labelgram demo: {problem}", file=sys.stderr)
        return 2
    spec = spec.model_copy(
        update={"overlap": overlap, "card_flow": opts.card_flow or spec.card_flow}
    )
    with tempfile.TemporaryDirectory(prefix="labelgram-demo-") as tmp:
        db_path = opts.db_path or Path(tmp) / "demo.db"
        limits = RateLimits() if opts.telegram_limits else RateLimits(None, 30, None, 20)
        async with SandboxServer(limits=limits) as sandbox:
            return await _run(opts, spec, db_path, sandbox)


async def _run(opts: DemoOptions, spec: ProjectSpec, db_path: Path, sandbox: SandboxServer) -> int:
    if spec.data is None:
        raise ValueError("the demo project names no data file")
    settings = Settings(
        token=sandbox.token,
        bot_api_url=sandbox.bot_api_url,
        bot_file_url=sandbox.file_url,
        db_path=db_path,
        rate_limit=opts.telegram_limits,
        admins=[],
    )
    repo = Repository(db_path)
    await repo.open()
    # The project is stored with its samples in one transaction, or not at all.
    async with repo.project_draft(spec) as project:
        report = await import_file(repo, project.id, spec.data, limit=opts.samples)
    code = await repo.create_invite(project.id, Role.WORKER)
    options = await repo.options(project.id)
    index = {o.key: o.idx for o in options}
    truths = await repo.truths(project.id)
    truth_by_text: dict[str, int] = {}
    for sample_id, key in truths.items():
        text = (await repo.sample(sample_id)).text
        if text:
            truth_by_text[text] = index[key]

    profiles = mixed_profiles(opts.workers)
    kinds = Counter(p.kind for p in profiles)
    print(f"Labelgram demo — sandbox Bot API on {sandbox.url} (no Telegram, no token)")
    print(
        f"Project “{project.name}”: {report.kept} samples, overlap {spec.overlap}, "
        f"{opts.workers} simulated workers "
        f"({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}); "
        f"sandbox rate limits {'like Telegram (30 msg/s)' if opts.telegram_limits else 'off'}"
    )
    progress = Progress(report.kept * spec.overlap, opts.quiet)
    app = build_application(settings, repo)
    async with polling(app):
        sandbox.reset_calls()
        crowd = Crowd(
            sandbox.url,
            code,
            truth_by_text,
            profiles,
            seed=opts.seed,
            on_label=progress.tick,
            min_read_s=spec.min_read,
        )
        drawer = asyncio.create_task(progress.run())
        started = time.perf_counter()
        try:
            results = await crowd.run()
        finally:
            elapsed = time.perf_counter() - started
            drawer.cancel()
            progress.draw(final=True)
        calls = dict(sandbox.calls)
        status = await repo.project_status(project.id)
        labels = await repo.live_labels(project.id)
        acc, ties = _majority_accuracy(labels, truths)
    _summary(
        results,
        status.states.work,
        status.states.done,
        len(labels),
        elapsed,
        calls,
        acc,
        ties,
    )
    _next_steps(opts.db_path, project.slug)
    errors = [r for r in results if r.error]
    if status.states.done < status.states.work or errors:
        for r in errors:
            print(f"  {r.name} stopped early: {r.error}", file=sys.stderr)
        print("labelgram demo: not every sample got its labels (see above)", file=sys.stderr)
        return 1
    return 0


def _next_steps(kept: Path | None, slug: str) -> None:
    """Where the demo's labels are, and what to try on them."""
    print()
    if kept is None:
        print(
            "The demo's database was temporary. Keep it with `labelgram --db demo.db demo`,"
            " then try:"
        )
        db = "demo.db"
    else:
        print(f"The demo's labels are kept in {kept}. Try:")
        db = str(kept)
    print(f"  labelgram --db {db} export {slug}             # labels + dataset card")
    print(f"  labelgram --db {db} export {slug} --format label-studio -o ls/")
    print(f"  labelgram --db {db} audit {slug} --kind worker  # who was flagged, and why")
    print(f"  labelgram --db {db} backup backups/")


def _majority_accuracy(labels: list[LabelRow], truths: dict[int, str]) -> tuple[float, int]:
    """Majority vote's share of right answers over the samples with a known one, and how many
    samples tie."""
    if not labels:
        return math.nan, 0
    crowd = Labels.from_strings(
        [str(lb.worker_id) for lb in labels],
        [str(lb.sample_id) for lb in labels],
        [lb.option_key for lb in labels],
    )
    consensus = aggregate(crowd, "mv")
    right = judged = 0
    for task, answer in zip(crowd.tasks, consensus.label.tolist(), strict=True):
        truth = truths.get(int(task))
        if truth is not None and answer >= 0:
            judged += 1
            right += crowd.classes[answer] == truth
    return (right / judged if judged else math.nan), int(consensus.tie.sum())


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else math.nan


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _summary(
    results: list[WorkerResult],
    samples: int,
    finished: int,
    n_labels: int,
    elapsed: float,
    calls: dict[str, int],
    acc: float,
    ties: int,
) -> None:
    latencies = [x for r in results for x in r.latencies]
    total_calls = sum(calls.values())
    print()
    print(f"Samples finished:   {finished}/{samples}")
    print(f"Labels:             {n_labels} in {elapsed:.1f} s = {n_labels / elapsed:.1f} labels/s")
    print(
        f"Tap → next sample:  p50 {_ms(_percentile(latencies, 50))}, "
        f"p99 {_ms(_percentile(latencies, 99))}"
    )
    top = ", ".join(f"{m} {n}" for m, n in sorted(calls.items(), key=lambda kv: -kv[1])[:5])
    per_label = total_calls / n_labels if n_labels else 0
    print(f"Bot API calls:      {total_calls} ({per_label:.2f} per label): {top}")
    print(f"Majority vote:      {acc:.1%} correct against the bundled truth ({ties} ties)")
    print("Per worker:")
    for r in results:
        worker_acc = f"{r.correct / r.labels:6.1%}" if r.labels else "     -"
        print(
            f"  {r.name}  {r.profile.kind:<9} labels {r.labels:>4}  agree with truth "
            f"{worker_acc}  skipped {r.skipped:>2}  p50 {_ms(_percentile(r.latencies, 50))}"
        )
