"""The outbox sender: delivers every queued row (broadcast copies and mass notices), paced
under Telegram's limits with what labeling leaves, and resumable after a crash.

One task per application (`start`), running while the application runs. Each round reads
the queued rows that are due (`Outbox.outbox_due`) and, for each:
1. keeps a chat at one outbox message a second, and claims the row ('sending') once one of
   `IN_FLIGHT` slots is free: only those few are ever 'sending', so a crash can send only
   those twice;
2. makes one Bot API call — copyMessage for a broadcast (the message as the coordinator
   wrote it, formatting, photo or document included), sendMessage for a notice (written in
   the recipient's language when it goes) — with `rate_limit_args=SPARE`: `bot.flood`
   lets it go with a token nobody else wants (only what handlers leave), taken right
   before the request leaves, so that the bot's count and Telegram's agree;
3. records the outcome: sent, unreachable (403: the user blocked the bot; not retried),
   failed (refused for good), or queued again later (a flood limit: `retry_after`
   honoured; a network error, a few times).
Broadcasts with nothing left are marked done and their report is queued to the sender.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageId
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application, filters

from bot.callbacks import CallbackData, GuideTap
from bot.context import BotData, language_of
from bot.flood import SPARE, retry_seconds
from bot.keyboards import start_keyboard
from bot.reasons import reason_text
from bot.texts import duration, t
from bot.texts_roster import person
from storage.errors import NotFound, StorageError
from storage.outbox import (
    AUDIENCE_DAYS,
    COMPOSE_TTL_S,
    LANGS,
    MAX_ATTEMPTS,
    Broadcast,
    OutboxRow,
)

log = logging.getLogger(__name__)

IN_FLIGHT = 4  # rows 'sending' at once: what a crash may send twice
CHAT_GAP_S = 1.0  # Telegram: about one message a second per chat
IDLE_POLL_S = 0.25  # how often an empty outbox is looked at
BATCH = 200
STOP_WAIT_S = 5.0  # how long a stopping bot waits for the outbox's sends on their way
NOTICES = ("more_work", "guide_updated", "review_waiting", "broadcast_report")
_PERMANENT = ("chat not found", "user is deactivated", "peer_id_invalid", "bot can't initiate")


# ------------------------------------------------------------------ buttons


AUDIENCES = ("all", "active", "idle", "reviewers", "lang")


@dataclass(frozen=True)
class AudienceTap(CallbackData, kind="bca"):
    """An audience chosen for a broadcast draft (`arg`: the days, or the language index)."""

    choices: ClassVar[dict[str, tuple[str, ...]]] = {"audience": AUDIENCES}

    broadcast_id: int
    audience: str
    arg: int

    @property
    def value(self) -> str | None:
        """The audience as storage names it ('all', 'active:7', 'lang:ko'), or None if the
        argument is not one of the offered choices."""
        return audience_value(self.audience, self.arg)


def audience_value(audience: str, arg: int) -> str | None:
    """A button's (audience, arg) as storage names the audience, or None if not offered."""
    if audience in ("all", "reviewers"):
        return audience if arg == 0 else None
    if audience == "lang":
        return f"lang:{LANGS[arg]}" if arg < len(LANGS) else None
    if audience in ("active", "idle"):
        return f"{audience}:{arg}" if arg in AUDIENCE_DAYS else None
    return None


def audience_button(value: str) -> tuple[str, int]:
    """The (audience, arg) of a button for a stored audience ('active:7' -> ('active', 7))."""
    audience, _, arg = value.partition(":")
    if audience == "lang":
        return audience, LANGS.index(arg)
    return audience, int(arg) if arg else 0


@dataclass(frozen=True)
class SendTap(CallbackData, kind="bcs"):
    """Send, Cancel, or back to the audience, under a broadcast's preview. Send carries the
    audience its preview counted: a Send pressed on an older preview, after the audience
    was changed, is refused rather than sent to the newer one ("none" on the others)."""

    choices: ClassVar[dict[str, tuple[str, ...]]] = {
        "answer": ("send", "cancel", "back"),
        "audience": (*AUDIENCES, "none"),
    }

    broadcast_id: int
    answer: str
    audience: str = "none"
    arg: int = 0

    @property
    def value(self) -> str | None:
        """The previewed audience as storage names it (None: not a Send, or not offered)."""
        return audience_value(self.audience, self.arg)


@dataclass(frozen=True)
class StopTap(CallbackData, kind="bcx"):
    """Stop a running broadcast (from /broadcasts)."""

    broadcast_id: int


def audience_text(lang: str, audience: str) -> str:
    """An audience in words."""
    kind, _, arg = audience.partition(":")
    if kind == "lang":
        return t(lang, f"bc_desc_lang_{arg}")
    if kind in ("active", "idle"):
        return t(lang, f"bc_desc_{kind}", days=arg)
    return t(lang, f"bc_desc_{kind}")


def audience_keyboard(lang: str, broadcast_id: int) -> InlineKeyboardMarkup:
    """The audience choices under a draft, with Cancel."""

    def button(text: str, audience: str, arg: int = 0) -> InlineKeyboardButton:
        return InlineKeyboardButton(
            text, callback_data=AudienceTap(broadcast_id, audience, arg).pack()
        )

    return InlineKeyboardMarkup(
        [
            [
                button(t(lang, "bc_aud_all"), "all"),
                button(t(lang, "bc_aud_reviewers"), "reviewers"),
            ],
            [button(t(lang, "bc_aud_active", days=d), "active", d) for d in AUDIENCE_DAYS],
            [button(t(lang, "bc_aud_idle", days=d), "idle", d) for d in AUDIENCE_DAYS[1:]],
            [button(t(lang, f"bc_aud_lang_{code}"), "lang", i) for i, code in enumerate(LANGS)],
            [cancel_button(lang, broadcast_id)],
        ]
    )


def cancel_button(lang: str, broadcast_id: int) -> InlineKeyboardButton:
    """Cancel a draft."""
    return InlineKeyboardButton(
        t(lang, "bc_cancel"), callback_data=SendTap(broadcast_id, "cancel").pack()
    )


def cancel_keyboard(lang: str, broadcast_id: int) -> InlineKeyboardMarkup:
    """Only Cancel (while the message is awaited)."""
    return InlineKeyboardMarkup([[cancel_button(lang, broadcast_id)]])


def preview_keyboard(
    lang: str, broadcast_id: int, count: int, audience: str
) -> InlineKeyboardMarkup:
    """Send / Cancel (and back to the audience) under the preview of `audience`."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t(lang, "bc_send", count=count),
                    callback_data=SendTap(broadcast_id, "send", *audience_button(audience)).pack(),
                ),
                cancel_button(lang, broadcast_id),
            ],
            [
                InlineKeyboardButton(
                    t(lang, "bc_back"), callback_data=SendTap(broadcast_id, "back").pack()
                )
            ],
        ]
    )


def stop_keyboard(lang: str, running: list[int]) -> InlineKeyboardMarkup | None:
    """A Stop button per running broadcast."""
    if not running:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(t(lang, "bc_stop", id=i), callback_data=StopTap(i).pack())]
            for i in running
        ]
    )


def report_text(lang: str, broadcast: Broadcast, project: str) -> str:
    """A broadcast's delivery report."""
    extra = ""
    if broadcast.cancelled:
        extra += t(lang, "bc_extra_cancelled", n=broadcast.cancelled)
    if broadcast.maybe_twice:
        extra += t(lang, "bc_extra_twice", n=broadcast.maybe_twice)
    outcome = "cancelled" if broadcast.status == "cancelled" else "done"
    return t(
        lang,
        "bc_report",
        id=broadcast.id,
        project=project,
        outcome=t(lang, f"bc_outcome_{outcome}"),
        duration=duration(lang, broadcast.seconds),
        sent=broadcast.sent,
        total=broadcast.total,
        unreachable=broadcast.unreachable,
        failed=broadcast.failed,
        extra=extra,
    )


# ------------------------------------------------------------------ the sender


class OutboxSender:
    """Sends the outbox's rows while `running()` says so."""

    def __init__(
        self,
        app: Application,  # type: ignore[type-arg]
        running: Callable[[], bool],
    ) -> None:
        self.app = app
        self.data: BotData = app.bot_data
        self.running = running
        self._slots = asyncio.Semaphore(IN_FLIGHT)
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_sent: dict[int, float] = {}  # chat -> monotonic time of its last send
        self._busy: set[int] = set()  # chats with a message in flight
        self.recovered = 0

    async def run(self) -> None:
        """Send until the application stops; rows in flight at a crash go again first."""
        repo = self.data.repo
        self.recovered = await repo.outbox_recover()
        if self.recovered:
            log.warning(
                "outbox: %d messages were in flight when the bot stopped; sending them again"
                " (each may arrive twice)",
                self.recovered,
            )
        last_finish = 0.0
        try:
            while self.running():
                try:
                    started = await self._round()
                    now = time.monotonic()
                    if now - last_finish > 0.5:
                        last_finish = now
                        for done in await repo.finish_broadcasts(time.time()):
                            log.info("broadcast %d done", done)
                except (StorageError, TelegramError) as exc:
                    log.warning("outbox round failed: %s", exc)
                    started = 0
                except Exception:  # e.g. sqlite3's "database is locked": the sender goes on
                    log.exception("outbox round failed")
                    started = 0
                if not started:
                    await asyncio.sleep(IDLE_POLL_S)
        finally:
            # Sends on their way finish, unless Telegram holds them back (a long retry_after):
            # a stop must not wait for that. Their rows stay 'sending' and go again next start.
            if self._tasks:
                _, late = await asyncio.wait(set(self._tasks), timeout=STOP_WAIT_S)
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)

    async def _round(self) -> int:
        """Start sending the due rows (those whose chat can take one now); how many."""
        rows = await self.data.repo.outbox_due(time.time(), BATCH)
        started = 0
        for row in rows:
            if not self.running():
                break
            if row.chat_id in self._busy:
                continue
            gap = time.monotonic() - self._last_sent.get(row.chat_id, -CHAT_GAP_S)
            if gap < CHAT_GAP_S:
                continue
            await self._slots.acquire()
            try:
                if not await self.data.repo.outbox_claim(row.id):
                    self._slots.release()
                    continue
            except BaseException:
                self._slots.release()
                raise
            self._busy.add(row.chat_id)
            self._last_sent[row.chat_id] = time.monotonic()
            task = asyncio.create_task(self._deliver(row))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            started += 1
        if len(self._last_sent) > 50_000:  # forget chats not written to for a while
            cutoff = time.monotonic() - CHAT_GAP_S
            self._last_sent = {c: s for c, s in self._last_sent.items() if s > cutoff}
        return started

    async def _deliver(self, row: OutboxRow) -> None:
        """One Bot API call for a claimed row, and its outcome recorded."""
        repo = self.data.repo
        try:
            try:
                message_id = await self._send(row)
            except Forbidden as exc:
                await repo.outbox_done(row.id, "unreachable", time.time(), error=exc.message)
            except BadRequest as exc:
                lowered = exc.message.lower()
                status = "unreachable" if any(p in lowered for p in _PERMANENT) else "failed"
                await repo.outbox_done(row.id, status, time.time(), error=exc.message)
            except RetryAfter as exc:  # past the guard's patience
                later = time.time() + retry_seconds(exc)
                await repo.outbox_retry(row.id, later, "flood limit")
            except (TimedOut, NetworkError) as exc:
                # A timeout may have been delivered: it counts as a possible duplicate.
                if row.attempts + 1 >= MAX_ATTEMPTS:
                    await repo.outbox_done(row.id, "failed", time.time(), error=exc.message)
                else:
                    later = time.time() + 2.0 ** (row.attempts + 1)
                    twice = isinstance(exc, TimedOut)
                    await repo.outbox_retry(row.id, later, exc.message, maybe_twice=twice)
            except (StorageError, sqlite3.Error):
                raise
            except Exception as exc:  # a bug writing this notice: it fails, the rest go on
                log.exception("outbox row %d not sent", row.id)
                await repo.outbox_done(row.id, "failed", time.time(), error=type(exc).__name__)
            else:
                if message_id is None:
                    await repo.outbox_done(row.id, "cancelled", time.time(), error="obsolete")
                else:
                    await repo.outbox_done(row.id, "sent", time.time(), message_id=message_id)
        except (StorageError, sqlite3.Error) as exc:  # stopping, or the database is busy:
            # left 'sending', sent again at the next start (counted as possibly twice)
            log.warning("outbox row %d not recorded: %s", row.id, exc)
        finally:
            self._busy.discard(row.chat_id)
            self._slots.release()

    async def _send(self, row: OutboxRow) -> int | None:
        """Telegram's message id, or None when the notice has nothing to say any more."""
        bot = self.app.bot
        if row.kind == "copy":
            if row.from_chat_id is None or row.message_id is None:
                raise BadRequest("the broadcast has no message")
            copied: MessageId = await bot.copy_message(
                row.chat_id, row.from_chat_id, row.message_id, rate_limit_args=SPARE
            )
            return copied.message_id
        made = await self._notice(row)
        if made is None:
            return None
        text, markup = made
        sent: Message = await bot.send_message(
            row.chat_id, text, reply_markup=markup, rate_limit_args=SPARE
        )
        return sent.message_id

    async def _notice(self, row: OutboxRow) -> tuple[str, InlineKeyboardMarkup | None] | None:
        """A notice in its recipient's language, written now (counts as they are now)."""
        data = self.data
        lang = await language_of(data, row.chat_id)
        if row.kind == "broadcast_report":
            broadcast = await data.repo.get_broadcast(int(row.payload["broadcast"]))
            if broadcast is None:
                return None
            project = await data.repo.get_project(broadcast.project_id)
            return report_text(lang, broadcast, project.name_in(lang)), None
        project_id = int(row.payload["project"])
        try:
            project = await data.repo.get_project(project_id)
        except NotFound:  # the project was deleted meanwhile
            return None
        if row.kind == "more_work":
            return t(lang, "more_work", project=project.name_in(lang)), start_keyboard(
                project_id, lang
            )
        if row.kind == "guide_updated":
            button = InlineKeyboardButton(
                t(lang, "guide_button"), callback_data=GuideTap(project_id).pack()
            )
            return t(lang, "guide_updated", project=project.name_in(lang)), InlineKeyboardMarkup(
                [[button]]
            )
        if row.kind in ("suspended", "coord_suspended"):  # a check's rule (QualityStore)
            reason = reason_text(lang, str(row.payload.get("reason", "")))
            name = project.name_in(lang)
            if row.kind == "suspended":
                return t(lang, "suspended", project=name, reason=reason), None
            worker_id = int(row.payload["worker"])
            worker = await data.repo.get_worker(worker_id)
            who = person(
                worker.first_name if worker else None,
                worker.username if worker else None,
                worker_id,
            )
            text = t(
                lang,
                "coord_suspended_who",
                who=who,
                project=name,
                reason=reason,
                slug=project.slug,
            )
            return text, None
        if row.kind == "roster":  # what a coordinator did (handlers/roster.py)
            key = ROSTER_NOTICES.get(str(row.payload.get("action")))
            if key is None:
                return None
            return t(lang, key, project=project.name_in(lang)), None
        if row.kind == "reports_new":
            if not (await data.repo.open_report_count(project_id))[1]:
                return None  # decided meanwhile: nothing to tell
            text = t(
                lang, "reports_notice", n=int(row.payload["n"]), project=project.name_in(lang)
            )
            return text, None
        if row.kind == "review_waiting":
            count = await data.quality.review_count(project_id)
            if not count:
                return None  # decided meanwhile: nothing to tell
            return t(lang, "review_waiting", count=count, project=project.name_in(lang)), None
        log.warning("outbox row %d has an unknown kind %r", row.id, row.kind)
        return None


# A roster action's notice to the worker it concerns, by action.
ROSTER_NOTICES = {
    "suspend": "worker_suspended_by_coordinator",
    "reinstate": "reinstated",
    "remove": "worker_removed",
}

_SENDERS: dict[int, OutboxSender] = {}


def start(app: Application) -> Awaitable[None] | None:  # type: ignore[type-arg]
    """Start the application's sender (once); it stops when the application does."""
    if id(app) in _SENDERS:
        return None
    sender = _SENDERS[id(app)] = OutboxSender(app, lambda: bool(app.running))

    async def run() -> None:
        try:
            await sender.run()
        finally:
            _SENDERS.pop(id(app), None)

    return app.create_task(run(), name="outbox-sender")


def sender_of(app: Application) -> OutboxSender | None:  # type: ignore[type-arg]
    """The application's running sender, if any."""
    return _SENDERS.get(id(app))


class _Composing(filters.MessageFilter):
    """Private messages from a user whose /broadcast waits for its message: they are the
    broadcast, not a data file to import nor text to answer (checked before those handlers).
    The set is loaded from the database at start (`Outbox.composing`)."""

    def __init__(self) -> None:
        super().__init__(name="broadcast_composing")
        self.users: dict[int, float] = {}  # user id -> when they were asked
        # user id -> the message their draft was made of: that message handled again (a
        # crash before the audience question went out) comes back here, to be asked again
        self.taken: dict[int, int] = {}

    def filter(self, message: Message) -> bool:
        """Whether this message is the one a /broadcast waits for (not once COMPOSE_TTL_S
        has passed: the draft is given up, and a file sent then is an upload again), or the
        one a draft was made of, again."""
        user = message.from_user
        if user is None or message.chat.type != "private":
            return False
        if self.taken.get(user.id) == message.message_id:
            return True
        asked = self.users.get(user.id)
        return asked is not None and asked > time.time() - COMPOSE_TTL_S


COMPOSING = _Composing()
