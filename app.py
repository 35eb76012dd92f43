"""Wiring: build the Application (services in bot_data, handlers in order, jobs, one error
handler) and run it.

`polling` runs the bot as one task among others inside an existing event loop (the demo, the
tests, the benchmarks); `serve` is `labelgram run`: the same until SIGINT or SIGTERM. Updates
come from `bot.poller.InboxPoller`, which stores each update before confirming it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import html
import logging
import signal
import time
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from telegram import Update
from telegram.error import Forbidden, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ContextTypes,
    ExtBot,
    JobQueue,
)
from telegram.request import BaseRequest

from bot.context import BotData, Context, lang_of
from bot.delivery import PENDING_EVERY_S, PENDING_JOB, deliver_pending
from bot.flood import FloodGuard
from bot.menus import handled_commands, publish_profile
from bot.poller import CaughtUp, InboxApplication, InboxPoller, PerUserOrder
from bot.replies import MOVED_ON_GROUP, MovedOn, ReplyHandler, drop_question, load_waiting
from bot.texts import t
from config.settings import Settings
from handlers import (
    broadcast,
    coordinator,
    digest,
    intake,
    labeling,
    membership,
    menus,
    quality,
    records,
    reports,
    roster,
)
from handlers.jobs import (
    BACKUP_JOB,
    CHECKPOINT_EVERY_S,
    CHECKPOINT_JOB,
    HEARTBEAT_EVERY_S,
    HEARTBEAT_JOB,
    HOUSEKEEPING_JOB,
    PRUNE_EVERY_S,
    PRUNE_JOB,
    QUALITY_JOB,
    QUALITY_TICK_S,
    backup_job,
    checkpoint,
    heartbeat,
    housekeeping,
    prune,
    quality_job,
    report_restart,
)
from storage.errors import StorageError
from storage.repository import Repository

log = logging.getLogger(__name__)

LabelgramApp = Application[
    ExtBot[Any], Context, dict[str, object], dict[str, object], BotData, JobQueue[Context]
]
_ADMIN_ALERT_EVERY_S = 60.0


def build_application(
    settings: Settings,
    repo: Repository,
    *,
    token: str | None = None,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
) -> LabelgramApp:
    """Wire the bot: settings and repository in, an Application ready to start out.

    `request` and `get_updates_request` replace python-telegram-bot's own (tests fake or share
    them); without them the builder makes both, as in production.
    """
    secret = token or (settings.token.get_secret_value() if settings.token else None)
    if not secret:
        raise ValueError("a bot token is required")
    builder = (
        ApplicationBuilder()
        .application_class(InboxApplication)
        # Updates come from bot.poller.InboxPoller, which stores each before confirming it.
        .updater(None)
        .token(secret)
        .base_url(settings.bot_api_url)
        .base_file_url(settings.file_url)
        .context_types(ContextTypes(bot_data=BotData))
        .concurrent_updates(PerUserOrder(settings.concurrent_updates))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    if request is not None:
        builder = builder.request(request)
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    # Keeps sends under Telegram's overall limit (rate_limit) and waits out a 429 instead of
    # failing the handler that met it.
    guard = FloodGuard(30.0 if settings.rate_limit else None)
    builder = builder.rate_limiter(guard)  # type: ignore[arg-type]
    app = builder.build()
    app.bot_data.attach(repo, settings)
    # One group: the first matching handler wins, so the catch-all must come last.
    app.add_handlers(
        labeling.build_handlers()
        + coordinator.build_handlers()
        + intake.build_handlers()
        + quality.build_handlers()
        + membership.build_handlers()
        + records.build_handlers()
        + reports.build_handlers()
        + roster.build_handlers()
        + broadcast.build_handlers()
        + digest.build_handlers()
        + menus.build_handlers()
        + labeling.build_fallbacks()
    )
    # A command from someone the bot asked a question drops the question first (bot.replies).
    replies = next(h for h in app.handlers[0] if isinstance(h, ReplyHandler))
    app.add_handler(MovedOn(replies, drop_question), group=MOVED_ON_GROUP)
    app.add_error_handler(on_error)
    return app  # type: ignore[return-value]


async def _post_init(app: Application) -> None:  # type: ignore[type-arg]
    """Open the database, publish the command menu and schedule the expiry job."""
    data: BotData = app.bot_data
    if not data.repo.is_open:  # tests and the demo may open it first
        await data.repo.open()
    data.run_id, data.previous_run = await data.inbox.begin_run()
    data.started_at = time.time()
    # What stored updates are judged by, loaded before polling replays them: who was asked a
    # question, who is writing a broadcast.
    await load_waiting(app)
    await broadcast.load_composing(data.repo)
    # The workers' menu (default scope), the admins' (their chats), the descriptions.
    await publish_profile(app.bot, data, handled_commands(app))
    if app.job_queue is not None:
        jobs = (HOUSEKEEPING_JOB, CHECKPOINT_JOB, QUALITY_JOB, PENDING_JOB, HEARTBEAT_JOB)
        for name in (*jobs, BACKUP_JOB):
            for job in app.job_queue.get_jobs_by_name(name):
                job.schedule_removal()
        app.job_queue.run_repeating(
            housekeeping, interval=data.settings.expire_every_s, first=1, name=HOUSEKEEPING_JOB
        )
        app.job_queue.run_repeating(
            quality_job, interval=QUALITY_TICK_S, first=QUALITY_TICK_S, name=QUALITY_JOB
        )
        app.job_queue.run_repeating(
            checkpoint, interval=CHECKPOINT_EVERY_S, first=CHECKPOINT_EVERY_S, name=CHECKPOINT_JOB
        )
        # Cards claimed before a crash and never delivered go out at once: `polling` runs the
        # job once as soon as the job queue has started (see `_deliver_pending_now`).
        app.job_queue.run_repeating(
            deliver_pending, interval=PENDING_EVERY_S, first=PENDING_EVERY_S, name=PENDING_JOB
        )
        app.job_queue.run_repeating(
            heartbeat, interval=HEARTBEAT_EVERY_S, first=HEARTBEAT_EVERY_S, name=HEARTBEAT_JOB
        )
        app.job_queue.run_repeating(prune, interval=PRUNE_EVERY_S, first=60, name=PRUNE_JOB)
        every = data.settings.backup_every
        if every > 0:
            app.job_queue.run_repeating(backup_job, interval=every, first=every, name=BACKUP_JOB)
        for feature in (reports, roster, broadcast, digest, menus):
            feature.schedule(app.job_queue)


async def _post_shutdown(app: Application) -> None:  # type: ignore[type-arg]
    """Record a clean stop, close the database."""
    data: BotData = app.bot_data
    if data.run_id:
        await data.inbox.end_run(data.run_id)
    await data.repo.close()


async def on_error(update: object, context: Context) -> None:
    """Log the error, tell the user something went wrong and alert the admins (rate-limited)."""
    if isinstance(context.error, RetryAfter):
        # A flood limit outlasted the rate limiter's retries: not a bug, and a message to
        # the user would meet the same limit. Cards are delivered later (bot.delivery).
        log.info("flood limit while handling an update: %s", context.error)
        return
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_user is not None:
        user = update.effective_user
        try:
            lang = await lang_of(context, user)
            answered = False
            if update.callback_query is not None:
                # A tap handler answers early ("Saved"): then the answer is taken already,
                # and the message is the only way left to say something went wrong.
                try:
                    answered = await update.callback_query.answer(t(lang, "error")[:200])
                except TelegramError:
                    answered = False
            if not answered and update.effective_chat is not None:
                await context.bot.send_message(update.effective_chat.id, t(lang, "error"))
        except (TelegramError, StorageError):
            pass  # we are already handling an error; the log has it
    now = time.monotonic()
    data = context.bot_data
    if now - data.last_admin_alert < _ADMIN_ALERT_EVERY_S or not data.settings.admins:
        return
    data.last_admin_alert = now
    tb = "".join(traceback.format_exception(context.error)) if context.error else ""
    text = f"⚠️ Labelgram error\n<pre>{html.escape(tb[-3000:])}</pre>"
    for admin in context.bot_data.settings.admins:
        try:
            await context.bot.send_message(admin, text, parse_mode="HTML")
        except (Forbidden, TelegramError):
            log.warning("could not alert admin %s", admin)


App = Application[Any, Any, Any, Any, Any, Any]


def _deliver_pending_now(app: App) -> None:
    """Send the cards a crash left undelivered now that the job queue runs.

    Not with first=0 in `_post_init`: a repeating job added before the scheduler starts gets
    its first run computed at the start, one whole interval later (PENDING_EVERY_S).
    """
    if app.job_queue is not None:
        # However late the loop gets to it (a busy start), it runs: no misfire grace.
        app.job_queue.run_once(
            deliver_pending, 0, name=PENDING_JOB, job_kwargs={"misfire_grace_time": None}
        )


@asynccontextmanager
async def polling(
    app: App, *, poll_timeout: int = 1, freeze_heap: bool = True
) -> AsyncIterator[asyncio.Task[None]]:
    """Initialise, start and long-poll; stop and shut down on exit.

    Raises what the first Bot API call raises (InvalidToken, NetworkError) before anything
    is started. `freeze_heap`: once initialised, take everything built so far (modules, the
    application, its handlers), which lives as long as the bot, out of the garbage
    collector's sight until the bot stops. A full collection walked all of it and stopped the
    event loop ~50 ms about once a minute (bench/bench_check.py prints the collections): the
    slowest taps, check or no check. Memory freed by reference counting is freed as before.
    A process that starts many bots leaves it out: the tests (their start would walk the
    whole test session's heap, ~80 ms of CPU each).
    """
    frozen = False
    await app.initialize()
    try:
        if app.post_init is not None:
            await app.post_init(app)
        if freeze_heap:
            gc.collect()
            gc.freeze()
            frozen = True

        async def caught_up(counts: CaughtUp) -> None:
            await report_restart(app, counts)

        poller = InboxPoller(app, app.bot_data.inbox, timeout=poll_timeout, on_caught_up=caught_up)
        await app.start()
        _deliver_pending_now(app)
        task = asyncio.create_task(poller.run(), name="inbox-poller")
        try:
            yield task
        finally:
            task.cancel()
            # The poller's own error (a revoked token) was seen by whoever waited on it;
            # here it must not skip stopping the application and closing the database.
            with contextlib.suppress(BaseException):
                await task
            await app.stop()
    finally:
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)
        if frozen:
            gc.unfreeze()  # the objects go back to the collector


async def serve(app: App, *, poll_timeout: int = 10) -> None:
    """Run the bot until SIGINT or SIGTERM (what `labelgram run` does)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
            loop.add_signal_handler(sig, stop.set)
    async with polling(app, poll_timeout=poll_timeout) as poller:
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait((stopping, poller), return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if poller.done() and not poller.cancelled() and poller.exception() is not None:
            raise poller.exception()  # type: ignore[misc]  # e.g. the token was revoked
