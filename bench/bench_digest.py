"""Benchmark: the daily digest of a project with 1,000,000 labels, and taps meanwhile (issue 15).

A database with a big project (default 1,000,000 labels: 333,334 samples x 3, built by
bench.bench_export's bulk SQL, their answer times moved into the last 8 days, a quality
check's alpha per day) and a small live project that 20 simulated workers label through the
sandbox Bot API (in a child process, as bench_records_load runs it). Two phases, each with a
fresh crowd:

1. quiet (`--seconds`): the workers label; nothing else happens;
2. loaded (at least as long): the same, while the bot builds the big project's coordinators'
   digest again and again, as `/digest` and the daily job build it (`handlers.digest.make_digest`:
   the figures and the chart in a lowest-priority child process), and its text.

Targets: each digest (text and chart) built in <= 5 s; <= 100 MB extra RSS while drawing
(the child's peak, VmHWM, plus what the bot's own RSS grew by); taps in the loaded phase
within 1.2x + 10 ms of the quiet phase's at p99. Prints figures; exits 0.

    python -m bench.bench_digest                          # full size (build: a minute or two)
    python -m bench.bench_digest --labels 100000 --seconds 20
    python -m bench.bench_digest --db /tmp/digest.db      # build once, reuse
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

from app import build_application, polling
from bench.bench_export import SLUG, build
from bench.bench_records_load import ADMIN, _live_project, _p, _true_counters, _world
from bench.machine import cpu_busy, cpu_model, others_load
from config.settings import Settings
from handlers.digest import DIGEST_JOB, coordinator_text, make_digest
from services.digest import FIRST_NEWS_S, Digest, period
from storage.repository import Repository

TARGET_S = 5.0
TARGET_RSS_MB = 100.0
DAY = 86400.0


def _recent(db: Path) -> None:
    """Move the labels' times so that they end now (the bulk build puts them a month back),
    and record a quality check per day (alpha) as the bot's checks would."""
    now = time.time()
    with contextlib.closing(sqlite3.connect(db)) as con:
        (last,) = con.execute("SELECT MAX(answered_at) FROM labels").fetchone()
        shift = now - 60 - last
        con.execute(
            "UPDATE labels SET answered_at = answered_at + ?1, shown_at = shown_at + ?1,"
            " retracted_at = retracted_at + ?1",
            (shift,),
        )
        (pid,) = con.execute("SELECT id FROM projects WHERE slug = ?", (SLUG,)).fetchone()
        # Each check records the (consensus, given) label counts it held (services.checks),
        # which the digest draws: the same counts, as the check would have made them.
        k = con.execute("SELECT COUNT(*) FROM options WHERE project_id = ?", (pid,)).fetchone()[0]
        confusion = [[0] * k for _ in range(k)]
        for cons, given, n in con.execute(
            "SELECT c.idx, g.idx, COUNT(*) FROM labels AS l"
            " JOIN samples AS s ON s.id = l.sample_id JOIN options AS c ON c.id = s.consensus"
            " JOIN options AS g ON g.id = l.option_id"
            " WHERE l.project_id = ? AND l.retracted_at IS NULL GROUP BY 1, 2",
            (pid,),
        ):
            confusion[cons][given] = n
        con.executemany(
            "INSERT INTO quality_runs (project_id, at, last_label_id, last_review_id, seconds,"
            " summary, changes) VALUES (?, ?, 0, 0, 1, ?, -1)",
            (
                (
                    pid,
                    now - d * DAY,
                    json.dumps({"alpha": 0.6 + d / 100, "flagged": [], "confusion": confusion}),
                )
                for d in range(8, 0, -1)
            ),
        )
        con.commit()


class RssWatch(threading.Thread):
    """This process's highest RSS while it runs (sampled every 50 ms)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = _rss_mb()
        self._done = threading.Event()

    def run(self) -> None:
        """Sample until stopped."""
        while not self._done.wait(0.05):
            self.peak = max(self.peak, _rss_mb())

    def stop(self) -> float:
        """Stop sampling; the peak, MB."""
        self._done.set()
        self.join()
        return self.peak


def _children_cpu() -> float:
    """CPU seconds of this process's reaped children (the digest's child, once it ended)."""
    t = os.times()
    return t.children_user + t.children_system


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def run(args: argparse.Namespace, db: Path) -> int:
    """The two phases on `db`; prints the table."""
    invite = await _live_project(db, args.live_samples)
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    world = ctx.Process(target=_world, args=(theirs,), daemon=True)
    world.start()
    _, api, files, token = await asyncio.to_thread(ours.recv)
    settings = Settings(
        token=token,
        bot_api_url=api,
        bot_file_url=files,
        db_path=db,
        admins=[ADMIN],
        rate_limit=False,
    )
    repo = Repository(db)
    await repo.open()
    app = build_application(settings, repo)
    # (seconds, child peak MB, bot RSS growth MB, child CPU seconds)
    builds: list[tuple[float, float, float, float]] = []
    text_chars = 0

    async def digests(stop: asyncio.Event) -> None:
        """Build the big project's digest back to back (as /digest does) until told to stop."""
        nonlocal text_chars
        project = await repo.get_project(SLUG)
        while not stop.is_set():
            watch = RssWatch()
            before = watch.peak
            watch.start()
            t0, cpu0 = time.perf_counter(), _children_cpu()
            now = time.time()
            digest: Digest = await make_digest(
                app.bot_data, project, period("UTC", now, now - FIRST_NEWS_S), {"en"}
            )
            text = coordinator_text("en", project, digest)
            took = time.perf_counter() - t0
            grew = watch.stop() - before
            builds.append((took, digest.child_peak_rss_mb, grew, _children_cpu() - cpu0))
            text_chars = len(text)

    async def phase(seconds: float, first_user: int, load: bool) -> tuple[list[float], float]:
        t0 = time.perf_counter()
        ours.send(("phase", invite, args.workers, first_user, False))
        stop = asyncio.Event()
        task = asyncio.create_task(digests(stop)) if load else None
        await asyncio.sleep(seconds)
        stop.set()
        if task is not None:
            await task
        ours.send(("end",))
        latencies, _ = await asyncio.to_thread(ours.recv)
        return latencies, time.perf_counter() - t0

    try:
        async with polling(app):
            assert app.job_queue is not None
            for job in app.job_queue.get_jobs_by_name(DIGEST_JOB):  # only ours builds here
                job.schedule_removal()
            await phase(5, 10_000, False)  # warm-up
            busy = cpu_busy()
            quiet, quiet_s = await phase(args.seconds, 20_000, False)
            quiet_load = others_load(busy)
            busy = cpu_busy()
            loaded, loaded_s = await phase(args.seconds, 30_000, True)
            loaded_load = others_load(busy)
    finally:
        ours.send(("stop",))
        world.join(10)
        await repo.close()
    bound = 1.2 * _p(quiet, 99) + 10
    worst_s = max(b[0] for b in builds)
    worst_mb = max(b[1] + max(b[2], 0.0) for b in builds)
    print(f"phase    taps   p50 ms   p99 ms   seconds   ({args.workers} workers)")
    for name, values, took, load in (
        ("quiet", quiet, quiet_s, quiet_load),
        ("loaded", loaded, loaded_s, loaded_load),
    ):
        print(
            f"{name:<7} {len(values):>5} {_p(values, 50):>8.1f} {_p(values, 99):>8.1f}"
            f" {took:>9.0f}   {load}"
        )
    print("digest   seconds   child CPU s   child peak MB   bot RSS grew MB")
    for took, child, grew, cpu in builds:
        print(f"         {took:>7.2f}   {cpu:>11.2f}   {child:>13.0f}   {grew:>15.1f}")
    print(f"text     {text_chars} characters; chart one PNG")
    checks = (
        ("built", worst_s <= TARGET_S, f"slowest {worst_s:.2f} s <= {TARGET_S:g} s"),
        ("memory", worst_mb <= TARGET_RSS_MB, f"{worst_mb:.0f} MB <= {TARGET_RSS_MB:g} MB"),
        (
            "taps",
            _p(loaded, 99) <= bound,
            f"loaded p99 {_p(loaded, 99):.1f} ms <= 1.2 x {_p(quiet, 99):.1f} + 10 = {bound:.1f}",
        ),
    )
    for name, ok, what in checks:
        print(f"result   {name:<7} {what}: {'PASS' if ok else 'FAIL'}")
    return 0


def main() -> int:
    """Build or reuse the big database, then measure on a copy of it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--labels", type=int, default=1_000_000, help="big project's labels")
    parser.add_argument("--workers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=40.0, help="length of each phase")
    parser.add_argument("--live-samples", type=int, default=20_000)
    parser.add_argument("--db", type=Path, help="the big database: built if missing, reused")
    args = parser.parse_args()
    print(f"command  {' '.join(sys.orig_argv)}")
    print(f"machine  {platform.platform()}; {cpu_model()}; {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="labelgram-digest-") as tmp:
        db = args.db or Path(tmp) / "big.db"
        if not db.exists():
            t0 = time.perf_counter()
            build(db, -(-args.labels // 3), 3)
            _true_counters(db)
            _recent(db)
            took = time.perf_counter() - t0
            print(f"build    {args.labels:,} labels: {took:.0f} s")
        else:
            print(f"database {db}: reused")
        work = Path(tmp) / "run.db"
        shutil.copyfile(db, work)
        return asyncio.run(run(args, work))


if __name__ == "__main__":
    sys.exit(main())
