"""Scheduled jobs: housekeeping, the WAL checkpoint, the heartbeat, inbox pruning, the quality
check, and the note to admins after an unclean stop. `app.py` schedules them.

The quality check runs on the JobQueue every `QUALITY_TICK_S` seconds and checks each project
whose labels, reviews or suspensions changed since its last check and whose `[quality]
check_every` has passed (`services.checks`); `/check` runs it at once.
"""

from __future__ import annotations

import asyncio
import logging
import time

from telegram.error import TelegramError
from telegram.ext import Application

from bot.context import BotData, Context, language_of
from bot.poller import CaughtUp
from bot.texts import duration, t
from handlers.common import notify
from services.check_runner import CheckFailed
from services.checks import check_project
from services.export_runner import backup_in_child
from storage.backup import prune_backups
from storage.export import ExportError
from storage.inbox import PreviousRun

log = logging.getLogger(__name__)

HOUSEKEEPING_JOB = "housekeeping"
CHECKPOINT_JOB = "wal-checkpoint"
CHECKPOINT_EVERY_S = 1.0
HEARTBEAT_JOB = "heartbeat"
HEARTBEAT_EVERY_S = 5.0  # after a crash, the last beat tells how long the bot was down
PRUNE_JOB = "inbox-prune"
PRUNE_EVERY_S = 3600.0
QUALITY_JOB = "quality-check"
QUALITY_TICK_S = 30.0


async def heartbeat(context: Context) -> None:
    """Note that the bot is alive (the downtime after a crash is measured from it), and pick
    up projects changed from the command line (`labelgram project update`)."""
    await context.bot_data.inbox.alive(context.bot_data.run_id)
    changed = await context.bot_data.repo.refresh_projects()
    if changed:
        log.info("projects %s were updated; their new files apply from now on", changed)


BACKUP_JOB = "backup"


async def backup_job(context: Context) -> None:
    """Back the database up (a checked copy, made by a niced child process: the online
    backup reads one snapshot and never stops labeling) and keep the newest `backup_keep`."""
    settings = context.bot_data.settings
    folder = settings.backup_dir or settings.db_path.parent / "backups"
    try:
        made = await backup_in_child(settings.db_path, f"{folder}/")
    except ExportError as exc:  # (the child's failure, with its own message)
        log.error("scheduled backup failed: %s", exc)
        return
    removed = await asyncio.to_thread(prune_backups, folder, settings.backup_keep)
    log.info(
        "backup %s: %.1f MB in %.1f s; %d older removed",
        made["path"],
        made["size"] / 2**20,
        made["seconds"],
        len(removed),
    )


async def prune(context: Context) -> None:
    """Forget handled updates older than Telegram could send them again."""
    await context.bot_data.inbox.prune()


async def report_restart(app: Application, caught_up: CaughtUp) -> None:  # type: ignore[type-arg]
    """After an unclean stop, tell the admins how long the bot was down and what it caught up
    on, once the backlog is fetched (a clean restart says nothing)."""
    data: BotData = app.bot_data
    previous: PreviousRun | None = data.previous_run
    if previous is None or previous.clean:
        return
    log.warning(
        "started after an unclean stop: down %.0f s, caught up on %d stored + %d waiting updates",
        data.started_at - previous.alive_at,
        caught_up.stored,
        caught_up.waiting,
    )
    last = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(previous.alive_at))
    for admin in data.settings.admins:
        lang = await language_of(data, admin)
        text = t(
            lang,
            "admin_restarted",
            down=duration(lang, data.started_at - previous.alive_at),
            last=last,
            updates=caught_up.stored + caught_up.waiting,
            stored=caught_up.stored,
            waiting=caught_up.waiting,
        )
        try:
            await app.bot.send_message(admin, text)
        except TelegramError as exc:
            log.warning("could not tell admin %s about the restart: %s", admin, exc)


async def checkpoint(context: Context) -> None:
    """Copy the write-ahead log into the database, off the labeling path."""
    await context.bot_data.repo.checkpoint()


async def housekeeping(context: Context) -> None:
    """Return timed-out cards to the pool; tell idle workers when there is work again."""
    repo = context.bot_data.repo
    count = await repo.expire_due()
    if count:
        log.info("returned %d timed-out assignments to the pool", count)
    # Through the outbox (bot.outbox): paced with what labeling leaves, and queued in the
    # transaction that clears the idle flags, so a crash loses no notice.
    told = await repo.queue_idle_with_work("more_work", time.time())
    if told:
        log.info("%d idle workers will be told that there is work again", told)


async def quality_job(context: Context) -> None:
    """Check every project that changed and is due (its check_every has passed)."""
    data = context.bot_data
    now = time.time()
    for project in await data.repo.list_projects():
        spec = await data.quality.spec(project.id)
        last = await data.quality.last_run(project.id)
        if last is not None and now - last[2].get("at", 0.0) < spec.quality.check_every:
            continue
        if not await data.quality.changed_since_last_run(project.id):
            continue
        try:
            report = await check_project(data.repo, data.quality, data.settings, project.id)
        except CheckFailed:
            # One project's failed check must not stop the others'; it is tried again on
            # the next tick (nothing was recorded, so it still counts as changed).
            log.exception("quality check of %s failed", project.slug)
            continue
        log.info("quality check of %s: %s in %.2f s", project.slug, report.summary, report.seconds)
        await notify(context, report)
