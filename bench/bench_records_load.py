"""Benchmark: taps while the bot backs up and exports a big project (issue 14).

A database with a big project (default 1,000,000 samples with 3,000,000 labels, built by
bench.bench_export's bulk SQL) and a small live one that 20 simulated workers label through
the sandbox Bot API. Two phases, each with a fresh crowd:

1. quiet (`--seconds`): the workers label; nothing else happens;
2. loaded (at least as long, until both are done): the same, while an admin asks the bot for
   `/export` of the big project (made by `labelgram export` in a low-priority child process,
   zipped, then sent as documents) and the bot's scheduled backup runs (in a low-priority child
   process, as `handlers.jobs.backup_job` runs it). `--load` runs one of the two only.

Tap latency is what a worker feels: from the tap to the next card on screen. Target: p99 of
the loaded phase within 1.2x + 10 ms of the quiet phase's. Prints figures; exits 0.

    python -m bench.bench_records_load                       # full size (build: minutes)
    python -m bench.bench_records_load --samples 100000 --seconds 20
    python -m bench.bench_records_load --db /tmp/big.db      # build once, reuse
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from app import build_application, polling
from bench.bench_export import SLUG, build
from bench.machine import cpu_busy, cpu_model, others_load
from config.project import ProjectSpec
from config.settings import Settings
from sandbox.client import SandboxUser
from sandbox.crowd import PROFILES, Crowd
from sandbox.server import RateLimits, SandboxServer
from services import export_runner
from services.export_runner import backup_in_child
from storage.errors import NotFound
from storage.models import Role, SampleIn
from storage.repository import Repository

ADMIN = 900_000
LIVE = "live"


def live_spec() -> ProjectSpec:
    """The project the crowd labels while the big one is exported."""
    return ProjectSpec.model_validate(
        {
            "name": "Live",
            "slug": LIVE,
            "question": {"en": "Which?"},
            "guide": {"en": "Pick one."},
            "overlap": 3,
            "options": [{"id": f"o{i}", "text": {"en": f"Option {i}"}} for i in range(3)],
            # The crowd taps as soon as min_read allows: the speed rules would suspend it.
            "quality": {
                "gold_rate": 0,
                "rules": {"min_seconds": 0, "max_run": 1_000_000, "min_answers": 1_000_000},
            },
        }
    )


async def _live_project(db: Path, samples: int) -> str:
    """The live project with `samples` new samples; a worker invite to it. The big project
    counts as checked (a check of 3M labels has its own bench, bench_check)."""
    async with Repository(db) as repo:
        await repo.write(
            "INSERT INTO quality_runs (project_id, at, last_label_id, last_review_id, seconds,"
            " summary, changes) SELECT p.id, ?, (SELECT COALESCE(MAX(id), 0) FROM labels),"
            " (SELECT COALESCE(MAX(id), 0) FROM reviews), 0, '{}', c.n"
            " FROM projects AS p JOIN project_changes AS c ON c.project_id = p.id"
            " WHERE p.slug = ?",
            (time.time(), SLUG),
        )
        try:
            project = await repo.get_project(LIVE)
        except NotFound:  # the first run on this database
            project = await repo.create_project(live_spec())
        await repo.import_samples(
            project.id,
            [
                SampleIn(ext_id=f"l{time.time_ns()}-{i}", text=f"live sample {i}")
                for i in range(samples)
            ],
        )
        return await repo.create_invite(project.id, Role.WORKER)


async def _phase(
    url: str, invite: str, workers: int, first_user: int, until: Awaitable[Any]
) -> list[float]:
    """Let a fresh crowd label `until` it is done; the tap latencies it felt."""
    crowd = Crowd(
        url,
        invite,
        {},
        [PROFILES["careful"]] * workers,
        first_user_id=first_user,
        min_read_s=0.3,
        card_timeout_s=60,
    )
    task = asyncio.create_task(crowd.run())
    await until
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    latencies = [x for r in crowd.results for x in r.latencies]
    return latencies[len(latencies) // 10 :]  # the joins' first cards are not taps


async def _export(url: str) -> dict[str, float]:
    """An admin's /export of the big project: seconds to the first document, documents."""
    async with httpx.AsyncClient(base_url=url, timeout=600, trust_env=False) as http:
        admin = SandboxUser(url, ADMIN, "Admin", client=http)
        await admin.create()
        t0 = time.perf_counter()
        await admin.send(f"/export {SLUG}")
        documents = 0
        while True:
            message = await admin.next_message(timeout=1800)
            if "document" in message:
                documents += 1
                if message.get("caption"):  # the first part carries the caption
                    break
            elif "failed" in (message.get("text") or ""):
                raise RuntimeError(message["text"])
        return {"export_s": time.perf_counter() - t0, "documents": documents}


def _world(conn: Connection) -> None:
    """The child process: the sandbox Bot API, the crowds and the admin, on orders."""
    asyncio.run(_world_serve(conn))


async def _world_serve(conn: Connection) -> None:
    async with SandboxServer(limits=RateLimits(None, 30, None, 20)) as sandbox:
        conn.send((sandbox.url, sandbox.bot_api_url, sandbox.file_url, sandbox.token))
        while True:
            order = await asyncio.to_thread(conn.recv)
            if order[0] == "stop":
                return
            _, invite, workers, first_user, export = order
            exporting = asyncio.create_task(_export(sandbox.url)) if export else None
            # The phase ends when the bot's side says so (its backup done) and the export too.
            ended = asyncio.gather(asyncio.to_thread(conn.recv), *filter(None, [exporting]))
            latencies = await _phase(sandbox.url, invite, workers, first_user, ended)
            conn.send((latencies, exporting.result() if exporting else {}))


def _true_counters(db: Path) -> None:
    """The bulk build counts the labels /undo took back in n_labels; the triggers would not
    (and the backup's check would refuse the copy): count live labels only."""
    with contextlib.closing(sqlite3.connect(db)) as con:
        con.execute(
            "UPDATE samples SET n_labels = n_labels - r.n, need = need + r.n"
            " FROM (SELECT sample_id, COUNT(*) AS n FROM labels"
            "       WHERE retracted_at IS NOT NULL GROUP BY sample_id) AS r"
            " WHERE r.sample_id = samples.id"
        )
        con.commit()


def _p(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000 if values else float("nan")


async def run(args: argparse.Namespace, db: Path, tmp: Path) -> int:
    """The two phases on `db`; prints the table. The sandbox and the crowds run in a child
    process, so that the bot has this one to itself (as it has with Telegram)."""
    invite = await _live_project(db, args.live_samples)
    export_runner.CPU_SHARE = args.cpu_share
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

    async def phase(
        seconds: float, first_user: int, export: bool, backup: bool = False
    ) -> tuple[list[float], dict[str, float], dict[str, Any], float]:
        """A crowd labels for `seconds`, or until the export and the backup are done."""
        t0 = time.perf_counter()
        ours.send(("phase", invite, args.workers, first_user, export))
        made: dict[str, Any] = {"seconds": float("nan")}
        if backup:
            made = await backup_in_child(db, f"{tmp / 'backups'}/")
        await asyncio.sleep(seconds - (time.perf_counter() - t0))
        ours.send(("end",))
        latencies, timing = await asyncio.to_thread(ours.recv)
        return latencies, timing, made, time.perf_counter() - t0

    repo = Repository(db)
    await repo.open()
    app = build_application(settings, repo)
    try:
        async with polling(app):
            await phase(5, 10_000, False)  # warm-up
            busy = cpu_busy()
            quiet, _, _, quiet_s = await phase(args.seconds, 20_000, False)
            quiet_load = others_load(busy)
            busy = cpu_busy()
            loaded, timing, made, loaded_s = await phase(
                args.seconds,
                30_000,
                export=args.load in ("both", "export"),
                backup=args.load in ("both", "backup"),
            )
            loaded_load = others_load(busy)
    finally:
        ours.send(("stop",))
        world.join(10)
        await repo.close()
    bound = 1.2 * _p(quiet, 99) + 10
    verdict = "PASS" if _p(loaded, 99) <= bound else "FAIL"
    print(f"phase    taps   p50 ms   p99 ms   seconds   ({args.workers} workers)")
    for name, values, took, load in (
        ("quiet", quiet, quiet_s, quiet_load),
        ("loaded", loaded, loaded_s, loaded_load),
    ):
        print(
            f"{name:<7} {len(values):>5} {_p(values, 50):>8.1f} {_p(values, 99):>8.1f}"
            f" {took:>9.0f}   {load}"
        )
    export = (
        f"/export of {SLUG} as jsonl: {timing['export_s']:.1f} s to the first document"
        f" ({timing['documents']:.0f} sent)"
        if timing
        else "no export"
    )
    print(
        f"load     {export}; backup {made['seconds']:.1f} s;"
        f" the children ran {args.cpu_share:g} of the time"
    )
    print(
        f"result   loaded p99 {_p(loaded, 99):.1f} ms vs 1.2 x {_p(quiet, 99):.1f} + 10 ="
        f" {bound:.1f} ms: {verdict}"
    )
    return 0


def main() -> int:
    """Build or reuse the big database, then measure on a copy of it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--samples", type=int, default=1_000_000, help="big project's samples")
    parser.add_argument("--per-sample", type=int, default=3)
    parser.add_argument("--workers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each phase")
    parser.add_argument("--live-samples", type=int, default=20_000)
    parser.add_argument("--db", type=Path, help="the big database: built if missing, reused")
    parser.add_argument(
        "--cpu-share",
        type=float,
        default=export_runner.CPU_SHARE,
        help="the share of time the export and backup children run (1 = unsliced)",
    )
    parser.add_argument(
        "--load",
        choices=("both", "export", "backup"),
        default="both",
        help="what runs in the loaded phase (both, as the target asks; one, to see its share)",
    )
    args = parser.parse_args()
    print(f"command  {' '.join(sys.orig_argv)}")
    print(f"machine  {platform.platform()}; {cpu_model()}; {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="labelgram-records-") as tmp:
        db = args.db or Path(tmp) / "big.db"
        if not db.exists():
            t0 = time.perf_counter()
            build(db, args.samples, args.per_sample)
            _true_counters(db)
            took = time.perf_counter() - t0
            print(f"build    {args.samples:,} samples x {args.per_sample}: {took:.0f} s")
        else:
            print(f"database {db}: reused")
        work = Path(tmp) / "run.db"
        shutil.copyfile(db, work)
        return asyncio.run(run(args, work, Path(tmp)))


if __name__ == "__main__":
    sys.exit(main())
