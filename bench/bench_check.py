"""Benchmark: a scheduled quality check on a big project must not make any tap wait.

The issue's figure (benchmark 4): a project with 1,000,000 live labels (200,000 samples x
overlap 5 by 5,000 workers, 4 options) plus a set of samples still needing labels; the real
bot polls the sandbox Bot API while N simulated workers tap continuously. Tap -> next card
latency is measured (a) with no check running and (b) while the bot's own JobQueue runs
`quality_job` (-> `check_project`: load, aggregate, apply) on that project.

Target "no tap waits", concretely: during the check, tap p99 within 2x the baseline p99
(at least baseline + 20 ms, so a tiny baseline is not a hair trigger) and the worst tap under
250 ms. The bot's event-loop lag (a 10 ms ticker's overshoot) is printed beside it: it shows
whether the loop itself stalled (Python work or a lock on the loop) or a tap waited elsewhere.

The history goes in with raw sqlite3 after `Repository.open()` has migrated the file:
'done' assignments, labels copied from them (what the answered trigger would write; no
label events: the check does not read them), and the sample counters set to match
(n_labels = 5, need = target - n_labels). Samples are left status 'open', as before a first
check, so apply rewrites every one of them (the worst case). Rules: min_seconds = 0 so the
crowd's sub-second taps do not get it suspended mid-run; the other rules are the defaults.

    python -m bench.bench_check                     # 1,000,000 labels, 20 tapping workers
    python -m bench.bench_check --labels 100000 --workers 10 --baseline 5
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import platform
import random
import shlex
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench.machine import cpu_model
from config.project import ProjectSpec
from config.settings import Settings
from engine.stats import percentile
from storage.models import Role
from storage.repository import Repository

SLUG = "bench-check"
OVERLAP = 5
N_OPTIONS = 4
HISTORY_S = 30 * 86400.0
WORKER_ID_BASE = 5_000_000_000
P99_FACTOR = 2.0
P99_SLACK_S = 0.020
MAX_TAP_S = 0.250
TICK_S = 0.010


def spec() -> ProjectSpec:
    """Four options, overlap 5, gold off, min_seconds 0 (the crowd taps faster than 2 s)."""
    return ProjectSpec.model_validate(
        {
            "name": "Check benchmark",
            "slug": SLUG,
            "question": {"en": "Which class?"},
            "guide": {"en": "Pick the class named in the hint."},
            "overlap": OVERLAP,
            "assignment_timeout": 600.0,
            "options": [{"id": f"o{i}", "text": {"en": f"Class {i}"}} for i in range(N_OPTIONS)],
            "quality": {"gold_rate": 0.0, "rules": {"min_seconds": 0.0}},
        }
    )


# --------------------------------------------------------------------------- the database


async def _create(path: Path) -> tuple[int, str]:
    async with Repository(path) as repo:
        project = await repo.create_project(spec())
        invite = await repo.create_invite(project.id, Role.WORKER)
        return project.id, invite


def build(path: Path, labels: int, n_workers: int, n_open: int, seed: int) -> dict[str, Any]:
    """The project, its history of `labels` labels and `n_open` samples still wanted."""
    project_id, invite = asyncio.run(_create(path))
    rng = random.Random(seed)
    n_done = labels // OVERLAP
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = OFF")
    con.execute("PRAGMA synchronous = OFF")
    con.execute("PRAGMA cache_size = -1000000")
    option_ids = [
        r[0]
        for r in con.execute(
            "SELECT id FROM options WHERE project_id = ? ORDER BY idx", (project_id,)
        )
    ]
    start = time.time() - HISTORY_S
    workers = [WORKER_ID_BASE + i for i in range(n_workers)]
    # Most workers are decent, a few are spammers (the check should catch some of them).
    accuracy = [0.0 if rng.random() < 0.03 else rng.uniform(0.6, 0.95) for _ in workers]
    truths = [rng.randrange(N_OPTIONS) for _ in range(n_done + n_open)]
    con.execute("BEGIN")
    con.executemany(
        "INSERT INTO workers (id, first_name, language, current_project_id, created_at)"
        " VALUES (?, ?, 'en', ?, ?)",
        ((w, f"H{w - WORKER_ID_BASE}", project_id, start) for w in workers),
    )
    con.executemany(
        "INSERT INTO memberships (worker_id, project_id, role, joined_at)"
        " VALUES (?, ?, 'worker', ?)",
        ((w, project_id, start) for w in workers),
    )
    con.executemany(
        "INSERT INTO samples (project_id, ext_id, kind, text, target, n_labels, n_open, need,"
        " created_at) VALUES (?, ?, 'text', ?, ?, ?, 0, ?, ?)",
        (
            (
                project_id,
                f"c{i:08d}",
                f"Item {i}: a short text to classify. [hint {truths[i]}]",
                OVERLAP,
                OVERLAP if i < n_done else 0,
                0 if i < n_done else OVERLAP,
                start,
            )
            for i in range(n_done + n_open)
        ),
    )
    sample_ids = [
        r[0]
        for r in con.execute(
            "SELECT id FROM samples WHERE project_id = ? ORDER BY id", (project_id,)
        )
    ]

    def assignments() -> Iterator[tuple[Any, ...]]:
        aid = 0
        for i in range(n_done):
            for w in rng.sample(range(n_workers), OVERLAP):
                aid += 1
                closed = start + HISTORY_S * aid / labels
                shown = closed - rng.uniform(3.0, 40.0)
                right = rng.random() < accuracy[w]
                idx = truths[i] if right else rng.randrange(N_OPTIONS)
                yield (
                    aid,
                    project_id,
                    sample_ids[i],
                    workers[w],
                    shown,
                    shown + 600.0,
                    closed,
                    option_ids[idx],
                )

    con.executemany(
        "INSERT INTO assignments (id, project_id, sample_id, worker_id, status, shown_at,"
        " expires_at, closed_at, option_id) VALUES (?, ?, ?, ?, 'done', ?, ?, ?, ?)",
        assignments(),
    )
    con.execute(
        "INSERT INTO labels (assignment_id, project_id, sample_id, worker_id, option_id,"
        " shown_at, answered_at, guide_version)"
        " SELECT id, project_id, sample_id, worker_id, option_id, shown_at, closed_at, 1"
        " FROM assignments WHERE project_id = ? AND status = 'done' ORDER BY id",
        (project_id,),
    )
    con.execute("COMMIT")
    bad, live = con.execute(
        "SELECT SUM(need != target - n_labels - n_open), SUM(n_labels) FROM samples"
        " WHERE project_id = ?",
        (project_id,),
    ).fetchone()
    (n_labels,) = con.execute(
        "SELECT COUNT(*) FROM labels WHERE project_id = ?", (project_id,)
    ).fetchone()
    if bad or live != n_labels:
        sys.exit(f"inconsistent counters: {bad} samples bad, {n_labels} labels vs {live}")
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return {
        "project_id": project_id,
        "invite": invite,
        "labels": n_labels,
        "samples_done": n_done,
        "samples_open": n_open,
        "workers": n_workers,
        "mb": path.stat().st_size / 2**20,
    }


# --------------------------------------------------------------------------- the crowd (child)


def _crowd_process(conn: Connection, workers: int, seed: int) -> None:
    logging.basicConfig(level=logging.WARNING)
    try:
        asyncio.run(_crowd(conn, workers, seed))
    finally:
        conn.close()


async def _crowd(conn: Connection, n: int, seed: int) -> None:
    import httpx

    from bot.sandbox.client import SandboxUser, buttons
    from bot.sandbox.server import RateLimits, SandboxServer

    async with SandboxServer(limits=RateLimits(None, 30, None, 20)) as sandbox:
        conn.send(("ready", sandbox.bot_api_url, sandbox.file_url, sandbox.token))
        _, invite = await asyncio.to_thread(conn.recv)
        stop = asyncio.Event()
        taps: list[tuple[float, float]] = []  # (wall time of the tap, seconds to next card)
        errors: list[str] = []

        async def work(i: int) -> None:
            rng = random.Random(seed * 1000 + i)
            async with httpx.AsyncClient(timeout=60, trust_env=False) as http:
                user = SandboxUser(sandbox.url, 1001 + i, f"tapper{i:02d}", client=http)
                try:
                    await user.create()
                    await user.send(f"/start {invite}")
                    while not buttons(msg := await user.next_message(timeout=30)):
                        pass
                    await user.press(msg, data=buttons(msg)[0][1])
                    pressed: tuple[float, float] | None = None
                    while not stop.is_set():
                        msg = await user.next_message(timeout=30)
                        if pressed is not None:
                            taps.append((pressed[0], time.perf_counter() - pressed[1]))
                            pressed = None
                        opts = [b for b in buttons(msg) if b[1].startswith("v1:l:")]
                        if not opts:
                            if "🎉" in (msg.get("text") or ""):
                                errors.append(f"tapper{i:02d}: ran out of work")
                                return
                            continue
                        text = str(msg.get("text") or "")
                        hint = text.rsplit("[hint ", 1)[-1].split("]", 1)[0]
                        want = [b for b in opts if b[1].endswith(f":{hint}")]
                        choice = want[0] if want and rng.random() < 0.9 else rng.choice(opts)
                        pressed = (time.time(), time.perf_counter())
                        await user.press(msg, data=choice[1])
                except Exception as exc:  # report it, keep the others going
                    errors.append(f"tapper{i:02d}: {type(exc).__name__}: {exc}")

        tasks = [asyncio.create_task(work(i)) for i in range(n)]
        await asyncio.to_thread(conn.recv)  # ("stop",)
        stop.set()
        await asyncio.wait(tasks, timeout=35)
        conn.send(("done", taps, errors))
        await asyncio.to_thread(conn.recv)  # ("quit",): the bot has stopped polling


# --------------------------------------------------------------------------- the bot (here)


class Phases:
    """Wall times of the check's parts, by wrapping what check_project calls."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, float, float]] = []

    def wrap_async(self, name: str, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
        """`fn` (a coroutine function), recording its span under `name`."""

        async def timed(*a: Any, **k: Any) -> Any:
            t0 = time.time()
            try:
                return await fn(*a, **k)
            finally:
                self.spans.append((name, t0, time.time()))

        return timed

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """`fn`, recording its span under `name`."""

        def timed(*a: Any, **k: Any) -> Any:
            t0 = time.time()
            try:
                return fn(*a, **k)
            finally:
                self.spans.append((name, t0, time.time()))

        return timed


async def ticker(lags: list[tuple[float, float]], stop: asyncio.Event) -> None:
    """How late a 10 ms sleep wakes: the event loop's stalls, with wall times."""
    while not stop.is_set():
        t0 = time.perf_counter()
        await asyncio.sleep(TICK_S)
        lags.append((time.time(), time.perf_counter() - t0 - TICK_S))


async def run_bot(args: argparse.Namespace, db: Path, info: dict[str, Any]) -> dict[str, Any]:
    """Start the crowd, run the bot, baseline, then the scheduled check; collect taps."""
    import bot.quality_job as qj
    from bot.app import build_application
    from bot.runner import polling

    ctx = multiprocessing.get_context("spawn")
    conn, child = ctx.Pipe()
    proc = ctx.Process(target=_crowd_process, args=(child, args.workers, args.seed), daemon=True)
    proc.start()
    child.close()
    recv = lambda: asyncio.to_thread(conn.recv)  # noqa: E731
    _, api, files, token = await recv()
    repo = Repository(db)
    await repo.open()
    settings = Settings(
        token=token, bot_api_url=api, bot_file_url=files, db_path=db, rate_limit=False, admins=[]
    )
    app = build_application(settings, repo)
    phases = Phases()
    quality = app.bot_data.quality
    quality.load = phases.wrap_async("load", quality.load)  # type: ignore[method-assign]
    quality.apply = phases.wrap_async("apply", quality.apply)  # type: ignore[method-assign]
    qj.run_check = phases.wrap("aggregate", qj.run_check)  # type: ignore[assignment]
    lags: list[tuple[float, float]] = []
    stop = asyncio.Event()
    out: dict[str, Any] = {}
    async with polling(app):
        jq = app.job_queue
        assert jq is not None
        for job in jq.get_jobs_by_name(qj.QUALITY_JOB):  # we say when it runs
            job.schedule_removal()
        tick = asyncio.create_task(ticker(lags, stop))
        conn.send(("go", info["invite"]))
        await asyncio.sleep(args.warmup)
        out["base"] = (time.time(), None)
        await asyncio.sleep(args.baseline)
        done = asyncio.Event()

        async def scheduled(context: Any) -> None:
            t0 = time.perf_counter()
            out["check"] = [time.time(), None]
            try:
                await qj.quality_job(context)
            finally:
                out["check"][1] = time.time()
                out["job_s"] = time.perf_counter() - t0
                done.set()

        jq.run_once(scheduled, 0, name="bench-check")
        await done.wait()
        await asyncio.sleep(args.after)
        out["end"] = time.time()
        conn.send(("stop",))
        _, taps, errors = await recv()
        stop.set()
        await tick
        out["taps"], out["errors"], out["lags"] = taps, errors, lags
        out["phases"] = phases.spans
        out["run"] = await quality.last_run(info["project_id"])
        status = await repo._all(
            "SELECT status, COUNT(*) FROM samples WHERE project_id = ? GROUP BY status",
            (info["project_id"],),
        )
        out["status"] = dict(status)
    conn.send(("quit",))
    proc.join(10)
    conn.close()
    return out


# --------------------------------------------------------------------------- report


def _dist(xs: list[float]) -> str:
    if not xs:
        return f"{0:>7}" + "        -" * 4
    return f"{len(xs):>7}" + "".join(
        f" {v * 1000:8.1f}"
        for v in (percentile(xs, 50), percentile(xs, 95), percentile(xs, 99), max(xs))
    )


def report(
    args: argparse.Namespace, info: dict[str, Any], build_s: float, out: dict[str, Any]
) -> int:
    """Print the windows, the check\'s phases and the verdict; 1 on FAIL."""
    base0 = out["base"][0]
    c0, c1 = out["check"]
    windows = {
        "baseline (no check)": (base0, c0),
        "during the check": (c0, c1),
        "after the check": (c1, out["end"]),
    }
    print(
        f"{'window':<22} {'taps':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}"
        f"   loop lag p99 / max ms"
    )
    got: dict[str, list[float]] = {}
    for name, (a, b) in windows.items():
        lat = [x for t, x in out["taps"] if a <= t < b]
        lag = [x for t, x in out["lags"] if a <= t < b]
        got[name] = lat
        lagtxt = f"{percentile(lag, 99) * 1000:.1f} / {max(lag) * 1000:.1f}" if lag else "-"
        print(f"{name:<22} {_dist(lat)}   {lagtxt}")
        if name == "during the check":
            for ph, pa, pb in out["phases"]:
                lat = [x for t, x in out["taps"] if pa <= t < pb]
                lag = [x for t, x in out["lags"] if pa <= t < pb]
                lagtxt = (
                    f"{percentile(lag, 99) * 1000:.1f} / {max(lag) * 1000:.1f}" if lag else "-"
                )
                print(f"{'  taps in ' + ph:<22} {_dist(lat)}   {lagtxt}")
    parts = ", ".join(f"{n} {b - a:.2f} s" for n, a, b in out["phases"])
    run = out["run"]
    summary = run[2] if run else {}
    counts = summary.get("counts", {})
    print(
        f"check: job {out['job_s']:.2f} s wall ({c1 - c0:.2f} s window); phases in order: {parts};"
        f" labels {counts.get('labels', '?')}, suspended {len(summary.get('suspended', []))},"
        f" flagged {len(summary.get('flagged', []))}; samples now {out['status']}"
    )
    base, during = got["baseline (no check)"], got["during the check"]
    if not base or not during:
        print("VERDICT: no taps in a window (crowd stalled?) -> FAIL")
        return 1
    limit = max(P99_FACTOR * percentile(base, 99), percentile(base, 99) + P99_SLACK_S)
    p99, worst = percentile(during, 99), max(during)
    ok = p99 <= limit and worst < MAX_TAP_S
    print(
        f"VERDICT: during-check p99 {p99 * 1000:.1f} ms vs limit {limit * 1000:.1f} ms"
        f" (max(2x baseline p99, baseline p99 + 20 ms)); max {worst * 1000:.1f} ms vs"
        f" {MAX_TAP_S * 1000:.0f} ms -> {'PASS' if ok else 'FAIL'}"
    )
    slow = sorted(((t, x) for t, x in out["taps"] if c0 <= t < c1 and x >= MAX_TAP_S))
    if slow:
        marks = []
        for t, x in slow[:8]:
            off = t - c0
            where = next((n for n, a, b in out["phases"] if a <= t <= b), "between phases")
            marks.append(f"+{off:.2f}s {x * 1000:.0f}ms ({where})")
        print(
            f"slow taps (>= {MAX_TAP_S * 1000:.0f} ms) during the check: {len(slow)}: "
            + "; ".join(marks)
        )
    for e in out["errors"][:5]:
        print(f"crowd error: {e}", file=sys.stderr)
    return 0 if ok else 1


def main() -> int:
    """Build the database in a temp dir, run, report."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_check", description=__doc__)
    parser.add_argument("--labels", type=int, default=1_000_000, help="history labels (1e6)")
    parser.add_argument("--history-workers", type=int, default=5000)
    parser.add_argument("--open", type=int, default=20000, help="samples still wanted")
    parser.add_argument("--workers", type=int, default=20, help="tapping workers (20)")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--baseline", type=float, default=10.0)
    parser.add_argument("--after", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(f"command:  {shlex.join(sys.orig_argv)}")
    print(
        f"machine:  {platform.platform()}; {cpu_model()}; {os.cpu_count()} cores;"
        f" Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        db = Path(tmp) / "check.db"
        t0 = time.perf_counter()
        info = build(db, args.labels, args.history_workers, args.open, args.seed)
        build_s = time.perf_counter() - t0
        print(
            f"data:     {info['labels']:,} live labels on {info['samples_done']:,} samples"
            f" (overlap {OVERLAP}, {N_OPTIONS} options) by {info['workers']:,} workers, +"
            f" {info['samples_open']:,} samples wanted; {info['mb']:,.0f} MB;"
            f" built in {build_s:.1f} s"
        )
        print(
            f"run:      {args.workers} workers tapping back to back via the sandbox; bot in this"
            f" process, sandbox + crowd in a child; check = the bot's quality_job via JobQueue",
            flush=True,
        )
        out = asyncio.run(run_bot(args, db, info))
        return report(args, info, build_s, out)


if __name__ == "__main__":
    sys.exit(main())
