"""Benchmark: the labeling loop over HTTP, the card flows under Telegram's limits (issue 13).

One run, two parts:

1. **Limits on** (the sandbox enforces Telegram's limits: 30 messages/s for the bot, 1/s per
   chat with a burst of 20; the bot's FloodGuard pacing on): Labelgram with
   `card_flow = "edit"` against `card_flow = "new"`, 50 workers. Labels/s, tap-to-next-card
   latency, and Bot API calls per label without getUpdates, per method and per phase: the
   first `edge` labels (joins, guides, first cards), the steady state in between and the
   last `edge` labels (all-done notes and the markers above them). Targets: `edit` at 2.0
   calls per label in steady state, ≤ 2.1 counting everything, ≥ 25 labels/s.
2. **Limits off**: Labelgram (edit flow, no pacing) against a bare python-telegram-bot bot
   that makes the same calls per label (answerCallbackQuery + editMessageText of the tapped
   message into the next card, its buttons included) with no storage and no checks. The
   result is a ratio (Labelgram's median rate over the bare median); target ≥ 0.8.

The crowd never taps sooner than the project's `min_read` (0.3 s) after a card arrived, for
both bots alike (the bare bot has no guard). With limits off the 50 workers of part 1 would
then cap the rate near 50 / 0.3 s whatever the bot does, so part 2 runs more workers
(`--free-workers`, 100) so that the bot, not the reading time, is the bottleneck; the CPU
columns show it (the bot's process near one core).

Prints figures; exits 1 only if a round lost labels (a Labelgram database must hold exactly
samples x overlap live labels with every sample finished; every round's crowd must tap them).

The sandbox server and the crowd (sandbox.crowd's workers, each with its own HTTP client) run
in a child process, the bot under test in this one, so the bot has a core of its own on a
two-core machine. Within each part the rounds alternate (A B B A ...) so drift and warm-up hit
both sides alike.

    python -m bench.bench_loop                    # the issue's run (~15 min on 2 cores)
    python -m bench.bench_loop --samples 500 --free-samples 1000 --rounds 1   # a quick look
    python -m bench.bench_loop --pool 16          # both bots with a 16-connection HTTP pool
    python -m bench.bench_loop --profile /tmp     # cProfile the limits-off rounds (slows them)
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

LIMITS, FREE = "limits on", "limits off"
EDIT, NEW, LABELGRAM, BARE = "edit", "new", "labelgram", "bare"
TARGET_RATIO = 0.8  # limits off: Labelgram's labels/s over the bare bot's
TARGET_RATE = 25.0  # limits on: the edit flow's labels/s, of the ~30 messages/s a bot may send
TARGET_STEADY = 2.0  # edit flow, calls per label in steady state (to one decimal)
TARGET_OVERALL = 2.1  # edit flow, calls per label counting joins, guides and all-done notes
POLL = "getUpdates"  # not counted in calls per label (the measure)
NOISY = 0.25  # cores used by other processes during a round before the figures are suspect
SATURATED = 0.85  # cores the crowd process used: near one, it limits the rate, not the bot
# As fast as a thumb can go (no thinking, no skipping) but never sooner than min_read after
# the card arrived; accuracy does not change the bot's work (the bench project has no gold).
TAPPER = Profile("careful", accuracy=0.9, think_s=0.0)
NO_LIMITS = RateLimits(None, 30, None, 20)
PHASES = ("head", "steady", "tail")

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


@dataclass(frozen=True)
class RoundPlan:
    """What the child sets up for one round."""

    limited: bool  # the sandbox enforces Telegram's limits
    workers: int
    min_read: float  # the project's: nobody taps sooner after a card arrived
    labels: int  # the labels the round should end with
    edge: int  # labels at each end left out of the steady state


# (labels tapped, calls per method, 429s served, seconds since the crowd started)
Mark = tuple[int, dict[str, int], int, float]


class PhaseMarks:
    """Snapshots of the sandbox's call counters at the edges of the steady state.

    Taken when the crowd has tapped `edge` labels and when it has `edge` left: the calls
    before the first mark are the head (joins, guides, first cards), those after the second
    the tail (all-done notes, markers), those in between the steady state.
    """

    def __init__(self, sandbox: SandboxServer, plan: RoundPlan) -> None:
        self.sandbox, self.plan = sandbox, plan
        self.tapped = 0
        self.marks: list[Mark] = []
        self.base_429 = self._too_many()
        self.started = time.perf_counter()

    def _too_many(self) -> int:
        return int(self.sandbox.stats()["too_many_requests"])

    def snapshot(self) -> Mark:
        """Labels tapped, calls per method, 429s served and seconds since the start, now."""
        return (
            self.tapped,
            dict(self.sandbox.calls),
            self._too_many() - self.base_429,
            time.perf_counter() - self.started,
        )

    def tick(self) -> None:
        """One label tapped (the crowd's on_label)."""
        self.tapped += 1
        if self.tapped in (self.plan.edge, self.plan.labels - self.plan.edge):
            self.marks.append(self.snapshot())


def _crowd_process(conn: Connection, seed: int) -> None:
    """Child process: one sandbox per round, and the crowd that taps through it."""
    logging.basicConfig(level=logging.WARNING)
    try:
        asyncio.run(_crowd_serve(conn, seed))
    finally:
        conn.close()


async def _crowd_serve(conn: Connection, seed: int) -> None:
    """Serve rounds until told to quit: start a sandbox, wait for the bot, run the crowd."""
    while True:
        command = await asyncio.to_thread(conn.recv)
        if command[0] == "quit":
            return
        plan: RoundPlan = command[1]
        limits = RateLimits() if plan.limited else NO_LIMITS
        async with SandboxServer(limits=limits) as sandbox:
            conn.send(("ready", sandbox.url, sandbox.bot_api_url, sandbox.file_url, sandbox.token))
            _, invite = await asyncio.to_thread(conn.recv)  # ("go", code): the bot is polling
            sandbox.reset_calls()
            marks = PhaseMarks(sandbox, plan)
            crowd = Crowd(
                sandbox.url,
                invite,
                {},
                [TAPPER] * plan.workers,
                seed=seed,
                min_read_s=plan.min_read,
                on_label=marks.tick,
            )
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
                        "marks": [*marks.marks, marks.snapshot()],
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

    def __init__(self, seed: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_crowd_process, args=(child, seed), name="bench-crowd", daemon=True
        )
        self.process.start()
        child.close()  # so a dead child shows up here as EOFError, not a hang

    async def recv(self) -> Any:
        """The next message from the child (without blocking the bot's event loop)."""
        return await asyncio.to_thread(self.conn.recv)

    async def sandbox(self, plan: RoundPlan) -> tuple[str, str, str, str]:
        """Ask for a fresh sandbox; return (url, bot_api_url, file_url, token)."""
        self.conn.send(("round", plan))
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


# --------------------------------------------------------------------------- rounds


@dataclass
class Round:
    """One timed run of one bot."""

    part: str
    bot: str
    number: int
    labels: int
    seconds: float
    latencies: list[float]
    calls: dict[str, int]
    too_many: int  # 429s the sandbox served
    # Per phase (head, steady, tail): labels tapped, calls per method, 429s, seconds; empty
    # when the round was too short for a steady state or lost labels.
    phases: dict[str, Mark]
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


def _minus(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: n for k in a if (n := a[k] - b.get(k, 0))}


def _phases(marks: list[Mark]) -> dict[str, Mark]:
    """Head, steady and tail from the child's snapshots (two marks and the final count)."""
    if len(marks) != 3:
        return {}
    zero: Mark = (0, {}, 0, 0.0)
    out = {}
    for name, before, after in zip(PHASES, [zero, *marks[:-1]], marks, strict=True):
        out[name] = (
            after[0] - before[0],
            _minus(after[1], before[1]),
            after[2] - before[2],
            after[3] - before[3],
        )
    return out


def _round(
    part: str,
    bot: str,
    number: int,
    report: dict[str, Any],
    bot_cpu: float,
    machine_cpu: float | None,
) -> Round:
    per_worker: list[int] = report["per_worker"]
    problems = list(report["errors"])
    if report["unfinished"]:
        problems.append(f"{report['unfinished']} workers never got the all-done message")
    _, calls, too_many, _ = report["marks"][-1]
    return Round(
        part=part,
        bot=bot,
        number=number,
        labels=sum(per_worker),
        seconds=report["seconds"],
        latencies=report["latencies"],
        calls=calls,
        too_many=too_many,
        phases=_phases(report["marks"]),
        bot_cpu=bot_cpu,
        crowd_cpu=report["cpu"],
        per_worker=per_worker,
        machine_cpu=machine_cpu,
        problems=problems,
    )


def bench_spec(overlap: int) -> ProjectSpec:
    """The demo project (three options, two languages, no gold), with the bench's overlap."""
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


@dataclass(frozen=True)
class Setup:
    """What both sides of one part share."""

    part: str
    spec: ProjectSpec
    samples: list[SampleIn]
    workers: int
    pool: int | None
    concurrent: int

    @property
    def labels(self) -> int:
        """Labels a round ends with."""
        return len(self.samples) * self.spec.overlap

    def plan(self) -> RoundPlan:
        """The child's part of a round: steady state = all but 3 labels per worker (at least
        a tenth of the round) at each end, or none when the round is too short."""
        edge = max(3 * self.workers, self.labels // 10)
        if 2 * edge >= self.labels:
            edge = self.labels  # no steady state: the marks are never reached
        return RoundPlan(
            limited=self.part == LIMITS,
            workers=self.workers,
            min_read=self.spec.min_read,
            labels=self.labels,
            edge=edge,
        )


async def run_labelgram(
    link: CrowdLink, setup: Setup, bot: str, number: int, profiler: cProfile.Profile | None
) -> Round:
    """A fresh database, the real bot over HTTP, the crowd; then check every label landed."""
    spec = setup.spec.model_copy(update={"card_flow": NEW if bot == NEW else EDIT})
    limited = setup.part == LIMITS
    _, api, files, token = await link.sandbox(setup.plan())
    with tempfile.TemporaryDirectory(prefix="bench-loop-") as tmp:
        db_path = Path(tmp) / "bench.db"
        repo = Repository(db_path)
        await repo.open()
        project = await repo.create_project(spec)
        await repo.import_samples(project.id, setup.samples)
        invite = await repo.create_invite(project.id, Role.WORKER)
        settings = Settings(
            token=token,
            bot_api_url=api,
            bot_file_url=files,
            db_path=db_path,
            rate_limit=limited,  # FloodGuard pacing where the sandbox enforces the limits
            admins=[],
        )
        app = build_application(settings, repo, request=_request(setup.pool))
        async with polling(app):
            report, cpu, machine = await link.run_crowd(invite, profiler)
            status = await repo.project_status(project.id)
            live = len(await repo.live_labels(project.id))
        link.stop_sandbox()
    result = _round(setup.part, bot, number, report, cpu, machine)
    if live != setup.labels:
        result.problems.append(f"database holds {live} live labels, expected {setup.labels}")
    if status.samples_done != status.samples or status.samples != len(setup.samples):
        result.problems.append(
            f"{status.samples_done}/{status.samples} samples finished, "
            f"expected {len(setup.samples)}"
        )
    if result.labels != setup.labels:
        result.problems.append(f"the crowd tapped {result.labels} labels, expected {setup.labels}")
    return result


def _request(pool: int | None) -> HTTPXRequest | None:
    """The bot's HTTP client: PTB's default (None), or a pool of `pool` connections."""
    # A small pool makes requests queue for a connection: wait for it rather than fail.
    return None if pool is None else HTTPXRequest(connection_pool_size=pool, pool_timeout=30)


class BareBot:
    """Labelgram's edit flow with no storage and no checks: the same Bot API calls."""

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
        app.add_error_handler(self.error)
        app.add_handlers(
            [
                CommandHandler("start", self.start),
                CallbackQueryHandler(self.go, pattern=r"^v1:go:"),
                CallbackQueryHandler(self.label, pattern=r"^v1:l:"),
            ]
        )
        return app

    async def error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log a failed call in one line (an answer after Telegram's 15 s, in a slow round)."""
        logging.getLogger(__name__).warning("bare bot: %s", context.error)

    def _next_card(self) -> tuple[str, InlineKeyboardMarkup] | None:
        """The next card (Labelgram's text and keyboard layout), or None when all are out."""
        if self.handed >= self.total:
            return None
        self.handed += 1
        n = self.handed
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
        """Answer the Start tap and send the first card as a new message."""
        query = update.callback_query
        if query is None:
            return
        card = self._next_card()
        user_id = query.from_user.id
        if card is None:
            await asyncio.gather(query.answer(), context.bot.send_message(user_id, self.done))
            return
        text, markup = card
        await asyncio.gather(
            query.answer(), context.bot.send_message(user_id, text, reply_markup=markup)
        )

    async def label(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer the tap and edit the tapped card into the next one: two calls, as
        Labelgram's edit flow. At the end, as Labelgram: a marker on the card, the note below."""
        query = update.callback_query
        if query is None or query.data is None:
            return
        option = self.options[int(query.data.rsplit(":", 1)[1])]
        card = self._next_card()
        if card is None:
            marker = InlineKeyboardMarkup(
                [[InlineKeyboardButton(f"✓ {option}", callback_data="v1:n")]]
            )
            await asyncio.gather(
                query.answer(f"Saved: {option}"),
                query.edit_message_reply_markup(marker),
                context.bot.send_message(query.from_user.id, self.done),
            )
            return
        text, markup = card
        await asyncio.gather(
            query.answer(f"Saved: {option}"), query.edit_message_text(text, reply_markup=markup)
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
    link: CrowdLink, setup: Setup, number: int, profiler: cProfile.Profile | None
) -> Round:
    """The bare bot over HTTP, the same crowd, the same number of labels."""
    _, api, files, token = await link.sandbox(setup.plan())
    bare = BareBot(setup.spec, [s.text or "" for s in setup.samples], setup.labels)
    app = bare.build(api, files, token, setup.concurrent, setup.pool)
    async with ptb_polling(app):
        report, cpu, machine = await link.run_crowd("bench", profiler)
    link.stop_sandbox()
    result = _round(setup.part, BARE, number, report, cpu, machine)
    if result.labels != setup.labels:
        result.problems.append(f"the crowd tapped {result.labels} labels, expected {setup.labels}")
    return result


# --------------------------------------------------------------------------- report


def print_machine(args: argparse.Namespace, spec: ProjectSpec, concurrent: int) -> None:
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
        f"crowd:    workers tap as soon as the project's min_read allows ({spec.min_read:g} s "
        "after the card arrived), no skips; the bench project (the demo's) has no gold tasks"
    )
    print(
        f"part 1:   {LIMITS}: sandbox like Telegram ({RateLimits().describe()}), "
        f"Labelgram's FloodGuard on; {args.workers} workers, {args.samples} samples x overlap "
        f"{args.overlap} = {args.samples * args.overlap} labels per round; "
        f"card_flow {EDIT} vs {NEW}"
    )
    print(
        f"part 2:   {FREE}: no pacing; {args.free_workers} workers (more than 50: with "
        f"{spec.min_read:g} s reading time 50 would cap the rate, not the bot), "
        f"{args.free_samples} samples x overlap {args.overlap} = "
        f"{args.free_samples * args.overlap} labels per round; Labelgram ({EDIT}) vs a bare "
        "python-telegram-bot bot making the same calls"
    )
    print(
        f"both:     concurrent_updates {concurrent}; HTTP pool "
        f"{args.pool or 'python-telegram-bot default'}; {args.rounds} round(s) of each side "
        "per part, alternating A B B A"
    )
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(
        "process:  bot under test in this process; sandbox + crowd (an HTTP client per worker) "
        "in a child process" + (f"; load average before the run {load[0]:.2f}" if load else "")
    )
    print(flush=True)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f}"


def _per_label(calls: dict[str, int], labels: int) -> float:
    return sum(n for m, n in calls.items() if m != POLL) / max(labels, 1)


def print_rounds(rounds: list[Round]) -> None:
    """One row per round; calls per label leave getUpdates out (its own column); CPU columns
    are in cores (1.00 = one core busy the whole round)."""
    print(
        "part        round  bot        labels   secs  labels/s   p50 ms   p99 ms  calls/label"
        "  steady calls/label, labels/s  429s  getUpdates/label  bot CPU ms/label  bot CPU"
        "  crowd CPU  other CPU"
    )
    for r in rounds:
        per = r.labels or 1
        steady = r.phases.get("steady")
        steady_text = (
            f"{_per_label(steady[1], steady[0]):19.2f}, {steady[0] / steady[3]:8.1f}"
            if steady and steady[3]
            else f"{'-':>19}  {'-':>8}"
        )
        other = "        ?" if r.other_load is None else f"{r.other_load:9.2f}"
        print(
            f"{r.part:<10}  {r.number:>5}  {r.bot:<9} {r.labels:>7} {r.seconds:6.1f} "
            f"{r.rate:9.1f}  {_ms(percentile(r.latencies, 50))}  "
            f"{_ms(percentile(r.latencies, 99))}  {_per_label(r.calls, per):11.2f}  "
            f"{steady_text}  {r.too_many:4}  {r.calls.get(POLL, 0) / per:16.2f}  "
            f"{r.bot_cpu * 1000 / per:16.2f}  {r.bot_cpu / r.seconds:7.2f}  "
            f"{r.crowd_cpu / r.seconds:9.2f}  {other}"
        )
    print()


def _breakdown(calls: Counter[str], labels: int) -> str:
    """Calls per label by method, getUpdates left out; the total first."""
    rest = Counter({m: n for m, n in calls.items() if m != POLL})
    methods = ", ".join(f"{m} {n / labels:.3f}" for m, n in rest.most_common())
    return f"{sum(rest.values()) / labels:.3f} ({methods})"


def _phase_counts(calls: Counter[str], rounds: int) -> str:
    """Calls per round by method, getUpdates left out."""
    rest = Counter({m: n for m, n in calls.items() if m != POLL})
    return ", ".join(f"{m} {n / rounds:g}" for m, n in rest.most_common()) or "none"


def print_side(rounds: list[Round], bot: str) -> dict[str, float]:
    """One side's rates, latency and calls (overall and per phase); returns its medians."""
    mine = [r for r in rounds if r.bot == bot]
    rates = [r.rate for r in mine]
    labels = sum(r.labels for r in mine) or 1
    calls: Counter[str] = Counter()
    for r in mine:
        calls.update(r.calls)
    lat = [x for r in mine for x in r.latencies]
    workers = [n for r in mine for n in r.per_worker]
    print(
        f"{bot:<9} labels/s median {statistics.median(rates):6.1f} (rounds: "
        f"{', '.join(f'{x:.1f}' for x in rates)}); tap→next card p50 "
        f"{percentile(lat, 50) * 1000:.0f} ms, p99 {percentile(lat, 99) * 1000:.0f} ms; "
        f"labels per worker min {min(workers)}, median {statistics.median(workers):g}, "
        f"max {max(workers)}; 429s {sum(r.too_many for r in mine)}"
    )
    print(f"{'':<9} calls/label overall {_breakdown(calls, labels)}")
    out = {"rate": statistics.median(rates), "overall": _per_label(dict(calls), labels)}
    phased = [r for r in mine if r.phases]
    if phased:
        for name in PHASES:
            n = sum(r.phases[name][0] for r in phased) or 1
            secs = sum(r.phases[name][3] for r in phased)
            got: Counter[str] = Counter()
            for r in phased:
                got.update(r.phases[name][1])
            too_many = sum(r.phases[name][2] for r in phased)
            if name == "steady":
                print(
                    f"{'':<9} steady    {n // len(phased)} labels/round at {n / secs:.1f} "
                    f"labels/s, calls/label {_breakdown(got, n)}; 429s per label "
                    f"{too_many / n:.3f}"
                )
                out["steady"] = _per_label(dict(got), n)
                out["steady_rate"] = n / secs
            else:
                print(
                    f"{'':<9} {name:<9} {n // len(phased)} labels/round in "
                    f"{secs / len(phased):.1f} s, calls per round: "
                    f"{_phase_counts(got, len(phased))}; 429s {too_many / len(phased):g}"
                )
    return out


def print_summary(rounds: list[Round]) -> None:
    """Each side's figures, then the issue's targets."""
    figures: dict[str, dict[str, float]] = {}
    for part, sides in ((LIMITS, (EDIT, NEW)), (FREE, (LABELGRAM, BARE))):
        mine = [r for r in rounds if r.part == part]
        if not mine:
            continue
        print(f"— {part}")
        for bot in sides:
            figures[bot] = print_side(mine, bot)
        print()
    for part in (LIMITS, FREE):
        mine = [r for r in rounds if r.part == part]
        cost = {
            bot: sum(r.bot_cpu for r in mine if r.bot == bot)
            / max(sum(r.labels for r in mine if r.bot == bot), 1)
            for bot in {r.bot for r in mine}
        }
        if cost:
            print(
                f"bot CPU per label, {part}: "
                + ", ".join(f"{bot} {ms * 1000:.2f} ms" for bot, ms in sorted(cost.items()))
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
    print()

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    edit = figures[EDIT]
    print(
        f"{LIMITS}: edit {edit['rate']:.1f} labels/s (target ≥ {TARGET_RATE:g}): "
        f"{verdict(edit['rate'] >= TARGET_RATE)}; new {figures[NEW]['rate']:.1f} labels/s; "
        f"edit/new {edit['rate'] / figures[NEW]['rate']:.2f}"
    )
    if "steady_rate" in edit and "steady_rate" in figures[NEW]:
        print(
            f"{LIMITS}: in steady state edit {edit['steady_rate']:.1f} labels/s, new "
            f"{figures[NEW]['steady_rate']:.1f} labels/s (pooled over the rounds' steady states)"
        )
    if "steady" in edit:
        print(
            f"{LIMITS}: edit calls/label in steady state {edit['steady']:.3f} (target "
            f"{TARGET_STEADY:.1f}, to one decimal): "
            f"{verdict(round(edit['steady'], 1) <= TARGET_STEADY)}"
        )
    print(
        f"{LIMITS}: edit calls/label overall {edit['overall']:.3f} (target ≤ {TARGET_OVERALL}, "
        f"with joins, guides and all-done notes): {verdict(edit['overall'] <= TARGET_OVERALL)}"
    )
    if LABELGRAM in figures:
        ratio = figures[LABELGRAM]["rate"] / figures[BARE]["rate"]
        print(
            f"{FREE}: ratio Labelgram/bare labels/s, medians {ratio:.2f} (target ≥ "
            f"{TARGET_RATIO}): {verdict(ratio >= TARGET_RATIO)}"
        )


# --------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    """The command line (the smoke test parses a tiny run with it)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_loop",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--workers", type=int, default=50, help="simulated workers, limits on (50)"
    )
    parser.add_argument(
        "--samples",
        type=int,
        default=2500,
        help="samples per round, limits on (2500: 50 labels per worker at 50 workers)",
    )
    parser.add_argument(
        "--free-workers", type=int, default=100, help="simulated workers, limits off (100)"
    )
    parser.add_argument(
        "--free-samples", type=int, default=3000, help="samples per round, limits off (3000)"
    )
    parser.add_argument("--overlap", type=int, default=1, help="labels per sample (1)")
    parser.add_argument(
        "--rounds", type=int, default=2, help="rounds of each side in each part (2)"
    )
    parser.add_argument(
        "--part",
        choices=("both", "limits", "free"),
        default="both",
        help="run only one part (both)",
    )
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
        help="cProfile the bot's event loop in the limits-off rounds; write "
        "DIR/labelgram.pstats and DIR/bare.pstats",
    )
    return parser


async def measure(
    args: argparse.Namespace, profilers: dict[str, cProfile.Profile] | None = None
) -> list[Round]:
    """Run the parts `args` asks for, each alternating its two sides round by round."""
    spec = bench_spec(args.overlap)
    concurrent = Settings(token="1:x").concurrent_updates  # Labelgram's own setting
    profilers = profilers or {}
    order = random.Random(args.seed)
    parts = []
    if args.part in ("both", "limits"):
        samples = bench_samples(args.samples)
        setup = Setup(LIMITS, spec, samples, args.workers, args.pool, concurrent)
        parts.append((setup, EDIT, NEW))
    if args.part in ("both", "free"):
        samples = bench_samples(args.free_samples)
        setup = Setup(FREE, spec, samples, args.free_workers, args.pool, concurrent)
        parts.append((setup, LABELGRAM, BARE))
    link = CrowdLink(args.seed)
    rounds: list[Round] = []
    try:
        for setup, a, b in parts:
            first = order.choice([(a, b), (b, a)])
            for number in range(1, args.rounds + 1):
                for bot in first if number % 2 else first[::-1]:  # A B, B A, A B, ...
                    if bot == BARE:
                        result = await run_bare(link, setup, number, profilers.get(bot))
                    else:
                        result = await run_labelgram(link, setup, bot, number, profilers.get(bot))
                    rounds.append(result)
                    print(
                        f"  {setup.part} round {number} {bot}: {result.labels} labels in "
                        f"{result.seconds:.1f} s",
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        link.close()
    return rounds


async def run(args: argparse.Namespace) -> int:
    """Measure; print the tables; 1 if a round lost labels."""
    print_machine(args, bench_spec(args.overlap), Settings(token="1:x").concurrent_updates)
    profilers = {bot: cProfile.Profile() for bot in (LABELGRAM, BARE)} if args.profile else {}
    rounds = await measure(args, profilers)
    print_rounds(rounds)
    if args.part == "both":
        print_summary(rounds)
    else:
        for bot in sorted({r.bot for r in rounds}):
            print_side(rounds, bot)
    for bot, profiler in profilers.items():
        args.profile.mkdir(parents=True, exist_ok=True)
        path = args.profile / f"{bot}.pstats"
        profiler.dump_stats(path)
        print(f"\nprofile of the {bot} rounds written to {path}; top by own time:")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(12)
    problems = [f"{r.part} round {r.number} {r.bot}: {p}" for r in rounds for p in r.problems]
    for p in problems:
        print(f"PROBLEM {p}", file=sys.stderr)
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    """Parse the options and run the benchmark."""
    args = build_parser().parse_args(argv)
    counts = (args.workers, args.samples, args.free_workers, args.free_samples, args.rounds)
    if min(counts) < 1 or (args.pool is not None and args.pool < 1):
        print(
            "--workers, --samples, --free-workers, --free-samples, --rounds and --pool must be "
            "at least 1",
            file=sys.stderr,
        )
        return 2
    if not 1 <= args.overlap <= min(args.workers, args.free_workers, 50):
        print(
            "--overlap must be between 1 and min(--workers, --free-workers, 50)", file=sys.stderr
        )
        return 2
    logging.basicConfig(level=logging.WARNING)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
