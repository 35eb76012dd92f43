"""Benchmark: a scheduled quality check on a big project must not make any tap wait.

The issue's figure (benchmark 4): a project with 1,000,000 live labels (200,000 samples x
overlap 5 by 5,000 workers, 4 options) plus a set of samples still needing labels; the real
bot polls the sandbox Bot API while N simulated workers label. Tap -> next card latency is
measured (a) with no check running and (b) while the bot's own JobQueue runs `quality_job`
(-> `check_project`: load, aggregate, apply) on that project.

The crowd (default): 40 workers, each looking at a card for a random time (exponential, mean
--think 1 s) before tapping, so taps arrive at random, ~40 a second, as from a real (fast)
crowd. With --think 0 they tap back to back: a stress run where 20 tappers keep both cores of
a 2-core machine busy, every tap queues behind the others, and a tap's latency is mostly the
other taps' (closed loop: latency ~ tappers x time per tap), so any CPU the check takes shows
up multiplied, and the latency also drifts between modes on its own (the noise-floor line).

Target "no tap waits", concretely: taps during the check, and in each of its phases
separately, look like the baseline: p50, p95, p99 and max each <= 1.2x the baseline's + 10 ms,
and the bot's event-loop lag (a 10 ms ticker's overshoot) p99 <= the baseline's + 5 ms. The
lag shows whether the loop itself stalled (Python work, the GIL) or a tap waited elsewhere.

The history goes in with raw sqlite3 after `Repository.open()` has migrated the file:
'done' assignments, labels copied from them (what the answered trigger would write; no
label events: the check does not read them), and the sample counters set to match
(n_labels = 5, need = target - n_labels). Samples are left status 'open', as before a first
check, so apply rewrites every one of them (the worst case). Rules: min_seconds = 0 so the
crowd's sub-second taps do not get it suspended mid-run; the other rules are the defaults.

    python -m bench.bench_check                     # 1,000,000 labels, 40 workers, think 1 s
    python -m bench.bench_check --workers 20 --think 0          # the back-to-back stress run
    python -m bench.bench_check --labels 100000 --history-workers 1000 --open 5000 --baseline 15
    python -m bench.bench_check --db /tmp/check1m.db   # build once, run on a fresh copy each time
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import multiprocessing
import os
import platform
import random
import shlex
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from unittest import mock

from numpy import percentile

from bench.bulk import insert_history
from bench.machine import cpu_busy, cpu_model, others_load
from config.project import ProjectSpec
from config.settings import Settings
from storage.models import Role
from storage.repository import Repository

SLUG = "bench-check"
OVERLAP = 5
N_OPTIONS = 4
HISTORY_S = 30 * 86400.0
WORKER_ID_BASE = 5_000_000_000
FACTOR = 1.2  # pass rule: each tap percentile and the max <= FACTOR x baseline + SLACK_S
SLACK_S = 0.010
LAG_SLACK_S = 0.005  # and the event loop's lag p99 <= baseline's + LAG_SLACK_S
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

    insert_history(con, project_id, workers, "H", start, assignments())
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


def _crowd_process(conn: Connection, workers: int, think: float, seed: int) -> None:
    logging.basicConfig(level=logging.WARNING)
    try:
        asyncio.run(_crowd(conn, workers, think, seed))
    finally:
        conn.close()


async def _crowd(conn: Connection, n: int, think: float, seed: int) -> None:
    """n simulated workers; each reads a card for a random think time (exponential, mean
    `think` s; 0: none, back to back) and taps. Think times make the taps arrive at random,
    as a real crowd's do; back to back, 20 tappers keep both cores busy and every tap queues
    behind the others (a tap's latency is then mostly the other taps, not the bot)."""
    import httpx

    from sandbox.client import SandboxUser, buttons
    from sandbox.server import RateLimits, SandboxServer

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
                        if think > 0:
                            await asyncio.sleep(rng.expovariate(1.0 / think))
                        pressed = (time.time(), time.perf_counter())
                        await user.press(msg, data=choice[1])
                except Exception as exc:  # report it, keep the others going
                    errors.append(f"tapper{i:02d}: {type(exc).__name__}: {exc}")

        # The sandbox stands in for Telegram's servers: its own full collections (~45 ms,
        # about once a minute, walking every message it keeps) held up every tap in flight
        # and were the slowest taps of a run, check or no check. Young generations are still
        # collected; the full one is put off past the run. The table shows what is left.
        gc.freeze()
        gc.set_threshold(700, 10, 1_000_000)
        crowd_gc = GcPauses()  # the sandbox's and the simulated crowd's own collections
        crowd_gc.start()
        tasks = [asyncio.create_task(work(i)) for i in range(n)]
        await asyncio.to_thread(conn.recv)  # ("stop",)
        stop.set()
        await asyncio.wait(tasks, timeout=35)
        crowd_gc.stop()
        conn.send(("done", taps, errors, crowd_gc.pauses))
        await asyncio.to_thread(conn.recv)  # ("quit",): the bot has stopped polling


# --------------------------------------------------------------------------- the bot (here)


async def ticker(lags: list[tuple[float, float]], stop: asyncio.Event) -> None:
    """How late a 10 ms sleep wakes: the event loop's stalls, with wall times."""
    while not stop.is_set():
        t0 = time.perf_counter()
        await asyncio.sleep(TICK_S)
        lags.append((time.time(), time.perf_counter() - t0 - TICK_S))


class GcPauses:
    """The bot process's garbage collections: (wall time at the end, generation, seconds).

    A full (generation 2) collection walks every object the bot holds and stops the event
    loop meanwhile; the loop-lag column shows such stalls, this says whether they were GC.
    """

    def __init__(self) -> None:
        """Record from `start` until `stop`."""
        self.pauses: list[tuple[float, int, float]] = []
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        """gc.callbacks hook."""
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.pauses.append((time.time(), info["generation"], time.perf_counter() - self._t0))

    def start(self) -> None:
        """Hook into the collector."""
        gc.callbacks.append(self)

    def stop(self) -> None:
        """Unhook."""
        gc.callbacks.remove(self)

    def full(self, a: float, b: float) -> str:
        """Full collections ending in [a, b): how many, longest."""
        got = [d for t, g, d in self.pauses if g == 2 and a <= t < b]
        return f"{len(got)}" + (f", {max(got) * 1000:.0f} ms" if got else "")


async def run_bot(args: argparse.Namespace, db: Path, info: dict[str, Any]) -> dict[str, Any]:
    """Start the crowd, run the bot, baseline, then the scheduled check; collect taps."""
    import handlers.jobs as qj
    from app import build_application, polling
    from services.checks import CheckReport, check_project

    ctx = multiprocessing.get_context("spawn")
    conn, child = ctx.Pipe()
    proc = ctx.Process(
        target=_crowd_process, args=(child, args.workers, args.think, args.seed), daemon=True
    )
    proc.start()
    child.close()

    async def recv() -> Any:
        return await asyncio.to_thread(conn.recv)

    _, api, files, token = await recv()
    repo = Repository(db)
    await repo.open()
    settings = Settings(
        token=token, bot_api_url=api, bot_file_url=files, db_path=db, rate_limit=False, admins=[]
    )
    app = build_application(settings, repo)
    quality = app.bot_data.quality
    reports: list[CheckReport] = []

    async def recorded(*a: Any, **k: Any) -> CheckReport:
        reports.append(report := await check_project(*a, **k))
        return report

    # The job calls the name handlers.jobs imported: record its reports there.
    recording = mock.patch.object(qj, "check_project", recorded)
    recording.start()
    lags: list[tuple[float, float]] = []
    stop = asyncio.Event()
    out: dict[str, Any] = {}
    async with polling(app):
        jq = app.job_queue
        assert jq is not None
        for job in jq.get_jobs_by_name(qj.QUALITY_JOB):  # we say when it runs
            job.schedule_removal()
        tick = asyncio.create_task(ticker(lags, stop))
        gc_pauses = GcPauses()
        gc_pauses.start()
        out["gc"] = gc_pauses
        out["crowd_gc"] = crowd_gc = GcPauses()
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
        _, taps, errors, crowd_pauses = await recv()
        stop.set()
        await tick
        gc_pauses.stop()
        crowd_gc.pauses = crowd_pauses
        out["taps"], out["errors"], out["lags"] = taps, errors, lags
        out["phases"] = [span for r in reports for span in r.spans]
        out["run"] = await quality.last_run(info["project_id"])
        status = await repo.all(
            "SELECT status, COUNT(*) FROM samples WHERE project_id = ? GROUP BY status",
            (info["project_id"],),
        )
        out["status"] = dict(status)
    recording.stop()
    conn.send(("quit",))
    proc.join(10)
    conn.close()
    return out


# --------------------------------------------------------------------------- report


def _stats(lat: list[float], lag: list[float]) -> dict[str, float]:
    return {
        "p50": percentile(lat, 50),
        "p95": percentile(lat, 95),
        "p99": percentile(lat, 99),
        "max": max(lat),
        "lag": percentile(lag, 99) if lag else 0.0,
    }


def _row(name: str, lat: list[float], lag: list[float]) -> str:
    if not lat:
        return f"{name:<24} {0:>6}" + "        -" * 4
    st = _stats(lat, lag)
    lagmax = max(lag) * 1000 if lag else 0.0
    return (
        f"{name:<24} {len(lat):>6}"
        + "".join(f" {st[k] * 1000:8.1f}" for k in ("p50", "p95", "p99", "max"))
        + f"   {st['lag'] * 1000:6.1f} / {lagmax:.1f}"
    )


def _fails(base: dict[str, float], got: dict[str, float]) -> list[str]:
    """What breaks the pass rule: each of p50/p95/p99/max <= 1.2x baseline + 10 ms, and
    event-loop lag p99 <= baseline lag p99 + 5 ms."""
    bad = [
        f"{k} {got[k] * 1000:.0f} > {(FACTOR * base[k] + SLACK_S) * 1000:.0f}"
        for k in ("p50", "p95", "p99", "max")
        if got[k] > FACTOR * base[k] + SLACK_S
    ]
    if got["lag"] > base["lag"] + LAG_SLACK_S:
        bad.append(f"lag p99 {got['lag'] * 1000:.1f} > {(base['lag'] + LAG_SLACK_S) * 1000:.1f}")
    return bad


def report(
    args: argparse.Namespace, info: dict[str, Any], build_s: float, out: dict[str, Any]
) -> int:
    """Print the windows, the check's phases and the verdict; 1 on FAIL."""
    base0 = out["base"][0]
    c0, c1 = out["check"]
    windows = [("baseline (no check)", base0, c0), ("during the check", c0, c1)]
    windows += [(f"  taps in {ph}", pa, pb) for ph, pa, pb in out["phases"]]
    windows += [("after the check", c1, out["end"])]
    print(
        f"{'window':<24} {'taps':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}"
        f"   loop lag p99 / max ms   full GCs: bot / sandbox+crowd"
    )
    taps: dict[str, tuple[list[float], list[float]]] = {}
    for name, a, b in windows:
        lat = [x for t, x in out["taps"] if a <= t < b]
        lag = [x for t, x in out["lags"] if a <= t < b]
        taps[name] = (lat, lag)
        gcs = f"{out['gc'].full(a, b)} / {out['crowd_gc'].full(a, b)}"
        print(f"{_row(name, lat, lag):<86} {gcs}")
    parts = ", ".join(f"{n} {b - a:.2f} s" for n, a, b in out["phases"])
    run = out["run"]
    summary = run[2] if run else {}
    counts = summary.get("counts", {})
    print(
        f"check: job {out['job_s']:.2f} s wall ({c1 - c0:.2f} s window); phases in order: {parts};"
        f" labels {counts.get('labels', '?')}, suspended {len(summary.get('suspended', []))},"
        f" flagged {len(summary.get('flagged', []))}; samples now {out['status']}"
    )
    base_lat, base_lag = taps["baseline (no check)"]
    if not base_lat or not taps["during the check"][0]:
        print("VERDICT: no taps in a window (crowd stalled?) -> FAIL")
        return 1
    base = _stats(base_lat, base_lag)
    failures = []
    for name, _, _ in windows[1:-1]:
        lat, lag = taps[name]
        if lat and (bad := _fails(base, _stats(lat, lag))):
            failures.append(f"{name.strip()}: {', '.join(bad)}")
    # The noise floor: the same rule applied to 4 s slices of the baseline itself (no check).
    slices = []
    for a in range(int(base0), int(c0) - 3, 4):
        lat = [x for t, x in out["taps"] if a <= t < a + 4]
        lag = [x for t, x in out["lags"] if a <= t < a + 4]
        if lat:
            slices.append(bool(_fails(base, _stats(lat, lag))))
    print(
        f"noise floor: {sum(slices)} of {len(slices)} 4 s slices of the baseline itself break"
        " the rule against the whole baseline"
    )
    print(
        "VERDICT (each of p50/p95/p99/max <= 1.2x baseline + 10 ms, loop lag p99 <= baseline"
        " + 5 ms; during the check and in each phase): "
        + ("PASS" if not failures else "FAIL: " + "; ".join(failures))
    )
    slow = sorted(((x, t) for t, x in out["taps"] if c0 <= t < c1), reverse=True)[:6]
    marks = []
    for x, t in slow:
        where = next((n for n, a, b in out["phases"] if a <= t <= b), "between phases")
        marks.append(f"{x * 1000:.0f} ms at +{t - c0:.1f} s ({where})")
    print("slowest taps during the check: " + "; ".join(marks))
    for e in out["errors"][:5]:
        print(f"crowd error: {e}", file=sys.stderr)
    return 0 if not failures else 1


def main() -> int:
    """Build the database in a temp dir, run, report."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_check", description=__doc__)
    parser.add_argument("--labels", type=int, default=1_000_000, help="history labels (1e6)")
    parser.add_argument("--history-workers", type=int, default=5000)
    parser.add_argument("--open", type=int, default=20000, help="samples still wanted")
    parser.add_argument("--workers", type=int, default=40, help="tapping workers (40)")
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="mean seconds a worker looks at a card before tapping (exponential; 0: back to back)",
    )
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--baseline", type=float, default=60.0, help="seconds without a check")
    parser.add_argument("--after", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument(
        "--db",
        type=Path,
        help="keep the built database here (built if missing) and run on a copy of it",
    )
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
        if args.db is not None and args.db.exists():
            info = json.loads(args.db.with_suffix(".json").read_text())
        else:
            info = build(args.db or db, args.labels, args.history_workers, args.open, args.seed)
            if args.db is not None:
                args.db.with_suffix(".json").write_text(json.dumps(info))
        if args.db is not None:
            shutil.copyfile(args.db, db)
        build_s = time.perf_counter() - t0
        print(
            f"data:     {info['labels']:,} live labels on {info['samples_done']:,} samples"
            f" (overlap {OVERLAP}, {N_OPTIONS} options) by {info['workers']:,} workers, +"
            f" {info['samples_open']:,} samples wanted; {info['mb']:,.0f} MB;"
            f" built in {build_s:.1f} s"
        )
        print(
            f"run:      {args.workers} workers tapping via the sandbox, "
            + (f"thinking {args.think:g} s on average" if args.think > 0 else "back to back")
            + "; bot in this"
            " process, sandbox + crowd in a child; check = the bot's quality_job via JobQueue",
            flush=True,
        )
        before = cpu_busy()
        out = asyncio.run(run_bot(args, db, info))
        print(f"load:     {others_load(before)}")
        return report(args, info, build_s, out)


if __name__ == "__main__":
    sys.exit(main())
