"""Problem reports and project life: /reports (one card per reported sample: fix its text,
exclude it, dismiss the reports, edit the guide), /pause, /resume, /close.

Every decision is one transaction that remembers the update which made it, so a tap or a
reply handled again (Telegram redelivers what the bot did not confirm, also after a crash)
decides nothing twice; who was told is recorded after the messages are out, so a replay
tells only if the first handling never got to it.
"""

from __future__ import annotations

import asyncio
import logging
import time

from telegram import CallbackQuery, Message, Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, JobQueue

from bot.callbacks_reports import (
    FixMode,
    ReplyCancel,
    ReportAct,
    cancel_keyboard,
    fix_mode_keyboard,
    report_card_keyboard,
)
from bot.cards import TEXT_LIMIT, cut
from bot.context import Context, language_of
from bot.delivery import retire
from bot.keyboards import start_keyboard
from bot.replies import ReplyHandler, expect_reply, reply_done
from bot.report_cards import card_text, send_report_card, snippet
from bot.texts import t
from config.project import GUIDE_DECORATION, LANGUAGES, telegram_length
from handlers.common import (
    choose_project,
    read_managed,
    read_tap,
    reject,
    safe_answer,
    safe_edit_markup,
)
from storage.errors import Conflict, NotFound
from storage.models import Project, Role
from storage.problem_reports import Decision, ReportedSample

log = logging.getLogger(__name__)

CARDS_PER_CALL = 10  # /reports shows at most this many samples at once
NOTICE_JOB = "reports-notice"
NOTICE_EVERY_S = 60.0  # new reports are gathered into one notice per project this often


# ------------------------------------------------------------------------ helpers


async def _manages(context: Context, user_id: int, project_id: int) -> bool:
    """Whether the user may decide on the project's reports (an admin, or its coordinator)."""
    if context.bot_data.is_admin(user_id):
        return True
    return await context.bot_data.repo.role_of(user_id, project_id) is Role.COORDINATOR


async def _pick_project(
    message: Message, lang: str, projects: list[Project], args: list[str], usage: str, **kw: str
) -> Project | None:
    """The project named in the command (or the coordinator's only one); else say how."""
    names = ", ".join(p.slug for p in projects)
    if len(args) > 1:
        await message.reply_text(t(lang, usage, projects=names, **kw))
        return None
    wanted = args[0] if args else None
    project = choose_project(projects, wanted)
    if project is None:
        if wanted is None:
            await message.reply_text(t(lang, usage, projects=names, **kw))
        else:
            await message.reply_text(t(lang, "unknown_project", project=wanted, projects=names))
    return project


async def _send(context: Context, chat_id: int, text: str, **kw: object) -> bool:
    """A message that must not stop the handler (a blocked user, a flood limit): sent?"""
    try:
        await context.bot.send_message(chat_id, text, **kw)  # type: ignore[arg-type]
    except TelegramError as exc:
        log.info("could not send to %s: %s", chat_id, exc)
        return False
    return True


async def _edit_card(query: CallbackQuery, text: str) -> None:
    """Turn a /reports card into its outcome (no buttons); best effort."""
    message = query.message
    try:
        if isinstance(message, Message) and (message.caption is not None or not message.text):
            await query.edit_message_caption(cut(text, 1024))
        else:
            await query.edit_message_text(cut(text, TEXT_LIMIT))
    except TelegramError as exc:
        log.debug("report card of callback %s not edited: %s", query.id, exc.message)


async def _tell_reporters(
    context: Context, update_id: int, decision: Decision, reported: ReportedSample | None
) -> int:
    """Tell each reporter what became of the sample, in their language; once per update."""
    data = context.bot_data
    if (told := await data.inbox.effect(update_id, "reports.told")) is not None:
        return int(told)
    project = await data.repo.get_project(decision.project_id)
    sample = reported.sample if reported else await data.repo.sample(decision.sample_id)
    told = 0
    for user_id in decision.reporters:
        lang = await language_of(data, user_id)
        text = t(
            lang,
            f"outcome_{decision.decision}",
            project=project.name_in(lang),
            snippet=snippet(sample.text, sample.kind, lang),
        )
        told += await _send(context, user_id, text)
    await data.inbox.record_effect(update_id, "reports.told", told)
    return told


# ------------------------------------------------------------------------ /reports


async def reports_command(update: Update, context: Context) -> None:
    """/reports [project]: the open problem reports, one card per reported sample."""
    if (got := await read_managed(update, context)) is None:
        return
    message, user, lang, projects = got
    args = list(context.args or [])
    if (project := await _pick_project(message, lang, projects, args, "reports_usage")) is None:
        return
    repo = context.bot_data.repo
    samples, reports = await repo.open_report_count(project.id)
    if not samples:
        await message.reply_text(t(lang, "reports_none", project=project.name_in(lang)))
        return
    await message.reply_text(
        t(lang, "reports_header", project=project.name_in(lang), samples=samples, reports=reports)
    )
    shown = await repo.open_reports(project.id, CARDS_PER_CALL)
    for reported in shown:
        markup = report_card_keyboard(reported.sample.id, lang)
        try:
            await send_report_card(context.bot, repo, user.id, reported, lang, markup)
        except TelegramError as exc:  # a media file Telegram refuses: the card as text
            log.info("report card of sample %s as text: %s", reported.sample.id, exc)
            text = card_text(reported, lang, with_sample=True)
            await _send(context, user.id, text, reply_markup=markup)
    if samples > len(shown):
        await message.reply_text(t(lang, "reports_more", n=samples - len(shown)))


async def report_act(update: Update, context: Context) -> None:
    """A button on a /reports card: fix, exclude, dismiss, guide, or back from the fix."""
    if (got := await read_tap(update, context, ReportAct)) is None:
        return
    query, user, lang, tap = got
    repo = context.bot_data.repo
    try:
        sample = await repo.sample(tap.sample_id)
    except NotFound:
        await reject(query, lang)
        return
    if not await _manages(context, user.id, sample.project_id):
        await reject(query, lang)
        return
    if tap.action != "back" and (closed := await _read_only(context, sample.project_id, lang)):
        await safe_answer(query, closed)
        return
    if tap.action == "back":
        await asyncio.gather(
            safe_answer(query), safe_edit_markup(query, report_card_keyboard(sample.id, lang))
        )
    elif tap.action == "fix":
        await asyncio.gather(
            safe_answer(
                query, t(lang, "fix_choose", ext_id=sample.ext_id, labels=sample.n_labels)
            ),
            safe_edit_markup(query, fix_mode_keyboard(sample.id, lang)),
        )
    elif tap.action == "guide":
        await _ask_guide(context, query, user.id, lang, sample.project_id)
    else:
        await _decide(context, update.update_id, query, user.id, lang, tap)


async def _decide(
    context: Context, update_id: int, query: CallbackQuery, user_id: int, lang: str, tap: ReportAct
) -> None:
    """Exclude or dismiss; the card shows the outcome; the reporters are told."""
    repo = context.bot_data.repo
    decision = "excluded" if tap.action == "exclude" else "dismissed"
    reported = await repo.reported_sample(tap.sample_id)
    done = await repo.decide_reports(tap.sample_id, decision, actor=user_id, update_id=update_id)
    if done is None:
        await asyncio.gather(
            safe_answer(query, t(lang, "decided_already")),
            safe_edit_markup(query, None),
        )
        return
    told = await _tell_reporters(context, update_id, done, reported)
    sample = await repo.sample(tap.sample_id)
    reason = await repo.excluded_reason(tap.sample_id) or ""
    text = t(lang, f"{decision}_done", ext_id=sample.ext_id, n=told, reason=reason)
    await asyncio.gather(safe_answer(query), _edit_card(query, text))


async def fix_mode(update: Update, context: Context) -> None:
    """Keep or clear the labels: then ask for the corrected text."""
    if (got := await read_tap(update, context, FixMode)) is None:
        return
    query, user, lang, tap = got
    repo = context.bot_data.repo
    reported = await repo.reported_sample(tap.sample_id)
    if reported is None:
        try:
            project_id = (await repo.sample(tap.sample_id)).project_id
        except NotFound:
            await reject(query, lang)
            return
        if not await _manages(context, user.id, project_id):
            await reject(query, lang)
            return
        await safe_answer(query, t(lang, "decided_already"))
        return
    if not await _manages(context, user.id, reported.sample.project_id):
        await reject(query, lang)
        return
    if closed := await _read_only(context, reported.sample.project_id, lang):
        await safe_answer(query, closed)
        return
    await repo.await_reply(user.id, "fix", tap.sample_id, tap.mode)
    expect_reply(context, user.id)
    await asyncio.gather(
        safe_answer(query),
        # The card gets its buttons back: cancelling the fix leaves every choice open.
        safe_edit_markup(query, report_card_keyboard(tap.sample_id, lang)),
        _send(
            context,
            user.id,
            t(lang, "fix_ask", ext_id=reported.sample.ext_id),
            reply_markup=cancel_keyboard(lang, "fix", tap.sample_id),
        ),
    )


async def _ask_guide(
    context: Context, query: CallbackQuery, user_id: int, lang: str, project_id: int
) -> None:
    """Ask for the new guide (in the coordinator's language, or the guide's only one)."""
    repo = context.bot_data.repo
    project = await repo.get_project(project_id)
    guide_lang = (
        lang if lang in project.guide or len(project.guide) != 1 else next(iter(project.guide))
    )
    await repo.await_reply(user_id, "guide", project_id, guide_lang)
    expect_reply(context, user_id)
    current = project.guide.get(guide_lang, "")
    text = t(
        lang,
        "guide_ask",
        project=project.name_in(lang),
        language=t(lang, f"lang_{guide_lang}") if guide_lang in ("en", "ko") else guide_lang,
        version=project.guide_version + 1,
    )
    if current:
        text = cut(f"{text}\n\n{current}", TEXT_LIMIT)
    await asyncio.gather(
        safe_answer(query),
        _send(context, user_id, text, reply_markup=cancel_keyboard(lang, "guide", project_id)),
    )


async def reply_cancel(update: Update, context: Context) -> None:
    """Cancel the question the bot asked."""
    if (got := await read_tap(update, context, ReplyCancel)) is None:
        return
    query, user, lang, tap = got
    pending = await context.bot_data.repo.pending_reply(user.id)
    if pending is None or (pending.kind, pending.ref) != (tap.question, tap.ref):
        # Answered, cancelled or asked again since: a newer question stays open.
        await asyncio.gather(
            safe_answer(query, t(lang, "reply_not_open")), safe_edit_markup(query, None)
        )
        return
    await context.bot_data.repo.drop_reply(user.id)
    reply_done(context, user.id)
    await safe_answer(query, t(lang, "reply_cancelled"))
    try:
        await query.edit_message_text(t(lang, "reply_cancelled"))
    except TelegramError as exc:
        log.debug("question of callback %s not edited: %s", query.id, exc.message)


# ------------------------------------------------------------------------ answers


async def on_reply(update: Update, context: Context) -> None:
    """The user's answer to the bot's question: a note, a corrected text, a new guide."""
    message, user = update.message, update.effective_user
    if message is None or user is None or message.text is None:
        return
    data = context.bot_data
    lang = await language_of(data, user.id)
    pending = await data.repo.pending_reply(user.id)
    if pending is None:  # answered meanwhile, or too late: not taken as an answer
        reply_done(context, user.id)
        return
    text = message.text.strip()
    if pending.kind == "note":
        reply_done(context, user.id)
        await data.repo.save_note(user.id, pending.ref, text[:1000], update_id=update.update_id)
        await message.reply_text(t(lang, "note_saved"))
        return
    if not await _reply_allowed(context, user.id, pending.kind, pending.ref):
        await data.repo.drop_reply(user.id)
        reply_done(context, user.id)
        await message.reply_text(t(lang, "not_allowed"))
        return
    project_id = (
        pending.ref
        if pending.kind == "guide"
        else (await data.repo.sample(pending.ref)).project_id
    )
    if closed := await _read_only(context, project_id, lang):  # closed since the question
        await _answered(context, user.id)
        await message.reply_text(closed)
        return
    if pending.kind == "fix":
        await _apply_fix(
            context, update.update_id, message, user.id, lang, pending.ref, text, pending.mode
        )
    else:
        await _apply_guide(context, message, user.id, lang, pending.ref, text, pending.mode)


async def _read_only(context: Context, project_id: int, lang: str) -> str | None:
    """Why a closed or archived project's reports and guide stay as they are (None: open).
    A closed project's data no longer changes; an archived one changes from the CLI only."""
    state = await context.bot_data.repo.project_state(project_id)
    if state not in ("closed", "archived"):
        return None
    project = await context.bot_data.repo.get_project(project_id)
    key = "reports_read_only" if state == "closed" else "life_archived"
    return t(lang, key, project=project.name_in(lang))


async def _reply_allowed(context: Context, user_id: int, kind: str, ref: int) -> bool:
    """The coordinator still manages the project the question was about."""
    repo = context.bot_data.repo
    try:
        project_id = ref if kind == "guide" else (await repo.sample(ref)).project_id
    except NotFound:
        return False
    return await _manages(context, user_id, project_id)


async def _apply_fix(
    context: Context,
    update_id: int,
    message: Message,
    user_id: int,
    lang: str,
    sample_id: int,
    text: str,
    mode: str | None,
) -> None:
    """Store the corrected text; tell the coordinator and the reporters."""
    repo = context.bot_data.repo
    if not text:
        await message.reply_text(
            t(lang, "fix_empty"), reply_markup=cancel_keyboard(lang, "fix", sample_id)
        )
        return
    if (length := telegram_length(text)) > TEXT_LIMIT - 200:
        await message.reply_text(
            t(lang, "fix_too_long", length=length, limit=TEXT_LIMIT - 200),
            reply_markup=cancel_keyboard(lang, "fix", sample_id),
        )
        return
    reported = await repo.reported_sample(sample_id)
    done = await repo.decide_reports(
        sample_id,
        "fixed",
        actor=user_id,
        update_id=update_id,
        new_text=text,
        clear_labels=mode == "clear",
    )
    if done is None:
        await _answered(context, user_id)
        await message.reply_text(t(lang, "decided_already"))
        return
    told = await _tell_reporters(context, update_id, done, reported)
    sample = await repo.sample(sample_id)
    key = "fix_done_cleared" if mode == "clear" else "fix_done_kept"
    await message.reply_text(t(lang, key, ext_id=sample.ext_id, cleared=done.cleared, n=told))
    # The question goes last: a crash before this leaves it open, so the update handled
    # again comes back here (the decision and the reporters' notice happen once per update)
    # instead of falling through to the hint for text nobody asked for.
    await _answered(context, user_id)


async def _answered(context: Context, user_id: int) -> None:
    """The user's question is answered: their next text goes elsewhere again."""
    await context.bot_data.repo.drop_reply(user_id)
    reply_done(context, user_id)


async def _apply_guide(
    context: Context,
    message: Message,
    user_id: int,
    lang: str,
    project_id: int,
    text: str,
    guide_lang: str | None,
) -> None:
    """The new guide becomes a new guide version (`update_project`: audited)."""
    repo = context.bot_data.repo
    if not text:
        await message.reply_text(
            t(lang, "fix_empty"), reply_markup=cancel_keyboard(lang, "guide", project_id)
        )
        return
    try:
        spec = await repo.project_spec(project_id)
    except NotFound:  # the project was deleted while the question was open
        await _answered(context, user_id)
        await message.reply_text(t(lang, "guide_failed"))
        return
    key = guide_lang or lang
    guide = dict(spec.guide) | {key: text}
    room = TEXT_LIMIT - GUIDE_DECORATION - max(telegram_length(spec.name_in(x)) for x in LANGUAGES)
    room -= max(telegram_length(q) for q in spec.question.values())
    if telegram_length(text) > room:  # the guide message must stay one message (still asked)
        await message.reply_text(
            t(lang, "guide_too_long", length=telegram_length(text), limit=room),
            reply_markup=cancel_keyboard(lang, "guide", project_id),
        )
        return
    if guide == spec.guide:  # (also this update handled again after the change: see below)
        await _answered(context, user_id)
        await message.reply_text(t(lang, "guide_unchanged"))
        return
    try:
        updated = await repo.update_project(
            spec.model_copy(update={"guide": guide}), actor=user_id
        )
    except (Conflict, NotFound, ValueError) as exc:  # e.g. the project deleted meanwhile
        log.info("guide of project %s not changed: %s", project_id, exc)
        await _answered(context, user_id)
        await message.reply_text(t(lang, "guide_failed"))
        return
    await _answered(context, user_id)  # after the change: a crash before it loses nothing
    await message.reply_text(
        t(
            lang,
            "guide_done",
            project=updated.project.name_in(lang),
            language=t(lang, f"lang_{key}") if key in ("en", "ko") else key,
            version=updated.guide_version or updated.project.guide_version,
        )
    )


# ------------------------------------------------------------------------ project life


async def _life(update: Update, context: Context, command: str, state: str) -> None:
    """/pause, /resume, /close [project]: change the project's state and tell its workers
    once (the change and the telling each happen once per update)."""
    if (got := await read_managed(update, context)) is None:
        return
    message, user, lang, projects = got
    args = list(context.args or [])
    project = await _pick_project(message, lang, projects, args, "life_usage", command=command)
    if project is None:
        return
    data = context.bot_data
    repo = data.repo
    if await repo.project_state(project.id) == "archived":
        await message.reply_text(t(lang, "life_archived", project=project.name_in(lang)))
        return
    change = await repo.set_project_state(
        project.id, state, actor=user.id, update_id=update.update_id
    )
    if change.before == change.after:
        state_word = t(lang, f"state_{change.after}")
        await message.reply_text(
            t(lang, "life_same", project=project.name_in(lang), state=state_word)
        )
        return
    told = await data.inbox.effect(update.update_id, "life.told")
    if told is None:
        told = 0
        key = {"paused": "project_paused", "closed": "project_closed"}.get(
            state, "project_resumed"
        )
        # Cards on screen were taken back: their buttons show why instead.
        for worker, message_id in change.cards:
            wlang = await language_of(data, worker)
            await retire(context, worker, message_id, wlang, t(wlang, f"mark_{state}"))
        for member in await _workers(context, project.id):
            wlang = await language_of(data, member)
            markup = start_keyboard(project.id, wlang) if state == "active" else None
            told += await _send(
                context, member, t(wlang, key, project=project.name_in(wlang)), reply_markup=markup
            )
        await data.inbox.record_effect(update.update_id, "life.told", told)
    done_key = {"paused": "paused_done", "closed": "closed_done"}.get(state, "resumed_done")
    await message.reply_text(t(lang, done_key, project=project.name_in(lang), n=int(told)))


async def _workers(context: Context, project_id: int) -> list[int]:
    """The project's workers and reviewers: who labels and is to be told."""
    quality = context.bot_data.quality
    workers = await quality.members(project_id, Role.WORKER)
    return workers + await quality.members(project_id, Role.REVIEWER)


async def pause(update: Update, context: Context) -> None:
    """/pause [project]: no cards go out until /resume; the workers are told once."""
    await _life(update, context, "pause", "paused")


async def resume(update: Update, context: Context) -> None:
    """/resume [project]: cards go out again (also after /close); the workers are told."""
    await _life(update, context, "resume", "active")


async def close(update: Update, context: Context) -> None:
    """/close [project]: read-only (no more labels), still exportable; workers told."""
    await _life(update, context, "close", "closed")


# ------------------------------------------------------------------------ the notice job


async def announce_reports(context: Context) -> None:
    """One notice per project with new reports since the last: "3 new problem reports in
    “X” — /reports", to its coordinators (the admins where it has none). Queued to the
    outbox in the transaction that counts the reports as announced, so a crash loses none."""
    data = context.bot_data
    for project_id in await data.repo.unannounced():
        coordinators = await data.quality.members(project_id, Role.COORDINATOR)
        await data.repo.announce(
            project_id, coordinators or list(data.settings.admins), time.time()
        )


def build_handlers() -> list[BaseHandler[Update, Context, None]]:
    """This feature's handlers."""
    return [
        CommandHandler("reports", reports_command),
        CommandHandler("pause", pause),
        CommandHandler("resume", resume),
        CommandHandler("close", close),
        CallbackQueryHandler(report_act, pattern=ReportAct.pattern()),
        CallbackQueryHandler(fix_mode, pattern=FixMode.pattern()),
        CallbackQueryHandler(reply_cancel, pattern=ReplyCancel.pattern()),
        ReplyHandler(on_reply),
    ]


def schedule(job_queue: JobQueue[Context]) -> None:
    """This feature's jobs (called at start-up, after the bot's own)."""
    for name in (NOTICE_JOB,):
        for job in job_queue.get_jobs_by_name(name):
            job.schedule_removal()
    job_queue.run_repeating(
        announce_reports, interval=NOTICE_EVERY_S, first=NOTICE_EVERY_S, name=NOTICE_JOB
    )
