"""The fault harness: the real bot as its own process, killed at random while workers label.

The sandbox runs in this process; `labelgram run` runs as a child pointed at it and is killed
with SIGKILL at random moments, then started again. Simulated workers label the whole time the
way people do: they tap, wait for the answer, take the newest card, and send `/start` only
when they have had no card for a long while (each such rescue is counted: the target is 0).
Optionally the sandbox answers 429 to a share of sends for a while (a flood storm).

At the end the database and the sandbox are checked: every acknowledged label is stored with
the option the worker saw confirmed, no worker labeled a sample twice, the sample counters
equal the live labels and open cards, SQLite's integrity check passes, every worker holds a
live card (or was told there is no more work), and every tap was answered.

Used by `tests/faults/` (small) and `bench/bench_faults.py` (full size).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from config.project import ProjectSpec
from sandbox import client as sandbox_client
from sandbox.client import SandboxUser, buttons
from sandbox.server import RateLimits, SandboxServer
from storage.backup import COUNTER_ERRORS_SQL, DUPLICATE_LABELS_SQL
from storage.models import Role, SampleIn
from storage.repository import Repository

JSON = dict[str, Any]
ADMIN = 999  # the admin's user id: restart notices and error alerts go to them


def forged_payload(rng: random.Random, real: list[str]) -> str:
    """Callback data a tampering client might send: mutated real data, other kinds, junk."""
    base = rng.choice(real)
    kind = rng.randrange(6)
    if kind == 0:  # another assignment or option
        head, _, tail = base.rpartition(":")
        if rng.random() < 0.5:
            return f"{head}:{rng.choice([-1, 3, 9, 10**6, 2**63])}"
        return f"v1:l:{rng.randrange(-5, 10**9)}:{tail}"
    if kind == 1:  # non-ASCII and control characters (lone surrogates: JSON cannot carry them)
        return base + rng.choice(["é", "한", "\x00", "\u202e", "\ufeff"])
    if kind == 2:  # other kinds with plausible fields
        kinds = ["v", "s", "r", "rr", "rb", "go", "g", "lang", "n", "x"]
        fields = (str(rng.randrange(-3, 10**6)) for _ in range(rng.randrange(0, 4)))
        return f"v1:{rng.choice(kinds)}:" + ":".join(fields)
    if kind == 3:  # wrong version or separators
        return base.replace("v1", rng.choice(["v0", "v2", "V1", ""]), 1)
    if kind == 4:  # random text
        return "".join(chr(rng.randrange(32, 0xD000)) for _ in range(rng.randrange(0, 80)))
    return base[: rng.randrange(len(base) + 1)]  # truncated


@dataclass(frozen=True)
class FaultPlan:
    """How hard to push: workers, data, kills and an optional flood storm."""

    workers: int = 8
    samples: int = 120
    overlap: int = 3
    kills: int = 10
    life_s: tuple[float, float] = (0.3, 1.2)  # how long the bot lives between kills
    settle_s: float = 4.0  # after the last start: let the workers go on, then check
    storm_s: float = 0.0  # a 429 storm this long, starting with the first kill-free stretch
    storm_share: float = 1.0  # share of sends refused during the storm
    retry_after: int = 1
    answer_wait_s: float = 15.0  # a tap unanswered this long counts as unanswered
    stuck_s: float = 20.0  # no card this long: the worker sends /start (a rescue)
    seed: int = 1
    rate_limiter: bool = True  # pace sends at Telegram's 30/s (LABELGRAM_RATE_LIMIT)
    skip_share: float = 0.04  # of cards skipped
    report_share: float = 0.03  # of cards reported (Report, then a reason)
    undo_share: float = 0.03  # of labels followed by /undo
    replay_all: bool = True  # at the end: every stored update handled a second time
    fuzz: int = 0  # then this many forged button presses by one more worker
    card_flow: str = "new"  # "edit": the next card takes the answered card's message
    min_read_s: float = 0.3  # the project's min_read; workers never tap a card sooner


@dataclass
class FaultReport:
    """What the harness saw; `problems()` lists every broken promise."""

    kills: int = 0
    starts: int = 0
    taps: int = 0
    acknowledged: int = 0
    labels: int = 0
    unanswered: int = 0
    rescues: int = 0  # /start sent by a worker left without a card
    missing: list[str] = field(default_factory=list)  # acknowledged but not stored
    duplicates: int = 0
    counter_errors: int = 0
    integrity: str = ""
    without_card: list[int] = field(default_factory=list)
    undos: int = 0  # /undo commands sent
    extra_undos: int = 0  # labels taken back beyond the /undo commands sent
    replayed: int = 0  # updates handled a second time at the end
    replay_changes: list[str] = field(default_factory=list)  # what the second handling changed
    restart_notices: int = 0  # admin messages "restarted after an unclean stop"
    admin_alerts: int = 0  # any other admin message (an error alert)
    fuzzed: int = 0
    fuzz_changes: list[str] = field(default_factory=list)
    fuzz_unanswered: int = 0
    seconds: float = 0.0
    sandbox: JSON = field(default_factory=dict)

    def problems(self) -> list[str]:
        """Every target the run missed, one line each (empty: all met)."""
        found = []
        if self.missing:
            found.append(f"{len(self.missing)} acknowledged labels missing: {self.missing[:5]}")
        if self.duplicates:
            found.append(f"{self.duplicates} duplicate (worker, sample) labels")
        if self.counter_errors:
            found.append(f"{self.counter_errors} samples whose counters disagree with the rows")
        if self.integrity != "ok":
            found.append(f"integrity_check: {self.integrity}")
        if self.without_card:
            found.append(f"workers left without a card: {self.without_card}")
        if self.unanswered:
            found.append(f"{self.unanswered} taps never answered")
        if self.rescues:
            found.append(f"{self.rescues} /start rescues needed")
        if self.extra_undos:
            found.append(f"{self.extra_undos} labels taken back with no /undo for them")
        if self.replay_changes:
            found.append(f"replaying every update changed: {self.replay_changes}")
        if self.admin_alerts:
            found.append(f"{self.admin_alerts} error alerts to the admin")
        if self.fuzz_changes or self.fuzz_unanswered:
            found.append(
                f"forged presses changed {self.fuzz_changes}, {self.fuzz_unanswered} unanswered"
            )
        return found

    def summary(self) -> str:
        """One paragraph of figures."""
        return (
            f"{self.kills} kills, {self.starts} starts in {self.seconds:.1f} s; {self.taps} taps, "
            f"{self.acknowledged} acknowledged, {self.labels} labels stored; missing "
            f"{len(self.missing)}, duplicates {self.duplicates}, counter errors "
            f"{self.counter_errors}, integrity {self.integrity}; unanswered taps "
            f"{self.unanswered}, /start rescues {self.rescues}, workers without a card "
            f"{len(self.without_card)}; 429s served {self.sandbox.get('too_many_requests', '?')}; "
            f"/undo {self.undos} (extra {self.extra_undos}); {self.replayed} updates replayed, "
            f"changes {len(self.replay_changes)}; restart notices {self.restart_notices}, "
            f"admin alerts {self.admin_alerts}; {self.fuzzed} forged presses, changes "
            f"{len(self.fuzz_changes)}"
        )


def project_spec(plan: FaultPlan) -> ProjectSpec:
    """A three-option text project with no gold, so every tap is work."""
    return ProjectSpec.model_validate(
        {
            "slug": "faults",
            "name": "Fault harness",
            "question": "Which colour?",
            "guide": "Pick the colour the text names.",
            "overlap": plan.overlap,
            "assignment_timeout": 1800,
            "options": [
                {"id": "red", "text": "Red"},
                {"id": "green", "text": "Green"},
                {"id": "blue", "text": "Blue"},
            ],
            "quality": {"gold_rate": 0.0, "max_overlap": plan.overlap},
            "card_flow": plan.card_flow,
            "min_read": plan.min_read_s,
        }
    )


class BotProcess:
    """`labelgram run` as a child process against the sandbox."""

    def __init__(self, sandbox: SandboxServer, db: Path, plan: FaultPlan) -> None:
        self.sandbox = sandbox
        self.env = {
            **os.environ,
            "LABELGRAM_TOKEN": sandbox.token,
            "LABELGRAM_BOT_API_URL": sandbox.bot_api_url,
            "LABELGRAM_BOT_FILE_URL": sandbox.file_url,
            "LABELGRAM_DB_PATH": str(db),
            "LABELGRAM_ADMINS": str(ADMIN),
            "LABELGRAM_RATE_LIMIT": "true" if plan.rate_limiter else "false",
            "LABELGRAM_LOG_LEVEL": "WARNING",
        }
        self.proc: asyncio.subprocess.Process | None = None
        self.log = db.with_suffix(".log")

    async def start(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109 - a deadline
        """Start the bot and wait until it polls."""
        polls = self.sandbox.calls["getUpdates"]
        with self.log.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                "from cli.main import main; raise SystemExit(main(['run']))",
                env=self.env,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + timeout
        while self.sandbox.calls["getUpdates"] == polls:
            if self.proc.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the bot did not start; see {self.log}")
            await asyncio.sleep(0.01)

    async def kill(self) -> None:
        """SIGKILL: no clean-up of any kind."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    async def stop(self) -> None:
        """SIGTERM: a clean stop."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                await self.kill()


@dataclass
class _Worker:
    user: SandboxUser
    rng: random.Random
    card: JSON | None = None
    card_at: float = 0.0
    tapped: JSON | None = None  # the card last tapped: the edit flow shows the next one in it
    done: bool = False
    acked: dict[int, int] = field(default_factory=dict)  # assignment -> option idx
    undone: set[int] = field(default_factory=set)  # acked, then /undo sent


def _label_buttons(message: JSON) -> list[str]:
    return [data for _, data in buttons(message) if data.startswith("v1:l:")]


class FaultHarness:
    """One run of the plan; `run()` returns the report."""

    def __init__(self, plan: FaultPlan, workdir: Path) -> None:
        self.plan = plan
        self.workdir = workdir
        self.db = workdir / "faults.db"
        self.report = FaultReport()
        self._stop = asyncio.Event()
        self._invite = ""
        self._project_id = 0

    async def _prepare(self) -> None:
        async with Repository(self.db) as repo:
            project = await repo.create_project(project_spec(self.plan))
            samples = [
                SampleIn(ext_id=f"s{i}", text=f"sample {i}: {random.Random(i).random():.6f}")
                for i in range(self.plan.samples)
            ]
            await repo.import_samples(project.id, samples)
            self._invite = await repo.create_invite(project.id, Role.WORKER)
            self._project_id = project.id

    async def run(self) -> FaultReport:
        """Label under kills (and a storm, if planned); then check everything."""
        # A killed bot drops its requests mid-body: the sandbox's web server would log each.
        logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
        started = time.monotonic()
        await self._prepare()
        async with SandboxServer(limits=RateLimits(None, 30, None, 20)) as sandbox:
            bot = BotProcess(sandbox, self.db, self.plan)
            try:
                await self._run(bot, sandbox)
            finally:
                await bot.kill()  # a failed run must not leave a bot polling behind
        self.report.seconds = time.monotonic() - started
        return self.report

    async def _run(self, bot: BotProcess, sandbox: SandboxServer) -> None:
        """The run proper: label under chaos, then every check."""
        async with httpx.AsyncClient(timeout=30) as http:
            workers = [
                _Worker(
                    SandboxUser(sandbox.url, 1000 + i, f"Worker{i}", client=http),
                    random.Random(self.plan.seed * 1000 + i),
                )
                for i in range(self.plan.workers)
            ]
            admin = SandboxUser(sandbox.url, ADMIN, "Admin", client=http)
            await admin.create()
            await admin.send("/help")  # the admin's chat is open: alerts can reach it
            await bot.start()
            self.report.starts += 1
            tasks = [asyncio.create_task(self._label(w)) for w in workers]
            try:
                await self._chaos(bot, sandbox, http)
                await asyncio.sleep(self.plan.settle_s)
            finally:
                self._stop.set()
                results = await asyncio.gather(*tasks, return_exceptions=True)
            # Every tap is answered and every card delivered by now, or never.
            await self._await_quiet(sandbox)
            await bot.stop()
            for result in results:
                if isinstance(result, BaseException):
                    raise result
            self.report.sandbox = await sandbox_client.stats(sandbox.url, client=http)
            self._check_database(workers)
            await self._check_cards(workers)
            if self.plan.replay_all:
                await self._replay_all(bot, sandbox)
            if self.plan.fuzz:
                await self._fuzz(bot, sandbox, http)
            for message in await admin.messages_after(0):
                text = message.get("text") or ""
                if "unclean stop" in text:
                    self.report.restart_notices += 1
                elif "error" in text.lower():
                    self.report.admin_alerts += 1

    async def _chaos(
        self, bot: BotProcess, sandbox: SandboxServer, http: httpx.AsyncClient
    ) -> None:
        rng = random.Random(self.plan.seed)
        if self.plan.storm_s:
            await sandbox_client.storm(
                sandbox.url,
                self.plan.storm_s,
                retry_after=self.plan.retry_after,
                probability=self.plan.storm_share,
                client=http,
            )
            await asyncio.sleep(self.plan.storm_s)
        for _ in range(self.plan.kills):
            await asyncio.sleep(rng.uniform(*self.plan.life_s))
            await bot.kill()
            self.report.kills += 1
            await bot.start()
            self.report.starts += 1

    async def _label(self, w: _Worker) -> None:
        """One worker: join, then tap the newest card until told to stop."""
        user = w.user
        await user.create()
        await user.send(f"/start {self._invite}")
        w.card_at = time.monotonic()
        while not self._stop.is_set() and not w.done:
            for message in await self._changes(w):
                self._read(w, message)
            if w.done:
                return
            if w.card is None:
                if time.monotonic() - w.card_at > self.plan.stuck_s:
                    self.report.rescues += 1
                    await user.send("/start")
                    w.card_at = time.monotonic()
                continue
            await self._tap(w, w.card)

    async def _changes(self, w: _Worker) -> list[JSON]:
        """What came since the worker last looked (waiting up to 0.5 s): new messages, and in
        the edit flow the tapped card turned into the next one in place."""
        if w.tapped is None:
            return await w.user.messages_after(w.user.last_seen, 0.5)
        try:
            return [await w.user.next_card(w.tapped, timeout=0.5, notices=True)]
        except TimeoutError:
            return []

    def _read(self, w: _Worker, message: JSON) -> None:
        text = message.get("text") or message.get("caption") or ""
        if _label_buttons(message):
            w.card, w.card_at = message, time.monotonic()
        elif any(data.startswith("v1:go:") for _, data in buttons(message)):
            w.card, w.card_at = message, time.monotonic()  # the guide: its Start button
        elif "🎉" in text:
            w.done = True

    async def _tap(self, w: _Worker, card: JSON) -> None:
        user = w.user
        labels = _label_buttons(card)
        other = {d.split(":")[1]: d for _, d in buttons(card) if not d.startswith("v1:l:")}
        roll = w.rng.random()
        if "rr" in other:
            data = w.rng.choice([d for _, d in buttons(card) if d.startswith("v1:rr:")])
        elif labels and roll < self.plan.skip_share and "s" in other:
            data = other["s"]
        elif labels and roll < self.plan.skip_share + self.plan.report_share and "r" in other:
            data = other["r"]
        elif labels:
            data = w.rng.choice(labels)
        else:
            data = other.get("go", "")
            if not data:
                return
        # Nobody taps sooner than the project's min_read after the card came (it would not
        # count); then the answer decides what is on screen next.
        await asyncio.sleep(max(0.0, self.plan.min_read_s - (time.monotonic() - w.card_at)))
        self.report.taps += 1
        w.card = None
        w.tapped = card if self.plan.card_flow == "edit" else None
        query = await user.press(card, data=data, strict=False)
        answer = await user.answer(query, timeout=self.plan.answer_wait_s)
        if not answer["answered"]:
            self.report.unanswered += 1
            return
        saved = answer.get("text") or ""
        # "Saved": this tap's option is stored. ("Already saved" names an earlier answer.)
        if data.startswith("v1:l:") and saved.startswith("Saved"):
            _, _, assignment, option = data.split(":")
            if int(assignment) in w.acked and int(assignment) not in w.undone:
                self.report.missing.append(f"{w.user.user_id}:{assignment} saved twice")
            w.acked[int(assignment)] = int(option)
            self.report.acknowledged += 1
            if w.rng.random() < self.plan.undo_share:
                # Taken back labels are expected missing; the check counts the undos.
                w.undone.add(int(assignment))
                self.report.undos += 1
                await user.send("/undo")
        elif data.startswith("v1:r:") and answer["answered"]:
            await self._pick_reason(w, card)

    async def _pick_reason(self, w: _Worker, card: JSON) -> None:
        """After Report, the card's buttons turn into reasons: press one."""
        deadline = time.monotonic() + self.plan.answer_wait_s
        while time.monotonic() < deadline:
            shown = await w.user.message(card["message_id"])
            reasons = [d for _, d in buttons(shown) if d.startswith("v1:rr:")]
            if reasons:
                w.card = shown
                return
            if not any(d.startswith("v1:") for _, d in buttons(shown)):
                return  # retired meanwhile
            await asyncio.sleep(0.05)

    def _state(self) -> dict[str, list[Any]]:
        """What no replay may change: labels, cards, reports, invites, members, the log."""
        queries = {
            "labels": "SELECT id, assignment_id, option_id, retracted_at FROM labels",
            "assignments": "SELECT id, status, option_id FROM assignments",
            "reports": "SELECT id, assignment_id, reason FROM reports",
            "invites": "SELECT code, uses FROM invites",
            "members": "SELECT worker_id, project_id, role FROM memberships",
            # (the scheduled jobs' own entries come with time, not with updates)
            "events": "SELECT kind, COUNT(*) FROM events"
            " WHERE kind NOT IN ('quality.checked', 'assignments.expired') GROUP BY kind",
        }
        with sqlite3.connect(self.db) as db:
            return {name: db.execute(sql).fetchall() for name, sql in queries.items()}

    async def _replay_all(self, bot: BotProcess, sandbox: SandboxServer) -> None:
        """Hand every stored update to the handlers once more, as after a crash that lost
        every 'handled' mark; nothing they store may change."""
        before = self._state()
        with sqlite3.connect(self.db) as db:
            self.report.replayed = db.execute("UPDATE inbox SET handled_at = NULL").rowcount
        await bot.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with sqlite3.connect(self.db) as db:
                left = db.execute("SELECT COUNT(*) FROM inbox WHERE handled_at IS NULL")
                if not left.fetchone()[0]:
                    break
            await asyncio.sleep(0.1)
        await self._await_quiet(sandbox)
        await bot.stop()
        after = self._state()
        self.report.replay_changes = [
            f"{name}: {len(set(after[name]) ^ set(rows))} rows"
            for name, rows in before.items()
            if sorted(after[name]) != sorted(rows)
        ]

    async def _fuzz(
        self, bot: BotProcess, sandbox: SandboxServer, http: httpx.AsyncClient
    ) -> None:
        """One more worker presses `plan.fuzz` forged buttons on a card: nothing may change."""
        await bot.start()
        user = SandboxUser(sandbox.url, 1999, "Forger", client=http)
        await user.create()
        await user.send(f"/start {self._invite}")
        card: JSON | None = None
        while card is None or not _label_buttons(card):
            message = await user.next_message(timeout=self.plan.answer_wait_s)
            if any(d.startswith("v1:go:") for _, d in buttons(message)):
                await user.press(message, data=next(d for _, d in buttons(message)))
            elif _label_buttons(message):
                card = message
        await self._await_quiet(sandbox)
        before = self._state()
        real = [d for _, d in buttons(card)]
        rng = random.Random(self.plan.seed)
        payloads: set[str] = set()
        while len(payloads) < self.plan.fuzz:
            payload = forged_payload(rng, real)
            if payload not in real and len(payload.encode()) <= 64:
                payloads.add(payload)
        ordered = sorted(payloads)
        for start in range(0, len(ordered), 50):  # a tamperer's burst, then the answers
            batch = ordered[start : start + 50]
            queries = [await user.press(card, data=p, strict=False) for p in batch]
            for query in queries:
                if not (await user.answer(query, timeout=self.plan.answer_wait_s))["answered"]:
                    self.report.fuzz_unanswered += 1
            self.report.fuzzed += len(queries)
        await bot.stop()
        after = self._state()
        self.report.fuzz_changes = [
            name for name, rows in before.items() if sorted(after[name]) != sorted(rows)
        ]

    async def _await_quiet(self, sandbox: SandboxServer, timeout: float = 20.0) -> None:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            calls = sum(sandbox.calls.values()) - sandbox.calls["getUpdates"]
            await asyncio.sleep(0.5)
            if sum(sandbox.calls.values()) - sandbox.calls["getUpdates"] == calls:
                return

    def _check_database(self, workers: list[_Worker]) -> None:
        with sqlite3.connect(self.db) as db:
            self.report.integrity = str(db.execute("PRAGMA integrity_check").fetchone()[0])
            stored = dict(
                db.execute(
                    "SELECT l.assignment_id, o.idx FROM labels l JOIN options o"
                    " ON o.id = l.option_id WHERE l.retracted_at IS NULL"
                ).fetchall()
            )
            self.report.labels = len(stored)
            undone = dict(
                db.execute(
                    "SELECT actor, COUNT(*) FROM events WHERE kind = 'label.undone' GROUP BY actor"
                ).fetchall()
            )
            for w in workers:
                self.report.extra_undos += max(undone.get(w.user.user_id, 0) - len(w.undone), 0)
                for assignment, option in w.acked.items():
                    if assignment in w.undone and assignment not in stored:
                        continue  # taken back (its label may have been given again since)
                    if stored.get(assignment) != option and assignment not in w.undone:
                        self.report.missing.append(
                            f"{w.user.user_id}:{assignment} acked {option}"
                            f" stored {stored.get(assignment)}"
                        )
            self.report.duplicates = db.execute(DUPLICATE_LABELS_SQL).fetchone()[0]
            self.report.counter_errors = db.execute(COUNTER_ERRORS_SQL).fetchone()[0]

    async def _check_cards(self, workers: list[_Worker]) -> None:
        """Each worker's open card is on screen with live buttons, or they were told 'done'."""
        with sqlite3.connect(self.db) as db:
            open_cards = {
                worker: (assignment, message)
                for worker, assignment, message in db.execute(
                    "SELECT worker_id, id, message_id FROM assignments WHERE status = 'open'"
                )
            }
            idle = {
                worker
                for (worker,) in db.execute(
                    "SELECT worker_id FROM memberships WHERE idle_since IS NOT NULL"
                )
            }
        for w in workers:
            uid = w.user.user_id
            if uid not in open_cards:
                if uid not in idle:
                    self.report.without_card.append(uid)
                continue
            assignment, message_id = open_cards[uid]
            if message_id is None:
                self.report.without_card.append(uid)
                continue
            shown = await w.user.message(message_id)
            # live: its label buttons, or the report reasons the worker was choosing from
            live = [d for _, d in buttons(shown) if d.split(":")[1:2] in (["l"], ["rr"])]
            if not any(d.split(":")[2] == str(assignment) for d in live):
                self.report.without_card.append(uid)
