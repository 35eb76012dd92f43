"""Menus and words that fit each role: /help per role, /projects (switch the project one
labels in), and a short hint for text or commands the bot does not know."""

from __future__ import annotations

import asyncio
import logging

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    JobQueue,
    MessageHandler,
    filters,
)

from bot.context import Context, lang_of
from bot.keyboards import start_keyboard
from bot.menus import ProjectTap, handled_commands, help_lines, role_of_user
from bot.texts import t
from handlers.common import read_tap, reject, safe_answer

log = logging.getLogger(__name__)


async def help_command(update: Update, context: Context) -> None:
    """/help: what the sender's role can do here, as their command menu lists it."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    lang = await lang_of(context, user)
    data = context.bot_data
    role = await role_of_user(data, user.id)
    values: dict[str, object] = {}
    if role == "admin":
        projects = await data.repo.list_projects()
        values["projects"] = ", ".join(p.slug for p in projects) or "-"
    head = t(lang, f"help_{role}", **values)
    lines = help_lines(role, lang, handled_commands(context.application))
    await message.reply_text(f"{head}\n\n{lines}"[:4096])


async def projects_command(update: Update, context: Context) -> None:
    """/projects: the sender's projects, one button each (✓ the current one)."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    lang = await lang_of(context, user)
    data = context.bot_data
    projects = await data.repo.projects_of(user.id)
    if not projects:
        if data.is_admin(user.id):
            names = ", ".join(p.slug for p in await data.repo.list_projects()) or "-"
            await message.reply_text(t(lang, "projects_none_admin", projects=names)[:4096])
        else:
            await message.reply_text(t(lang, "no_membership"))
        return
    worker = await data.repo.get_worker(user.id)
    current = worker.current_project_id if worker else None
    rows = []
    for project in projects[:50]:
        role = await data.repo.role_of(user.id, project.id)
        text = t(
            lang,
            "project_button",
            mark="✓ " if project.id == current else "",
            project=project.name_in(lang),
            role=t(lang, f"role_short_{(role.value if role else 'worker')}"),
        )
        rows.append([InlineKeyboardButton(text[:64], callback_data=ProjectTap(project.id).pack())])
    await message.reply_text(t(lang, "projects_list"), reply_markup=InlineKeyboardMarkup(rows))


async def project_tap(update: Update, context: Context) -> None:
    """Switch to the project on the button (checked: the presser is a member of it)."""
    if (got := await read_tap(update, context, ProjectTap)) is None:
        return
    query, user, lang, tap = got
    repo = context.bot_data.repo
    if await repo.role_of(user.id, tap.project_id) is None:
        await reject(query, lang)
        return
    # Setting the same project again (a second press, a replay) changes nothing, and the
    # list turns into the same message: the outcome with that project's Start button.
    await repo.set_current_project(user.id, tap.project_id)
    project = await repo.get_project(tap.project_id)
    text = t(lang, "projects_switched", project=project.name_in(lang))
    await asyncio.gather(safe_answer(query, text[:200]), _show(query, text, project.id, lang))


async def _show(query: CallbackQuery, text: str, project_id: int, lang: str) -> None:
    """Edit the /projects list into `text` with the project's Start button (best effort:
    "not modified" on a replay, or a message too old to edit)."""
    try:
        await query.edit_message_text(text, reply_markup=start_keyboard(project_id, lang))
    except TelegramError as exc:
        log.debug("projects list of callback %s not edited: %s", query.id, exc.message)


async def unknown_command(update: Update, context: Context) -> None:
    """A command no handler took: say so, and where the list is."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None or not message.text:
        return
    lang = await lang_of(context, user)
    command = message.text.split()[0].removeprefix("/").split("@")[0][:32]
    await message.reply_text(t(lang, "unknown_command", command=command))


async def unknown_text(update: Update, context: Context) -> None:
    """Text (or anything else) the bot has no use for: a hint that fits the sender's role."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    lang = await lang_of(context, user)
    data = context.bot_data
    role = await role_of_user(data, user.id)
    if role in ("admin", "coordinator"):
        key = "hint_coordinator"
    elif await data.repo.projects_of(user.id):
        key = "hint_worker"
    else:
        key = "hint_newcomer"
    await message.reply_text(t(lang, key))


def build_handlers() -> list[BaseHandler[Update, Context, None]]:
    """/help, /projects and its buttons; then (last of all features' handlers) the hints."""
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    return [
        CommandHandler("help", help_command),
        CommandHandler("projects", projects_command),
        CallbackQueryHandler(project_tap, pattern=ProjectTap.pattern()),
        MessageHandler(private & filters.COMMAND, unknown_command),
        MessageHandler(private & ~filters.COMMAND & ~filters.StatusUpdate.ALL, unknown_text),
    ]


def schedule(job_queue: JobQueue[Context]) -> None:
    """This feature's jobs (called at start-up, after the bot's own)."""
