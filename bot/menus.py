"""Command menus per role: which commands each role sees, published with setMyCommands.

Workers see theirs in the default scope (everyone without a menu of their own); reviewers,
coordinators and admins get theirs for their private chat (BotCommandScopeChat), in English
(no language_code: every language without its own list) and in Korean. A menu lists only the
commands this bot handles, so a feature not wired in never shows a dead command. Any handler
whose action changes a role (joining, leaving, a roster change) calls `refresh_menu`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler

from bot.callbacks import CallbackData
from bot.context import BotData
from bot.texts import LANGUAGES, t
from storage.models import Role

log = logging.getLogger(__name__)

WORKER_MENU: tuple[str, ...] = (
    "start",
    "guide",
    "undo",
    "me",
    "projects",
    "lang",
    "leave",
    "forget",
    "help",
)
REVIEWER_MENU = (*WORKER_MENU[:1], "review", *WORKER_MENU[1:])
COORDINATOR_MENU: tuple[str, ...] = (
    "status",
    "check",
    "review",
    "reports",
    "workers",
    "broadcast",
    "broadcasts",
    "digest",
    "invite",
    "invites",
    "reinstate",
    "export",
    "audit",
    "pause",
    "resume",
    "close",
    "start",
    "guide",
    "projects",
    "me",
    "lang",
    "leave",
    "forget",
    "help",
)
COMMANDS_LIMIT = 100  # setMyCommands takes at most 100 commands per scope and language
MENUS: dict[str, tuple[str, ...]] = {
    "worker": WORKER_MENU,
    "reviewer": REVIEWER_MENU,
    "coordinator": COORDINATOR_MENU,
    "admin": COORDINATOR_MENU,
}
ROLES = tuple(MENUS)


@dataclass(frozen=True)
class ProjectTap(CallbackData, kind="pj"):
    """A project chosen in /projects: label in it from now on."""

    project_id: int


def handled_commands(app: Application[Any, Any, Any, Any, Any, Any]) -> frozenset[str]:
    """Every command a CommandHandler of the application answers."""
    names: set[str] = set()
    for group in app.handlers.values():
        for handler in group:
            if isinstance(handler, CommandHandler):
                names |= handler.commands
    return frozenset(names)


def menu_of(role: str, handled: Iterable[str] | None = None) -> tuple[str, ...]:
    """The commands of a role's menu, in menu order (only those handled, when given)."""
    menu = MENUS[role]
    if handled is None:
        return menu
    known = frozenset(handled)
    return tuple(c for c in menu if c in known)


def commands_of(role: str, lang: str, handled: Iterable[str] | None = None) -> list[BotCommand]:
    """A role's menu as BotCommands in `lang`."""
    return [BotCommand(c, t(lang, f"cmd_{c}")) for c in menu_of(role, handled)]


def help_lines(role: str, lang: str, handled: Iterable[str] | None = None) -> str:
    """A role's menu as /help shows it, one "/command — what it does" per line."""
    return "\n".join(
        t(lang, "help_line", command=c, about=t(lang, f"cmd_{c}")) for c in menu_of(role, handled)
    )


async def role_of_user(data: BotData, user_id: int) -> str:
    """The role whose menu the user gets: admin (settings), else their highest role in any
    project (coordinator, reviewer), else worker."""
    if data.is_admin(user_id):
        return "admin"
    for role in (Role.COORDINATOR, Role.REVIEWER):
        if await data.repo.projects_of(user_id, role):
            return role.value
    return "worker"


async def greeting(data: BotData, user_id: int, name: str, lang: str) -> str:
    """/start of someone in no project: the newcomer's welcome, or the admin's."""
    if not data.is_admin(user_id):
        return t(lang, "welcome", name=name)
    projects = await data.repo.list_projects()
    if not projects:
        return t(lang, "start_admin", name=name)
    slugs = ", ".join(p.slug for p in projects[:30])
    return t(lang, "start_admin_projects", name=name, count=len(projects), projects=slugs)


async def publish_menu(bot: Bot, user_id: int, role: str, handled: Iterable[str]) -> None:
    """Give the user's private chat the menu of `role` (a worker's: the default one)."""
    scope = BotCommandScopeChat(user_id)
    for lang in LANGUAGES:
        code = None if lang == "en" else lang
        if role == "worker":
            await bot.delete_my_commands(scope=scope, language_code=code)
        else:
            await bot.set_my_commands(
                commands_of(role, lang, handled), scope=scope, language_code=code
            )


async def refresh_menu(
    bot: Bot, data: BotData, user_id: int, handled: Iterable[str]
) -> str | None:
    """Bring the user's command menu in line with their roles now; the role, or None if
    Telegram refused (logged: a menu is a convenience, never worth failing a handler)."""
    role = await role_of_user(data, user_id)
    try:
        await publish_menu(bot, user_id, role, handled)
    except TelegramError as exc:
        log.info("menu of %s not updated: %s", user_id, exc)
        return None
    return role


async def publish_profile(bot: Bot, data: BotData, handled: Iterable[str]) -> None:
    """At start-up: the workers' default menu, the description and short description in
    every language, and the admins' menus. Descriptions are only set when they changed
    (Telegram limits how often they may be set)."""
    known = frozenset(handled)
    for lang in LANGUAGES:
        code = None if lang == "en" else lang
        await bot.set_my_commands(
            commands_of("worker", lang, known), scope=BotCommandScopeDefault(), language_code=code
        )
        description = t(lang, "bot_description")
        current = await bot.get_my_description(language_code=code)
        if current.description != description:
            await bot.set_my_description(description, language_code=code)
        short = t(lang, "bot_short_description")
        current_short = await bot.get_my_short_description(language_code=code)
        if current_short.short_description != short:
            await bot.set_my_short_description(short, language_code=code)
    for admin in data.settings.admins:
        try:
            await publish_menu(bot, admin, "admin", known)
        except TelegramError as exc:  # e.g. an admin who never started the bot
            log.info("menu of admin %s not set: %s", admin, exc)
