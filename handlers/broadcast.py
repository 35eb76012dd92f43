"""Broadcasts: /broadcast (message, audience, preview, Send/Cancel), /broadcasts; and the outbox
sender that delivers every mass notice, paced under Telegram's limits.

A broadcast is stored before anything is sent (`storage.outbox`): /broadcast opens one that
waits for the coordinator's next message; that message (text, photo or document, as written)
becomes the draft; an audience button counts its recipients and shows a preview (the message
copied back) with Send / Cancel; Send queues one outbox row per recipient in the same
transaction that marks the broadcast sent, so a second press or a redelivered update queues
nothing twice. `bot.outbox` delivers the rows; /broadcasts shows progress and stops one.
"""

from __future__ import annotations

import logging
import time

from telegram import CallbackQuery, Update
from telegram.error import TelegramError
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    JobQueue,
    MessageHandler,
)
from telegram.ext import filters as tg_filters

from bot import outbox
from bot.context import Context, lang_of
from bot.outbox import (
    COMPOSING,
    AudienceTap,
    SendTap,
    StopTap,
    audience_keyboard,
    audience_text,
    cancel_keyboard,
    preview_keyboard,
    stop_keyboard,
)
from bot.texts import t
from handlers.common import (
    choose_project,
    managed_projects,
    read_managed,
    read_tap,
    reject,
    safe_answer,
    safe_edit_markup,
    safe_edit_text,
)
from storage.outbox import Broadcast
from storage.repository import Repository

log = logging.getLogger(__name__)

SENDER_JOB = "outbox-sender"
GUIDES_JOB = "outbox-guides"
GUIDES_EVERY_S = 5.0
RECENT = 10  # broadcasts /broadcasts lists
_COPYABLE = ("text", "photo", "document", "video", "animation", "audio")


async def broadcast(update: Update, context: Context) -> None:
    """/broadcast [project]: ask for the message to send to the project's people."""
    if (got := await read_managed(update, context)) is None:
        return
    message, user, lang, projects = got
    args = list(context.args or [])
    project = choose_project(projects, args[0] if len(args) == 1 else None)
    if project is None or len(args) > 1:
        names = ", ".join(p.slug for p in projects)
        if len(args) == 1:
            await message.reply_text(t(lang, "unknown_project", project=args[0], projects=names))
        else:
            await message.reply_text(t(lang, "bc_usage", projects=names))
        return
    # The same update again (a crash before its prompt went out) gets the same draft, and
    # the prompt again rather than none.
    now = time.time()
    broadcast_id = await context.bot_data.repo.broadcast_compose(
        project.id, user.id, now, update_id=update.update_id
    )
    COMPOSING.users[user.id] = now
    await message.reply_text(
        t(lang, "bc_compose", project=project.name_in(lang)),
        reply_markup=cancel_keyboard(lang, broadcast_id),
    )


async def compose(update: Update, context: Context) -> None:
    """The message a /broadcast waited for: keep it as the draft, ask for the audience."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    lang = await lang_of(context, user)
    repo = context.bot_data.repo
    broadcast_id = (await repo.composing(time.time())).get(user.id)
    if broadcast_id is None:
        COMPOSING.users.pop(user.id, None)
        taken = await repo.draft_of_message(user.id, message.chat_id, message.message_id)
        if taken is not None:  # this message, handled again after a crash: ask again
            await message.reply_text(
                t(lang, "bc_audience"), reply_markup=audience_keyboard(lang, taken)
            )
        else:  # given up meanwhile (Cancel, a newer /broadcast): say so, not nothing
            await message.reply_text(t(lang, "bc_gone"))
        return
    if not any(getattr(message, kind) for kind in _COPYABLE):
        await message.reply_text(
            t(lang, "bc_unsupported"), reply_markup=cancel_keyboard(lang, broadcast_id)
        )
        return
    await repo.broadcast_message(broadcast_id, user.id, message.chat_id, message.message_id)
    COMPOSING.users.pop(user.id, None)
    COMPOSING.taken[user.id] = message.message_id
    await message.reply_text(
        t(lang, "bc_audience"), reply_markup=audience_keyboard(lang, broadcast_id)
    )


async def _own_draft(
    context: Context, query: CallbackQuery, user_id: int, lang: str, broadcast_id: int
) -> Broadcast | None:
    """The user's own broadcast in a project they still manage; None after refusing."""
    found = await context.bot_data.repo.get_broadcast(broadcast_id)
    managed = {p.id for p in await managed_projects(context, user_id)}
    if found is None or found.sender_id != user_id or found.project_id not in managed:
        await reject(query, lang)
        return None
    return found


async def audience_tap(update: Update, context: Context) -> None:
    """An audience chosen: count it, copy the message back as a preview, ask Send/Cancel."""
    if (got := await read_tap(update, context, AudienceTap)) is None:
        return
    query, user, lang, tap = got
    audience = tap.value
    if audience is None:
        await reject(query, lang)
        return
    if (found := await _own_draft(context, query, user.id, lang, tap.broadcast_id)) is None:
        return
    data = context.bot_data
    if found.status != "draft" or found.from_chat_id is None or found.message_id is None:
        await safe_answer(query, t(lang, _closed(found)))
        return
    if await data.inbox.effect(update.update_id, "bc_audience") is not None:
        await safe_answer(query)  # this press, handled again: its preview is on screen
        return
    project = await data.repo.get_project(found.project_id)
    count = await data.repo.audience_count(found.project_id, audience, time.time())
    described = audience_text(lang, audience)
    if count == 0:
        await safe_answer(query)
        await _edit(
            query,
            t(lang, "bc_empty", project=project.name_in(lang), audience=described),
            audience_keyboard(lang, found.id),
        )
        return
    await data.repo.broadcast_audience(found.id, user.id, audience)
    await safe_answer(query)
    await _edit(query, t(lang, "bc_audience_chosen", audience=described), None)
    await context.bot.copy_message(user.id, found.from_chat_id, found.message_id)
    await context.bot.send_message(
        user.id,
        t(lang, "bc_preview", count=count, project=project.name_in(lang), audience=described),
        reply_markup=preview_keyboard(lang, found.id, count, audience),
    )
    await data.inbox.record_effect(update.update_id, "bc_audience", {"count": count})


async def send_tap(update: Update, context: Context) -> None:
    """Send (queue one outbox row per recipient, once), Cancel, or back to the audience."""
    if (got := await read_tap(update, context, SendTap)) is None:
        return
    query, user, lang, tap = got
    if (found := await _own_draft(context, query, user.id, lang, tap.broadcast_id)) is None:
        return
    repo = context.bot_data.repo
    if tap.answer == "cancel":
        if await repo.broadcast_drop(found.id, user.id):
            COMPOSING.users.pop(user.id, None)
            await safe_answer(query)
            await safe_edit_text(query, t(lang, "bc_dropped"))
        else:
            await safe_answer(query, t(lang, _closed(found)))
        return
    if tap.answer == "back":
        await safe_answer(query, None if found.status == "draft" else t(lang, _closed(found)))
        if found.status == "draft":
            await _edit(query, t(lang, "bc_audience"), audience_keyboard(lang, found.id))
        return
    previewed = tap.value
    if previewed is None and found.status == "draft":  # a Send that names no audience
        await reject(query, lang)
        return
    total = await repo.broadcast_start(found.id, user.id, time.time(), audience=previewed or "")
    if total is None and found.status == "draft" and found.audience != previewed:
        # A Send under an older preview: the audience was changed since; the newest
        # preview's Send is the one that counts.
        await safe_answer(query, t(lang, "bc_outdated"))
        await safe_edit_markup(query, None)
        return
    if total is None:  # sent already (a second press, a replay) or given up
        again = await repo.get_broadcast(found.id)
        await safe_answer(query, t(lang, _closed(again or found)))
        if again is not None and again.status in ("sending", "done", "cancelled"):
            project = await repo.get_project(again.project_id)
            await safe_edit_text(
                query, t(lang, "bc_started", count=again.total, project=project.name_in(lang))
            )
        return
    project = await repo.get_project(found.project_id)
    log.info("broadcast %d: %d recipients queued", found.id, total)
    await safe_answer(query)
    await safe_edit_text(query, t(lang, "bc_started", count=total, project=project.name_in(lang)))


def _closed(found: Broadcast) -> str:
    """Why a broadcast's draft buttons do nothing any more."""
    return "bc_already" if found.status in ("sending", "done", "cancelled") else "bc_gone"


async def _edit(query: CallbackQuery, text: str, markup: object) -> None:
    """Change the message of the pressed buttons (best effort: it may be gone)."""
    try:
        await query.edit_message_text(text, reply_markup=markup)  # type: ignore[arg-type]
    except TelegramError as exc:
        log.debug("broadcast message not edited: %s", exc.message)


async def broadcasts(update: Update, context: Context) -> None:
    """/broadcasts: the recent broadcasts of one's projects with their progress; Stop buttons
    for the running ones."""
    if (got := await read_managed(update, context)) is None:
        return
    message, _, lang, projects = got
    names = {p.id: p.name_in(lang) for p in projects}
    found = await context.bot_data.repo.recent_broadcasts(list(names), RECENT)
    if not found:
        await message.reply_text(t(lang, "bc_list_empty"))
        return
    lines = [t(lang, "bc_list_header")]
    for b in found:
        lines.append(
            t(
                lang,
                "bc_list_line",
                id=b.id,
                project=names[b.project_id],
                audience=audience_text(lang, b.audience or "all"),
                status=t(lang, f"bc_status_{b.status}"),
                sent=b.sent,
                total=b.total,
                unreachable=b.unreachable,
                failed=b.failed,
                waiting=b.waiting,
            )
        )
    running = [b.id for b in found if b.status == "sending"]
    await message.reply_text("\n".join(lines), reply_markup=stop_keyboard(lang, running))


async def stop_tap(update: Update, context: Context) -> None:
    """Stop a running broadcast: what is still queued is not sent."""
    if (got := await read_tap(update, context, StopTap)) is None:
        return
    query, user, lang, tap = got
    repo = context.bot_data.repo
    found = await repo.get_broadcast(tap.broadcast_id)
    managed = {p.id for p in await managed_projects(context, user.id)}
    if found is None or found.project_id not in managed:
        await reject(query, lang)
        return
    count = await repo.broadcast_cancel(found.id, time.time())
    if count is None:
        await safe_answer(query, t(lang, "bc_not_running", id=found.id))
        return
    log.info("broadcast %d stopped by %d: %d not sent", found.id, user.id, count)
    await safe_answer(query, t(lang, "bc_stopped", id=found.id, count=count)[:200])
    if query.message is not None:
        await context.bot.send_message(user.id, t(lang, "bc_stopped", id=found.id, count=count))


async def load_composing(repo: Repository) -> None:
    """At start-up, before stored updates are replayed (they are judged by it): who is
    writing a broadcast, and the drafts waiting for their audience."""
    COMPOSING.users.clear()
    COMPOSING.users.update(await repo.composing_since(time.time()))
    COMPOSING.taken.clear()
    COMPOSING.taken.update(await repo.drafts_awaiting_audience())


async def _start_sender(context: Context) -> None:
    """Start the outbox sender."""
    outbox.start(context.application)


async def announce_guides(context: Context) -> None:
    """Tell each project's workers once about a guide changed by `labelgram project update`."""
    queued = await context.bot_data.repo.announce_guides("guide_updated", time.time())
    if queued:
        log.info("guide updated: %d workers will be told", queued)


def build_handlers() -> list[BaseHandler[Update, Context, None]]:
    """This feature's handlers."""
    private = tg_filters.ChatType.PRIVATE
    return [
        CommandHandler("broadcast", broadcast),
        CommandHandler("broadcasts", broadcasts),
        MessageHandler(private & COMPOSING & ~tg_filters.COMMAND, compose),
        CallbackQueryHandler(audience_tap, pattern=AudienceTap.pattern()),
        CallbackQueryHandler(send_tap, pattern=SendTap.pattern()),
        CallbackQueryHandler(stop_tap, pattern=StopTap.pattern()),
    ]


def schedule(job_queue: JobQueue[Context]) -> None:
    """This feature's jobs (called at start-up, after the bot's own)."""
    for name in (SENDER_JOB, GUIDES_JOB):
        for job in job_queue.get_jobs_by_name(name):
            job.schedule_removal()
    job_queue.run_once(_start_sender, 0, name=SENDER_JOB, job_kwargs={"misfire_grace_time": None})
    job_queue.run_repeating(
        announce_guides, interval=GUIDES_EVERY_S, first=GUIDES_EVERY_S, name=GUIDES_JOB
    )
