"""Benchmark: the labeling loop over HTTP, Labelgram against a bare python-telegram-bot bot.

The issue's figure: 50 simulated workers tapping as fast as they can through the sandbox Bot
API; labels/s, p50/p99 tap-to-next-card latency and Bot API calls per label, for Labelgram and,
in the same run, for a bare python-telegram-bot bot that makes the same Bot API calls with no
storage and no logic. The result is a ratio (Labelgram's rate over the bare rate); target ≥ 0.8.
Prints figures; exits 1 only if a round lost labels (the Labelgram database must hold exactly
samples x overlap live labels with every sample finished).

The sandbox server and the crowd (sandbox.crowd's workers, each with its own HTTP client; see
Crowd) run in a child process, the bot under test in this one, so the bot has a core of
its own on a two-core machine. Rounds alternate (A B B A ...) so drift and warm-up hit both bots
alike. The CPU columns show which side was the bottleneck and whether other processes on the
machine took CPU during a round.

    python -m bench.bench_loop                    # 50 workers, 2,000 labels, 2 rounds
    python -m bench.bench_loop --samples 500 --overlap 3 --rounds 3
    python -m bench.bench_loop --pool 16          # both bots with a 16-connection HTTP pool
    python -m bench.bench_loop --profile /tmp     # cProfile both bots (slows them)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import logging
import multiprocessing
import os
import platform
import pstats
import random
import shlex
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib.metadata import version
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from numpy import percentile
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram import __version__ as ptb_version
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)
from telegram.request import HTTPXRequest

from app import build_application, polling
from bench.machine import cpu_model
from cli.demo import DEMO_DIR, DEMO_PROJECT
from config.project import ProjectSpec, load_project_file
from config.settings import Settings
from sandbox.crowd import Crowd, Profile
from sandbox.server import RateLimits, SandboxServer
from storage.models import Role, SampleIn
from storage.repository import Repository

LABELGRAM, BARE = "labelgram", "bare"
TARGET = 0.8
NOISY = 0.25  # cores used by other processes during a round before the figures are suspect
SATURATED = 0.85  # cores the crowd process used: near one, it limits the rate, not the bot
# As fast as a thumb can go: no thinking, no skipping; accuracy does not change the bot's work.
TAPPER = Profile("careful", accuracy=0.9, think_s=0.0)
NO_LIMITS = RateLimits(None, 30, None, 20)

# --------------------------------------------------------------------------- the crowd side


def _machine_busy() -> float | None:
    """CPU seconds every process on the machine has used since boot (Linux), else None."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    # user nice system idle iowait irq softirq steal ...: all but idle and iowait are busy.
    ticks = [int(x) for x in fields[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def _crowd_process(conn: Connection, workers: int, seed: int) -> None:
    """Child process: one sandbox per round, and the crowd that taps through it."""
    logging.basicConfig(level=logging.WARNING)
    try:
        asyncio.run(_crowd_serve(conn, workers, seed))
    finally:
        conn.close()


async def _crowd_serve(conn: Connection, workers: int, seed: int) -> None:
    """Serve rounds until told to quit: start a sandbox, wait for the bot, run the crowd."""
    while True:
        command = await asyncio.to_thread(conn.recv)
        if command[0] == "quit":
            return
        async with SandboxServer(limits=NO_LIMITS) as sandbox:
            conn.send(("ready", sandbox.url, sandbox.bot_api_url, sandbox.file_url, sandbox.token))
            _, invite = await asyncio.to_thread(conn.recv)  # ("go", code): the bot is polling
            crowd = Crowd(sandbox.url, invite, {}, [TAPPER] * workers, seed=seed)
            sandbox.reset_calls()
            cpu, started = time.process_time(), time.perf_counter()
            results = await crowd.run()
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu
            conn.send(
                (
                    "done",
                    {
                        "seconds": elapsed,
                        "cpu": cpu,
                        "calls": dict(sandbox.calls),
                        "latencies": [x for r in results for x in r.latencies],
                        "per_worker": [r.labels for r in results],
                        "unfinished": sum(not r.finished for r in results),
                        "errors": [f"{r.name}: {r.error}" for r in results if r.error],
                    },
                )
            )
            await asyncio.to_thread(conn.recv)  # ("stop",): the bot has stopped polling


class CrowdLink:
    """The parent's end of the pipe to the crowd process."""

    def __init__(self, workers: int, seed: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_crowd_process,
            args=(child, workers, seed),
            name="bench-crowd",
            daemon=True,
        )
        self.process.start()
        child.close()  # so a dead child shows up here as EOFError, not a hang

    async def recv(self) -> Any:
        """The next message from the child (without blocking the bot's event loop)."""
        return await asyncio.to_thread(self.conn.recv)

    async def sandbox(self) -> tuple[str, str, str, str]:
        """Ask for a fresh sandbox; return (url, bot_api_url, file_url, token)."""
        self.conn.send(("round",))
        _, url, api, files, token = await self.recv()
        return url, api, files, token

    async def run_crowd(
        self, invite: str, profiler: cProfile.Profile | None = None
    ) -> tuple[dict[str, Any], float, float | None]:
        """Start the crowd; return its report, this process's CPU seconds and the machine's."""
        cpu, busy = time.process_time(), _machine_busy()
        if profiler is not None:
            profiler.enable()
        try:
            self.conn.send(("go", invite))
            _, report = await self.recv()
        finally:
            if profiler is not None:
                profiler.disable()
        cpu = time.process_time() - cpu
        after = _machine_busy()
        return report, cpu, (after - busy) if after is not None and busy is not None else None

    def stop_sandbox(self) -> None:
        """The bot stopped polling: the sandbox may go."""
        self.conn.send(("stop",))

    def close(self) -> None:
        """Stop the child (if it is still there: a crash already showed up as EOFError)."""
        with contextlib.suppress(OSError):
            self.conn.send(("quit",))
        self.process.join(10)
        self.conn.close()


# --------------------------------------------------------------------------- the bots


@dataclass
class Round:
    """One timed run of one bot."""

    bot: str
    number: int
    labels: int
    seconds: float
    latencies: list[float]
    calls: dict[str, int]
    bot_cpu: float
    crowd_cpu: float
    per_worker: list[int]
    machine_cpu: float | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Labels per second."""
        return self.labels / self.seconds if self.seconds else 0.0

    @property
    def other_load(self) -> float | None:
        """Cores that processes outside this benchmark kept busy during the round."""
        if self.machine_cpu is None or not self.seconds:
            return None
        return max(self.machine_cpu - self.bot_cpu - self.crowd_cpu, 0.0) / self.seconds


def _round(
    bot: str, number: int, report: dict[str, Any], bot_cpu: float, machine_cpu: float | None
) -> Round:
    per_worker: list[int] = report["per_worker"]
    problems = list(report["errors"])
    if report["unfinished"]:
        problems.append(f"{report['unfinished']} workers never got the all-done message")
    return Round(
        bot=bot,
        number=number,
        labels=sum(per_worker),
        seconds=report["seconds"],
        latencies=report["latencies"],
        calls=report["calls"],
        bot_cpu=bot_cpu,
        crowd_cpu=report["cpu"],
        per_worker=per_worker,
        machine_cpu=machine_cpu,
        problems=problems,
    )


def bench_spec(overlap: int) -> ProjectSpec:
    """The demo project (three options, two languages), with the benchmark's overlap."""
    spec = load_project_file(DEMO_PROJECT)
    return spec.model_copy(update={"overlap": overlap, "data": None, "slug": "bench-loop"})


def bench_samples(n: int) -> list[SampleIn]:
    """`n` unique review-like texts with truth (the demo reviews, numbered past the 600th)."""
    rows = [
        json.loads(line)
        for line in (DEMO_DIR / "reviews.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    out = []
    for i in range(n):
        row = rows[i % len(rows)]
        text = row["text"] if i < len(rows) else f"{row['text']} (#{i + 1})"
        out.append(SampleIn(ext_id=f"b{i:06d}", text=text, truth=row["truth"]))
    return out


async def run_labelgram(
    link: CrowdLink,
    number: int,
    spec: ProjectSpec,
    samples: list[SampleIn],
    pool: int | None,
    profiler: cProfile.Profile | None,
) -> Round:
    """A fresh database, the real bot over HTTP, the crowd; then check every label landed."""
    _, api, files, token = await link.sandbox()
    with tempfile.TemporaryDirectory(prefix="bench-loop-") as tmp:
        db_path = Path(tmp) / "bench.db"
        repo = Repository(db_path)
        await repo.open()
        project = await repo.create_project(spec)
        await repo.import_samples(project.id, samples)
        invite = await repo.create_invite(project.id, Role.WORKER)
        settings = Settings(
            token=token,
            bot_api_url=api,
            bot_file_url=files,
            db_path=db_path,
            rate_limit=False,
            admins=[],
        )
        request = _request(pool)
        app = build_application(settings, repo, request=request)
        async with polling(app):
            report, cpu, machine = await link.run_crowd(invite, profiler)
            status = await repo.project_status(project.id)
            live = len(await repo.live_labels(project.id))
        link.stop_sandbox()
    result = _round(LABELGRAM, number, report, cpu, machine)
    want = len(samples) * spec.overlap
    if live != want:
        result.problems.append(f"database holds {live} live labels, expected {want}")
    if status.samples_done != status.samples or status.samples != len(samples):
        result.problems.append(
            f"{status.samples_done}/{status.samples} samples finished, expected {len(samples)}"
        )
    if result.labels != want:
        result.problems.append(f"the crowd tapped {result.labels} labels, expected {want}")
    return result


def _request(pool: int | None) -> HTTPXRequest | None:
    """The bot's HTTP client: PTB's default (None), or a pool of `pool` connections."""
    # A small pool makes requests queue for a connection: wait for it rather than fail.
    return None if pool is None else HTTPXRequest(connection_pool_size=pool, pool_timeout=30)


class BareBot:
    """The same Bot API calls as Labelgram per update, with no storage and no checks."""

    def __init__(self, spec: ProjectSpec, texts: list[str], total: int) -> None:
        self.texts, self.total, self.handed = texts, total, 0
        self.options = [o.text["en"] for o in spec.options]
        self.question = spec.question["en"]
        self.joined = f"You joined “{spec.name}” as a worker."
        self.guide = f"📖 Guide — {spec.name}\n\nQuestion: {self.question}\n\n{spec.guide['en']}"
        self.done = (
            f"🎉 All done in “{spec.name}” — nothing is left for you right now.\n"
            "We will tell you when there is more."
        )

    def build(
        self, api: str, files: str, token: str, concurrent: int, pool: int | None
    ) -> Application:  # type: ignore[type-arg]
        """An Application with the bot's three handlers."""
        builder = (
            ApplicationBuilder()
            .token(token)
            .base_url(api)
            .base_file_url(files)
            .concurrent_updates(concurrent)
        )
        request = _request(pool)
        if request is not None:
            builder = builder.request(request)
        app = builder.build()
        app.add_handlers(
            [
                CommandHandler("start", self.start),
                CallbackQueryHandler(self.go, pattern=r"^v1:go:"),
                CallbackQueryHandler(self.label, pattern=r"^v1:l:"),
            ]
        )
        return app

    def _card(self, n: int) -> tuple[str, InlineKeyboardMarkup]:
        """Card number `n`: Labelgram's text and keyboard layout."""
        text = f"{self.texts[(n - 1) % len(self.texts)]}\n\n❓ {self.question}"
        labels = [
            InlineKeyboardButton(o, callback_data=f"v1:l:{n}:{i}")
            for i, o in enumerate(self.options)
        ]
        rows = [labels[i : i + 2] for i in range(0, len(labels), 2)]
        rows.append(
            [
                InlineKeyboardButton("↷ Skip", callback_data=f"v1:s:{n}"),
                InlineKeyboardButton("⚠ Report problem", callback_data=f"v1:r:{n}"),
            ]
        )
        rows.append([InlineKeyboardButton("📖 Guide", callback_data="v1:g:1")])
        return text, InlineKeyboardMarkup(rows)

    async def _send_next(self, context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> None:
        if self.handed >= self.total:
            await context.bot.send_message(chat_id, self.done)
            return
        self.handed += 1
        text, markup = self._card(self.handed)
        await context.bot.send_message(chat_id, text, reply_markup=markup)

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Say joined, then send the guide with its Start button."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        await message.reply_text(self.joined)
        start = InlineKeyboardButton("▶ Start labeling", callback_data="v1:go:1")
        await context.bot.send_message(
            user.id, self.guide, reply_markup=InlineKeyboardMarkup([[start]])
        )

    async def go(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer the Start tap and send the first card."""
        query = update.callback_query
        if query is None:
            return
        await asyncio.gather(query.answer(), self._send_next(context, query.from_user.id))

    async def label(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer the tap, mark the card, send the next one: three calls, as Labelgram."""
        query = update.callback_query
        if query is None or query.data is None:
            return
        option = self.options[int(query.data.rsplit(":", 1)[1])]
        marker = InlineKeyboardMarkup(
            [[InlineKeyboardButton(f"✓ {option}", callback_data="v1:n")]]
        )
        await asyncio.gather(
            query.answer(f"Saved: {option}"),
            query.edit_message_reply_markup(marker),
            self._send_next(context, query.from_user.id),
        )


@contextlib.asynccontextmanager
async def ptb_polling(app: Application[Any, Any, Any, Any, Any, Any]) -> Any:
    """python-telegram-bot's own polling (its Updater), as a bare bot runs."""
    await app.initialize()
    try:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        await app.start()
        try:
            yield
        finally:
            await app.updater.stop()
            await app.stop()
    finally:
        await app.shutdown()


async def run_bare(
    link: CrowdLink,
    number: int,
    spec: ProjectSpec,
    samples: list[SampleIn],
    concurrent: int,
    pool: int | None,
    profiler: cProfile.Profile | None,
) -> Round:
    """The bare bot over HTTP, the same crowd, the same number of labels."""
    _, api, files, token = await link.sandbox()
    want = len(samples) * spec.overlap
    bare = BareBot(spec, [s.text or "" for s in samples], want)
    app = bare.build(api, files, token, concurrent, pool)
    async with ptb_polling(app):
        report, cpu, machine = await link.run_crowd("bench", profiler)
    link.stop_sandbox()
    result = _round(BARE, number, report, cpu, machine)
    if result.labels != want:
        result.problems.append(f"the crowd tapped {result.labels} labels, expected {want}")
    return result


# --------------------------------------------------------------------------- report


def print_machine(args: argparse.Namespace, concurrent: int) -> None:
    """Where and how the figures were taken."""
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    print(f"command:  {shlex.join(sys.orig_argv)}")
    print(f"machine:  {platform.platform()}; {cpu_model()}; {cores} cores ({usable} usable)")
    print(
        f"software: Python {platform.python_version()}, python-telegram-bot {ptb_version}, "
        f"aiosqlite {version('aiosqlite')}, SQLite {sqlite3.sqlite_version}"
    )
    print(
        f"workload: {args.workers} workers tapping with no think time, {args.samples} samples x "
        f"overlap {args.overlap} = {args.samples * args.overlap} labels per round; "
        f"concurrent_updates {concurrent}; HTTP pool "
        f"{args.pool or 'python-telegram-bot default'}; sandbox rate limits off; "
        f"{args.rounds} round(s) each"
    )
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    crowd = "an HTTP client per worker"
    print(
        f"process:  bot under test in this process; sandbox + crowd ({crowd}) in a child process"
        + (f"; load average before the run {load[0]:.2f}" if load else "")
    )
    print(flush=True)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f}"


def print_rounds(rounds: list[Round]) -> None:
    """One row per round; CPU columns are in cores (1.00 = one core busy the whole round)."""
    print(
        "round  bot         labels   secs  labels/s   p50 ms   p99 ms  calls/label  getUpdates"
        "  bot CPU ms/label  bot CPU  crowd CPU  other CPU"
    )
    for r in rounds:
        total = sum(r.calls.values())
        polls = r.calls.get("getUpdates", 0)
        per = r.labels or 1
        other = "        ?" if r.other_load is None else f"{r.other_load:9.2f}"
        print(
            f"{r.number:>5}  {r.bot:<10} {r.labels:>7} {r.seconds:6.1f} {r.rate:9.1f}"
            f"  {_ms(percentile(r.latencies, 50))}  {_ms(percentile(r.latencies, 99))}"
            f"  {total / per:11.2f}  {polls / per:10.2f}  {r.bot_cpu * 1000 / per:16.2f}"
            f"  {r.bot_cpu / r.seconds:7.2f}  {r.crowd_cpu / r.seconds:9.2f}  {other}"
        )
    print()


def print_summary(rounds: list[Round]) -> float:
    """Best and median per bot, the per-method calls, and the ratio; returns the ratio."""
    rates: dict[str, list[float]] = {LABELGRAM: [], BARE: []}
    for r in rounds:
        rates[r.bot].append(r.rate)
    for bot in (LABELGRAM, BARE):
        mine = [r for r in rounds if r.bot == bot]
        labels = sum(r.labels for r in mine) or 1
        calls: Counter[str] = Counter()
        for r in mine:
            calls.update(r.calls)
        polls = calls.pop("getUpdates", 0)
        per_method = ", ".join(f"{m} {n / labels:.2f}" for m, n in calls.most_common())
        lat = [x for r in mine for x in r.latencies]
        workers = [n for r in mine for n in r.per_worker]
        print(
            f"{bot:<10} labels/s best {max(rates[bot]):6.1f}, median "
            f"{statistics.median(rates[bot]):6.1f}; tap→next card p50 "
            f"{percentile(lat, 50) * 1000:.1f} ms, p99 {percentile(lat, 99) * 1000:.1f} ms"
        )
        print(
            f"{'':<10} per label: {per_method}; getUpdates {polls / labels:.2f}; "
            f"labels per worker min {min(workers)}, median {statistics.median(workers):g}, "
            f"max {max(workers)}"
        )
    median = statistics.median(rates[LABELGRAM]) / statistics.median(rates[BARE])
    best = max(rates[LABELGRAM]) / max(rates[BARE])
    cost = {
        bot: sum(r.bot_cpu for r in rounds if r.bot == bot)
        / max(sum(r.labels for r in rounds if r.bot == bot), 1)
        for bot in (LABELGRAM, BARE)
    }
    verdict = "PASS" if median >= TARGET else "FAIL"
    print()
    print(
        f"bot CPU per label: Labelgram {cost[LABELGRAM] * 1000:.2f} ms, bare "
        f"{cost[BARE] * 1000:.2f} ms (bare/Labelgram {cost[BARE] / cost[LABELGRAM]:.2f})"
    )
    crowd_bound = [r for r in rounds if r.crowd_cpu / r.seconds >= SATURATED]
    if crowd_bound:
        print(
            f"NOTE: the crowd process was near a full core in {len(crowd_bound)} round(s): "
            "there the rate measures the crowd as much as the bot (compare bot CPU ms/label)"
        )
    others = [r.other_load for r in rounds if r.other_load is not None]
    if others and max(others) > NOISY:
        print(
            f"WARNING: processes outside this benchmark kept up to {max(others):.2f} cores busy "
            "during a round; the rates are not clean (rerun on an idle machine)"
        )
    print(
        f"ratio Labelgram/bare labels/s: median {median:.2f}, best {best:.2f} "
        f"(target ≥ {TARGET}): {verdict}"
    )
    return median


# --------------------------------------------------------------------------- main


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_loop", description=__doc__)
    parser.add_argument("--workers", type=int, default=50, help="simulated workers (50)")
    parser.add_argument("--samples", type=int, default=2000, help="samples per round (2000)")
    parser.add_argument("--overlap", type=int, default=1, help="labels per sample (1)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each bot (2)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the crowd and the order")
    parser.add_argument(
        "--pool",
        type=int,
        help="HTTP connection pool of both bots (default: python-telegram-bot's, as Labelgram)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="cProfile the bot's event loop; write DIR/labelgram.pstats and DIR/bare.pstats",
    )
    return parser


async def run(args: argparse.Namespace) -> int:
    """Alternate the bots round by round; print the table; 1 if any round lost labels."""
    spec = bench_spec(args.overlap)
    samples = bench_samples(args.samples)
    concurrent = Settings(token="1:x").concurrent_updates  # Labelgram's own setting
    print_machine(args, concurrent)
    profilers = {bot: cProfile.Profile() for bot in (LABELGRAM, BARE)} if args.profile else {}
    first = random.Random(args.seed).choice([(BARE, LABELGRAM), (LABELGRAM, BARE)])
    link = CrowdLink(args.workers, args.seed)
    rounds: list[Round] = []
    try:
        for number in range(1, args.rounds + 1):
            order = first if number % 2 else first[::-1]  # A B, B A, A B, ...
            for bot in order:
                if bot == LABELGRAM:
                    result = await run_labelgram(
                        link, number, spec, samples, args.pool, profilers.get(bot)
                    )
                else:
                    result = await run_bare(
                        link, number, spec, samples, concurrent, args.pool, profilers.get(bot)
                    )
                rounds.append(result)
                print(
                    f"  round {number} {bot}: {result.labels} labels in {result.seconds:.1f} s",
                    file=sys.stderr,
                )
    finally:
        link.close()
    print_rounds(rounds)
    print_summary(rounds)
    for bot, profiler in profilers.items():
        args.profile.mkdir(parents=True, exist_ok=True)
        path = args.profile / f"{bot}.pstats"
        profiler.dump_stats(path)
        print(f"\nprofile of the {bot} rounds written to {path}; top by own time:")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(12)
    problems = [f"round {r.number} {r.bot}: {p}" for r in rounds for p in r.problems]
    for p in problems:
        print(f"PROBLEM {p}", file=sys.stderr)
    return 1 if problems else 0


def main() -> int:
    """Parse the options and run the benchmark."""
    args = _parser().parse_args()
    if min(args.workers, args.samples, args.rounds) < 1 or (
        args.pool is not None and args.pool < 1
    ):
        print("--workers, --samples, --rounds and --pool must be at least 1", file=sys.stderr)
        return 2
    if not 1 <= args.overlap <= min(args.workers, 50):
        print("--overlap must be between 1 and min(--workers, 50)", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
