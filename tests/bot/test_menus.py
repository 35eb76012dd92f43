"""Command menus per role: every listed command has words in both languages, the menus fit
Telegram's limits, only handled commands are listed, and /help says what the menu says."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import build_application
from bot.menus import (
    COMMANDS_LIMIT,
    MENUS,
    ROLES,
    commands_of,
    handled_commands,
    help_lines,
    menu_of,
)
from bot.texts import LANGUAGES, TEXTS, t
from config.settings import Settings
from storage.repository import Repository

HANDLED_BY_THIS_TREE = {"start", "help", "projects", "status", "check", "review", "export"}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_command_of_every_menu_has_words_that_fit(role: str, lang: str) -> None:
    commands = commands_of(role, lang)
    assert 0 < len(commands) <= COMMANDS_LIMIT
    for command in commands:
        assert f"cmd_{command.command}" in TEXTS
        assert 1 <= len(command.description) <= 256
        assert command.command.isascii()
        assert command.command == command.command.lower()


def test_the_roles_see_what_they_can_do() -> None:
    assert "status" not in MENUS["worker"]
    assert "review" not in MENUS["worker"]
    assert "review" in MENUS["reviewer"]
    assert "status" not in MENUS["reviewer"]
    for role in ("coordinator", "admin"):
        assert {"status", "check", "review", "invite", "export", "audit"} <= set(MENUS[role])
    for role in ROLES:
        assert {"start", "help", "lang"} <= set(MENUS[role])


def test_a_menu_lists_only_handled_commands(tmp_path: Path) -> None:
    settings = Settings(token="1:test", db_path=tmp_path / "x.db", admins=[1])
    app = build_application(settings, Repository(tmp_path / "x.db"))
    handled = handled_commands(app)
    assert handled >= HANDLED_BY_THIS_TREE
    assert menu_of("worker", {"start", "help"}) == ("start", "help")
    for role in ROLES:
        # Every command of the worker's loop is handled by the bot as wired.
        listed = menu_of(role, handled)
        assert set(listed) <= handled
        assert listed[0] in ("start", "status")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_help_lists_the_menu(lang: str) -> None:
    lines = help_lines("reviewer", lang, {"start", "review", "help"}).splitlines()
    assert lines == [
        f"/start — {t(lang, 'cmd_start')}",
        f"/review — {t(lang, 'cmd_review')}",
        f"/help — {t(lang, 'cmd_help')}",
    ]
