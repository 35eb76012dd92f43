"""The worker's loop: join, read the guide, tap a label, get the next sample, undo, skip."""

from __future__ import annotations

import asyncio
import logging
import random

from telegram import CallbackQuery, Update
from telegram.error import Forbidden
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.callbacks import (
    GuideTap,
    LabelTap,
    LangTap,
    Noop,
    ReportBack,
    ReportReason,
    ReportTap,
    SkipTap,
    StartTap,
)
from bot.cards import TEXT_LIMIT, SampleUnavailable, cut, shows_text
from bot.context import Context, lang_of
from bot.delivery import Slot, deliver, retire
from bot.keyboards import card_keyboard, language_keyboard, marker, report_keyboard, start_keyboard
from bot.menus import greeting, handled_commands, refresh_menu
from bot.reasons import reason_text
from bot.replies import expect_reply
from bot.texts import t
from config.project import pick_text
from handlers.common import (
    current_project,
    mark,
    notice,
    notify_exam_failed,
    read_command,
    read_member_tap,
    read_tap,
    reject,
    safe_answer,
    safe_edit_markup,
)
from storage.errors import NotFound
from storage.models import Card, LabelStatus, Project, Role, UndoStatus
from storage.projects import InviteRefused
from storage.taps import TapResult

log = logging.getLogger(__name__)

# A worker whose samples keep failing to send is not stuck in a loop forever.
_MAX_BROKEN_IN_A_ROW = 5


def guide_text(project: Project, lang: str) -> str:
    """The project's question and guide, within Telegram's message limit."""
    text = t(
        lang,
        "guide",
        project=project.name_in(lang),
        question=pick_text(project.question, lang),
        guide=pick_text(project.guide, lang),
    )
    return cut(text, TEXT_LIMIT)


async def send_guide(context: Context, chat_id: int, project: Project, lang: str) -> None:
    """Send the project's guide with a Start button."""
    markup = start_keyboard(project.id, lang)
    await context.bot.send_message(chat_id, guide_text(project, lang), reply_markup=markup)


async def send_next(
    context: Context, user_id: int, project_id: int, lang: str, slot: Slot | None = None
) -> None:
    """Assign and show the worker's next sample (in `slot`, the message of the card they just
    acted on, where the project edits cards in place), or tell them everything is done.

    Suspended workers and failed exams get a notice instead; during an exam only gold
    samples are sent; otherwise a share of cards (the project's gold rate) are gold.
    """
    async with context.bot_data.worker_lock(user_id):
        await _send_next(context, user_id, project_id, lang, slot)


async def ensure_card(
    context: Context, user_id: int, project_id: int, lang: str, slot: Slot | None = None
) -> None:
    """Make sure the worker has a live card: deliver their open one if it never arrived,
    or send the next one if they hold none (after a replayed tap, a crash or a lost send).
    A card already on screen is left alone, and so is a worker told there is no more work.

    `slot`: the message of the card tapped again. It may show an older card where the open
    one should be (an edit lost to a crash): it is edited into the open card. Any other
    message tapped again gets its marker."""
    data = context.bot_data
    async with data.worker_lock(user_id):
        card = await data.repo.open_card_of(user_id, project_id)
        if card is not None:
            stale = (
                slot is not None
                and card.message_id == slot.message_id
                and data.shown.get(user_id) != (slot.message_id, card.assignment_id)
            )
            if card.message_id is None or stale:
                await _deliver_or_next(context, user_id, card, lang, slot)
                return
        elif not await data.repo.is_idle(user_id, project_id):
            await _send_next(context, user_id, project_id, lang, slot)
            return
        if slot is not None and (card is None or card.message_id != slot.message_id):
            _give_up(context, user_id, slot, lang)


def _give_up(context: Context, user_id: int, slot: Slot | None, lang: str) -> None:
    """The next card will not take this message's place: give it its marker (background)."""
    if slot is not None:
        context.application.create_task(
            retire(context, user_id, slot.message_id, lang, slot.marker)
        )


async def _deliver_or_next(
    context: Context, user_id: int, card: Card, lang: str, slot: Slot | None = None
) -> None:
    """Deliver an assigned card; if its media cannot be sent, report it and send the next."""
    try:
        await deliver(context, user_id, card, lang, slot)
    except SampleUnavailable as exc:
        log.warning("%s; reported automatically", exc)
        repo = context.bot_data.repo
        await repo.close_assignment(card.assignment_id, user_id, "reported", "broken")
        _give_up(context, user_id, slot, lang)
        await notice(context, user_id, t(lang, "sample_broken"))
        await _send_next(context, user_id, card.project.id, lang)
    except Forbidden:
        log.info("user %s blocked the bot", user_id)


async def _send_next(
    context: Context, user_id: int, project_id: int, lang: str, slot: Slot | None = None
) -> None:
    """`send_next` for a caller that holds the worker's lock."""
    repo, quality = context.bot_data.repo, context.bot_data.quality

    async def tell(text: str) -> None:
        # A notice comes below the old card: the next card comes below it, not in its place.
        nonlocal slot
        _give_up(context, user_id, slot, lang)
        slot = None
        await notice(context, user_id, text)

    try:
        gate = await quality.gate(user_id, project_id)
        if gate.status == "not_member":  # removed or left: an old card's button, say
            project = await repo.get_project(project_id)
            await tell(t(lang, "not_member", project=project.name_in(lang)))
            return
        if gate.status in ("suspended", "exam_failed"):
            project = await repo.get_project(project_id)
            key = "suspended" if gate.status == "suspended" else "exam_blocked"
            reason = reason_text(lang, gate.reason or "")
            await tell(t(lang, key, project=project.name_in(lang), reason=reason))
            return
        spec = await quality.spec(project_id)
        if gate.status == "exam":
            mode = "only"
            if gate.exam_answered == 0:
                bar = spec.quality.exam_pass
                key = "exam_intro_all" if bar >= 1.0 else "exam_intro"
                await tell(t(lang, key, size=spec.quality.exam_size, percent=f"{bar:.0%}"))
        else:
            mode = "first" if random.random() < spec.quality.gold_rate else "no"
        for _ in range(_MAX_BROKEN_IN_A_ROW):
            card = await repo.next_card(user_id, project_id, gold=mode)
            if card is None and mode == "only":
                # No unseen gold left: the exam is decided on what this attempt answered.
                ended = await quality.finish_exam(user_id, project_id)
                if ended is not None and ended.exam_answered:
                    await tell(
                        t(
                            lang,
                            f"exam_{ended.exam}",
                            correct=ended.exam_correct,
                            answered=ended.exam_answered,
                        )
                    )
                if ended is not None and ended.exam == "failed":
                    if not ended.exam_answered:
                        await tell(t(lang, "exam_blocked"))
                    await notify_exam_failed(context, user_id, project_id, ended)
                    return
                mode = "no"
                card = await repo.next_card(user_id, project_id)
            if card is None:
                project = await repo.get_project(project_id)
                if (state := await repo.project_state(project_id)) != "active":
                    # Paused or closed: no cards go out (and the worker is not idle: /resume
                    # tells them itself).
                    key = "project_paused" if state == "paused" else "project_closed"
                    await tell(t(lang, key, project=project.name_in(lang)))
                    return
                await tell(t(lang, "all_done", project=project.name_in(lang)))
                await repo.mark_idle(user_id, project_id)
                return
            try:
                await deliver(context, user_id, card, lang, slot)
                return
            except SampleUnavailable as exc:
                log.warning("%s; reported automatically", exc)
                await repo.close_assignment(card.assignment_id, user_id, "reported", "broken")
                await tell(t(lang, "sample_broken"))
    except Forbidden:
        # The worker blocked the bot; their open card times out and goes back to the pool.
        log.info("user %s blocked the bot", user_id)


async def slot_of(
    context: Context, query: CallbackQuery, project_id: int, marker_text: str
) -> Slot | None:
    """The tapped card's message as a place for the next card, when the project edits cards in
    place; None (the card gets its marker now) when it sends a new message per card."""
    message = query.message
    spec = await context.bot_data.quality.spec(project_id)
    if spec.card_flow == "edit" and message is not None:
        return Slot(message.message_id, shows_text(message), marker_text)
    mark(context, query, marker_text)
    return None


# ------------------------------------------------------------------------ commands


async def start(update: Update, context: Context) -> None:
    """Join a project from an invite deep link, or show the current project's guide."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    repo = context.bot_data.repo
    worker = await repo.upsert_worker(user.id, user.first_name, user.username, user.language_code)
    lang = worker.language
    if context.user_data is not None:
        context.user_data["lang"] = lang
    if context.args:
        try:
            project, role = await repo.redeem_invite(
                context.args[0][:64], user.id, update_id=update.update_id
            )
        except InviteRefused as refused:  # revoked, expired, used up, or removed: say which
            await message.reply_text(t(lang, f"invite_refused_{refused.why}"))
            return
        except NotFound:
            await message.reply_text(t(lang, "invite_invalid"))
            return
        await message.reply_text(
            t(lang, "joined", project=project.name_in(lang), role=t(lang, f"role_{role.value}"))
        )
        if role is not Role.WORKER:  # a worker link never changes a menu (never demotes)
            # The menu of the role joined (a replay sets the same menu again).
            handled = handled_commands(context.application)
            await refresh_menu(context.bot, context.bot_data, user.id, handled)
        await send_guide(context, user.id, project, lang)
        return
    # The menu of the roles held now: a change made elsewhere shows, and an admin gets
    # theirs here (Telegram sets a chat's menu only once its user has started the bot).
    await refresh_menu(
        context.bot, context.bot_data, user.id, handled_commands(context.application)
    )
    if worker.current_project_id is None:
        await message.reply_text(await greeting(context.bot_data, user.id, user.first_name, lang))
        return
    project = await repo.get_project(worker.current_project_id)
    text = t(lang, "welcome_back", project=project.name_in(lang))
    held = await repo.role_of(user.id, project.id)
    if held is Role.COORDINATOR or held is Role.REVIEWER:
        text += "\n" + t(lang, f"start_{held.value}", project=project.name_in(lang))
    await message.reply_text(text)
    await send_guide(context, user.id, project, lang)


async def guide(update: Update, context: Context) -> None:
    """Show the labeling guide of the current project."""
    if (got := await read_command(update, context, current_project, "no_project")) is None:
        return
    _, user, lang, project = got
    await send_guide(context, user.id, project, lang)


async def undo(update: Update, context: Context) -> None:
    """Take back the last label while its sample is still open, and show it again."""
    if (got := await read_command(update, context, current_project, "no_project")) is None:
        return
    message, user, lang, project = got
    outcome = await context.bot_data.repo.undo_last(
        user.id, project.id, update_id=update.update_id
    )
    if outcome.status is UndoStatus.NOTHING:
        await message.reply_text(t(lang, "undo_nothing"))
    elif outcome.status is UndoStatus.TOO_LATE:
        await message.reply_text(t(lang, "undo_too_late"))
    elif outcome.status is UndoStatus.STOPPED:
        await message.reply_text(t(lang, "undo_stopped", project=project.name_in(lang)))
    elif outcome.status is UndoStatus.BARRED:
        await message.reply_text(t(lang, "undo_barred", project=project.name_in(lang)))
    else:
        # The card that was on screen went back to the pool, and the answered one is shown
        # again: in its place where the project edits cards in place, else as a new message.
        # No old message may keep live buttons.
        spec = await context.bot_data.quality.spec(project.id)
        slot = None
        if spec.card_flow == "edit" and outcome.superseded:
            slot = Slot(outcome.superseded[0], None, t(lang, "mark_superseded"))
        for message_id in outcome.superseded:
            if slot is None or message_id != slot.message_id:
                await retire(context, user.id, message_id, lang)
        await message.reply_text(t(lang, "undo_done"))
        # A replay finds the reopened card already on screen and sends nothing twice.
        await ensure_card(context, user.id, project.id, lang, slot)


async def me(update: Update, context: Context) -> None:
    """Show the worker's own counts."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    lang = await lang_of(context, user)
    s = await context.bot_data.repo.worker_stats(user.id)
    await message.reply_text(
        t(
            lang,
            "me",
            labels=s.labels,
            today=s.labels_today,
            skipped=s.skipped,
            reported=s.reported,
            projects=s.projects,
        )
    )


async def lang_command(update: Update, context: Context) -> None:
    """Offer the interface languages."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    lang = await lang_of(context, user)
    await message.reply_text(t(lang, "lang_choose"), reply_markup=language_keyboard())


# ------------------------------------------------------------------------ buttons


async def label_tap(update: Update, context: Context) -> None:
    """Store the pressed label, acknowledge it and show the next sample (in the same message
    where the project edits cards in place): one call to storage, two to Telegram."""
    if (got := await read_tap(update, context, LabelTap)) is None:
        return
    query, user, lang, tap = got
    message = query.message
    result = await context.bot_data.repo.tap(
        tap.assignment_id,
        user.id,
        tap.option,
        update_id=update.update_id,
        message_id=message.message_id if message is not None else None,
        roll=random.random(),
    )
    outcome = result.outcome
    status, project_id = outcome.status, outcome.project_id
    if project_id is None or status in (LabelStatus.NOT_YOURS, LabelStatus.BAD_OPTION):
        await reject(query, lang)
        return
    if status is LabelStatus.TOO_FAST:
        # Sooner than anyone reads: a double tap landed on the card that replaced the answered
        # one. The card stays for a real answer.
        await safe_answer(query, t(lang, "too_fast"))
        return
    chosen = pick_text(outcome.option.texts, lang) if outcome.option else "?"
    if status is LabelStatus.RECORDED:
        # The label is committed; only now is the tap acknowledged.
        slot = await slot_of(context, query, project_id, t(lang, "mark_chosen", option=chosen))
        await asyncio.gather(
            safe_answer(query, t(lang, "saved", option=chosen)),
            _after_label(context, user.id, project_id, lang, result, slot),
        )
    elif status is LabelStatus.DUPLICATE:
        # A second tap, or the same tap again after a crash: the label stands; make sure
        # the next card is there, which the first handling may not have got to.
        slot = await slot_of(context, query, project_id, t(lang, "mark_chosen", option=chosen))
        await asyncio.gather(
            safe_answer(query, t(lang, "already_saved", option=chosen)),
            ensure_card(context, user.id, project_id, lang, slot),
        )
    else:  # expired (the card went to someone else) or closed (skipped, reported, released)
        # ensure_card, not send_next: the same tap again (a double tap, a redelivery) finds
        # the next card already out and sends no second one.
        slot = await slot_of(context, query, project_id, t(lang, "mark_inactive"))
        expired = status is LabelStatus.EXPIRED
        await asyncio.gather(
            safe_answer(query, t(lang, "expired" if expired else "closed")),
            ensure_card(context, user.id, project_id, lang, slot),
        )


async def _after_label(
    context: Context,
    user_id: int,
    project_id: int,
    lang: str,
    result: TapResult,
    slot: Slot | None,
) -> None:
    """Feedback on a gold answer (if the project wants it), exam news, then the next card:
    the one the tap claimed, or whatever comes next when it claimed none."""
    gold, card = result.gold, result.card
    if gold is not None:
        repo, quality = context.bot_data.repo, context.bot_data.quality
        spec = await quality.spec(project_id)
        news = []
        if not gold.correct and spec.quality.gold_feedback:
            project = await repo.get_project(project_id)
            right = pick_text(gold.right.texts, lang)
            news.append(
                t(lang, "gold_wrong", right=right, guide=pick_text(project.guide, lang)[:1500])
            )
        if gold.exam in ("passed", "retry", "failed"):
            news.append(
                t(
                    lang,
                    f"exam_{gold.exam}",
                    correct=gold.exam_correct,
                    answered=gold.exam_answered,
                )
            )
        if news and slot is not None:
            # Notices come below the answered card, and the next card below them.
            _give_up(context, user_id, slot, lang)
            if card is not None and card.message_id == slot.message_id:
                card = card.model_copy(update={"message_id": None})
            slot = None
        for text in news:
            await notice(context, user_id, text)
        if gold.exam == "failed":
            # The worker has just been told; the next card would only tell them again.
            await notify_exam_failed(context, user_id, project_id, gold)
            return
        if gold.suspended:  # the worker and the coordinators are told by the outbox, queued
            _give_up(context, user_id, slot, lang)  # with the suspension (storage.gold)
            return
    async with context.bot_data.worker_lock(user_id):
        if card is not None:
            await _deliver_or_next(context, user_id, card, lang, slot)
        else:
            await _send_next(context, user_id, project_id, lang, slot)


async def skip_or_report(update: Update, context: Context) -> None:
    """Skip a card, or record a problem report with its reason; then send the next sample."""
    if (got := await read_tap(update, context, (SkipTap, ReportReason))) is None:
        return
    query, user, lang, tap = got
    assert isinstance(tap, SkipTap | ReportReason)  # (read_tap checked it; for the type)
    if isinstance(tap, SkipTap):
        status, reason, done_key, mark_key = "skipped", None, "skipped", "mark_skipped"
    else:
        # The worker's next text message becomes the report's note (bot.replies).
        status, reason, mark_key = "reported", tap.reason, "mark_reported"
        done_key = "report_filed"
    repo = context.bot_data.repo
    result = await repo.close_assignment(tap.assignment_id, user.id, status, reason)
    if result.status is LabelStatus.NOT_YOURS or result.project_id is None:
        await reject(query, lang)
    elif result.status is LabelStatus.RECORDED:
        if status == "reported":
            await repo.await_note(user.id, tap.assignment_id)
            expect_reply(context, user.id)
        slot = await slot_of(context, query, result.project_id, t(lang, mark_key))
        await asyncio.gather(
            safe_answer(query, t(lang, done_key)),
            send_next(context, user.id, result.project_id, lang, slot),
        )
    else:
        # Answered, skipped or gone already (a second tap, or a replay after a crash).
        slot = await slot_of(context, query, result.project_id, t(lang, "mark_inactive"))
        await asyncio.gather(
            safe_answer(query, t(lang, "closed")),
            ensure_card(context, user.id, result.project_id, lang, slot),
        )


async def report_tap(update: Update, context: Context) -> None:
    """Ask what is wrong with the sample (the card's buttons become the reasons)."""
    if (got := await read_tap(update, context, (ReportTap, ReportBack))) is None:
        return
    query, user, lang, tap = got
    assert isinstance(tap, ReportTap | ReportBack)  # (read_tap checked it; for the type)
    card = await context.bot_data.repo.open_card(tap.assignment_id, user.id)
    if card is None:
        await safe_answer(query, t(lang, "closed"))
        return
    markup = (
        report_keyboard(card.assignment_id, lang)
        if isinstance(tap, ReportTap)
        else card_keyboard(card, lang)
    )
    await asyncio.gather(
        safe_answer(query, t(lang, "report_ask") if isinstance(tap, ReportTap) else None),
        safe_edit_markup(query, markup),
    )


async def start_tap(update: Update, context: Context) -> None:
    """Start (or continue) labeling in the project on the button."""
    if (got := await read_member_tap(update, context, StartTap)) is None:
        return
    query, user, lang, tap = got
    repo = context.bot_data.repo
    await repo.set_current_project(user.id, tap.project_id)
    await asyncio.gather(safe_answer(query), send_next(context, user.id, tap.project_id, lang))


async def guide_tap(update: Update, context: Context) -> None:
    """Show the guide of the project on the card."""
    if (got := await read_member_tap(update, context, GuideTap)) is None:
        return
    query, user, lang, tap = got
    project = await context.bot_data.repo.get_project(tap.project_id)
    await asyncio.gather(
        safe_answer(query), context.bot.send_message(user.id, guide_text(project, lang))
    )


async def lang_tap(update: Update, context: Context) -> None:
    """Switch the interface language."""
    if (got := await read_tap(update, context, LangTap)) is None:
        return
    query, user, _, tap = got
    repo = context.bot_data.repo
    await repo.upsert_worker(user.id, user.first_name, user.username, user.language_code)
    await repo.set_language(user.id, tap.lang)
    if context.user_data is not None:
        context.user_data["lang"] = tap.lang
    await asyncio.gather(
        safe_answer(query, t(tap.lang, "lang_set")),
        safe_edit_markup(query, marker(t(tap.lang, "lang_set"))),
    )


async def noop_tap(update: Update, context: Context) -> None:
    """A marker button: just stop the client's spinner (any other `v1:n` data is refused)."""
    if (got := await read_tap(update, context, Noop)) is None:
        return
    await safe_answer(got[0])


async def unknown_tap(update: Update, context: Context) -> None:
    """Any callback data not matched above was not made by this bot."""
    query, user = update.callback_query, update.effective_user
    if query is None or user is None:
        return
    await reject(query, await lang_of(context, user))


def build_handlers() -> list[BaseHandler[Update, Context, None]]:
    """The worker-facing handlers, in order (the catch-all button handler last)."""
    return [
        CommandHandler("start", start),
        CommandHandler("guide", guide),
        CommandHandler("undo", undo),
        CommandHandler("me", me),
        CommandHandler("lang", lang_command),
        CallbackQueryHandler(label_tap, pattern=LabelTap.pattern()),
        CallbackQueryHandler(skip_or_report, pattern=SkipTap.pattern()),
        CallbackQueryHandler(skip_or_report, pattern=ReportReason.pattern()),
        CallbackQueryHandler(report_tap, pattern=ReportTap.pattern()),
        CallbackQueryHandler(report_tap, pattern=ReportBack.pattern()),
        CallbackQueryHandler(start_tap, pattern=StartTap.pattern()),
        CallbackQueryHandler(guide_tap, pattern=GuideTap.pattern()),
        CallbackQueryHandler(lang_tap, pattern=LangTap.pattern()),
        CallbackQueryHandler(noop_tap, pattern=Noop.pattern()),
    ]


def build_fallbacks() -> list[BaseHandler[Update, Context, None]]:
    """Handlers that must come after every feature's own."""
    return [CallbackQueryHandler(unknown_tap)]
