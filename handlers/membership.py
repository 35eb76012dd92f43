"""Leaving a project (/leave) and being forgotten (/forget), each confirmed with a button."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.callbacks import ForgetTap, LeaveTap
from bot.context import Context, lang_of
from bot.menus import handled_commands, refresh_menu
from bot.texts import t
from handlers.common import choose_project, read_tap, reject, safe_answer, safe_edit_text
from storage.errors import Conflict


def _confirm(lang: str, yes_key: str, yes: str, no: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(t(lang, yes_key), callback_data=yes),
                InlineKeyboardButton(t(lang, "cancel"), callback_data=no),
            ]
        ]
    )


async def leave(update: Update, context: Context) -> None:
    """/leave [project]: ask before leaving (the current project when none is named)."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    lang = await lang_of(context, user)
    repo = context.bot_data.repo
    projects = await repo.projects_of(user.id)
    if not projects:
        await message.reply_text(t(lang, "no_membership"))
        return
    wanted = context.args[0] if context.args else None
    project = choose_project(projects, wanted)
    if project is None and wanted is None:
        worker = await repo.get_worker(user.id)
        current = worker.current_project_id if worker else None
        project = next((p for p in projects if p.id == current), None)
    if project is None:
        names = ", ".join(p.slug for p in projects)
        await message.reply_text(t(lang, "unknown_project", project=wanted or "", projects=names))
        return
    yes = LeaveTap(project.id, "yes").pack()
    no = LeaveTap(project.id, "no").pack()
    await message.reply_text(
        t(lang, "leave_confirm", project=project.name_in(lang)),
        reply_markup=_confirm(lang, "leave_yes", yes, no),
    )


async def leave_tap(update: Update, context: Context) -> None:
    """Leave (or not) as the button says; a replay shows the same outcome."""
    if (got := await read_tap(update, context, LeaveTap)) is None:
        return
    query, user, lang, tap = got
    repo = context.bot_data.repo
    member = await repo.role_of(user.id, tap.project_id) is not None
    if not member and not await repo.has_left(user.id, tap.project_id):
        await reject(query, lang)  # never in it: not a button this bot gave them
        return
    project = await repo.get_project(tap.project_id)
    if tap.answer == "no":
        text = t(lang, "leave_cancelled" if member else "left", project=project.name_in(lang))
    else:
        try:
            await repo.leave_project(user.id, tap.project_id)
        except Conflict:  # suspended or failed the exam: that state stays (see leave_project)
            await safe_answer(query)
            await safe_edit_text(query, t(lang, "leave_suspended", project=project.name_in(lang)))
            return
        text = t(lang, "left", project=project.name_in(lang))
        # Leaving a project may end a role: the menu follows (the same on a replay).
        handled = handled_commands(context.application)
        await refresh_menu(context.bot, context.bot_data, user.id, handled)
    await safe_answer(query)
    await safe_edit_text(query, text)


async def forget(update: Update, context: Context) -> None:
    """/forget: ask before erasing the person from Labelgram."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    lang = await lang_of(context, user)
    yes, no = ForgetTap("yes").pack(), ForgetTap("no").pack()
    await message.reply_text(
        t(lang, "forget_confirm"), reply_markup=_confirm(lang, "forget_yes", yes, no)
    )


async def forget_tap(update: Update, context: Context) -> None:
    """Erase (or not) as the button says."""
    if (got := await read_tap(update, context, ForgetTap)) is None:
        return
    query, user, lang, tap = got
    if tap.answer == "no":
        await safe_answer(query)
        await safe_edit_text(query, t(lang, "forget_cancelled"))
        return
    data = context.bot_data
    done = await data.repo.forget_worker(user.id, update_id=update.update_id)
    # Nothing of theirs stays in this process either.
    data.shown.pop(user.id, None)
    if context.user_data is not None:
        context.user_data.clear()
    # No role is left: back to the workers' menu.
    await refresh_menu(context.bot, data, user.id, handled_commands(context.application))
    await safe_answer(query)
    await safe_edit_text(
        query, t(lang, "forgotten", kept=done.labels_kept, deleted=done.labels_deleted)
    )


def build_handlers() -> list[BaseHandler[Update, Context, None]]:
    """/leave, /forget and their buttons."""
    return [
        CommandHandler("leave", leave),
        CommandHandler("forget", forget),
        CallbackQueryHandler(leave_tap, pattern=LeaveTap.pattern()),
        CallbackQueryHandler(forget_tap, pattern=ForgetTap.pattern()),
    ]
