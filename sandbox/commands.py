"""The bot's profile as Telegram keeps it: command lists per scope and language, the
description and the short description per language, and what a user's client shows of them.

getMyCommands, getMyDescription and getMyShortDescription answer for exactly the scope and
language asked, as Telegram does ("If commands aren't set, an empty list is returned").
Which list a user *sees* follows Telegram's fallback order ("Determining list of commands" in
the Bot API docs), resolved by :meth:`BotProfile.visible_commands`:

- in a private chat: chat + language, chat, all private chats + language, all private chats,
  default + language, default;
- in a group: chat member + language, chat member, chat administrators + language and
  without (administrators only), chat + language, chat, all chat administrators + language
  and without (administrators only), all group chats + language and without, default +
  language, default.

The first list that is set wins, an empty one included (setMyCommands with [] is "set"; only
deleteMyCommands unsets).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sandbox.wire import CHAT_NOT_FOUND, JSON, ApiError, Method, Params, bad

_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_LANGUAGE = re.compile(r"[a-z]{2}")
MAX_COMMANDS = 100
MAX_DESCRIPTION = 512
MAX_SHORT_DESCRIPTION = 120

Scope = tuple[str, int, int]
"""(type, chat id or 0, user id or 0): one BotCommandScope, normalised."""

_SCOPE_TYPES = {
    "default": (),
    "all_private_chats": (),
    "all_group_chats": (),
    "all_chat_administrators": (),
    "chat": ("chat_id",),
    "chat_administrators": ("chat_id",),
    "chat_member": ("chat_id", "user_id"),
}


def _scope(params: Params, chat_exists: Callable[[int], bool] | None = None) -> Scope:
    """The request's BotCommandScope (default when absent), checked and normalised."""
    raw = params.decoded("scope")
    if raw is None:
        return ("default", 0, 0)
    if not isinstance(raw, dict) or raw.get("type") not in _SCOPE_TYPES:
        raise bad("can't parse BotCommandScope JSON object")
    kind = str(raw["type"])
    values = []
    for field in _SCOPE_TYPES[kind]:
        value = raw.get(field)
        if isinstance(value, str) and value.lstrip("-").isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            if field == "chat_id":
                raise ApiError(400, CHAT_NOT_FOUND)
            raise bad("USER_ID_INVALID")
        if field == "chat_id" and chat_exists is not None and not chat_exists(value):
            raise ApiError(400, CHAT_NOT_FOUND)
        values.append(value)
    values += [0] * (2 - len(values))
    return (kind, values[0], values[1])


def _language(params: Params) -> str:
    """The request's language_code: "" (every language) or two lowercase letters."""
    code = params.text("language_code") or ""
    if code and not _LANGUAGE.fullmatch(code):
        raise bad("LANG_CODE_INVALID")
    return code


def _base_language(code: str | None) -> str:
    """A user's language_code as a command list is chosen by: "pt-br" -> "pt"."""
    return (code or "").lower().split("-")[0][:2]


class BotProfile:
    """Command lists, descriptions and short descriptions, each per scope or language."""

    def __init__(self, chat_exists: Callable[[int], bool] | None = None) -> None:
        """`chat_exists`: whether a chat id names a chat the bot can see (a user who started
        it); a scope naming any other chat is refused with "chat not found", as Telegram
        does. None accepts every chat."""
        self.chat_exists = chat_exists
        self.commands: dict[tuple[Scope, str], list[JSON]] = {}
        self.descriptions: dict[str, str] = {}
        self.short_descriptions: dict[str, str] = {}

    # --- the Bot API -------------------------------------------------------------------------

    def _scope(self, params: Params) -> Scope:
        return _scope(params, self.chat_exists)

    def methods(self) -> dict[str, Method]:
        """The Bot API methods of the profile, by name."""
        return {
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setMyDescription": self._set_my_description,
            "getMyDescription": self._get_my_description,
            "setMyShortDescription": self._set_my_short_description,
            "getMyShortDescription": self._get_my_short_description,
        }

    async def _set_my_commands(self, params: Params) -> bool:
        """setMyCommands: store the list under its scope and language."""
        commands = params.decoded("commands")
        if not isinstance(commands, list) or len(commands) > MAX_COMMANDS:
            raise bad("can't parse commands JSON object")
        stored = []
        for command in commands:
            if not isinstance(command, dict):
                raise bad("can't parse BotCommand JSON object")
            name, description = command.get("command"), command.get("description")
            if not isinstance(name, str) or not _COMMAND_NAME.fullmatch(name.removeprefix("/")):
                raise bad("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise bad("BOT_COMMAND_DESCRIPTION_INVALID")
            stored.append({"command": name.removeprefix("/"), "description": description})
        self.commands[(self._scope(params), _language(params))] = stored
        return True

    async def _get_my_commands(self, params: Params) -> list[JSON]:
        """getMyCommands: the list stored under exactly this scope and language, or []."""
        return list(self.commands.get((self._scope(params), _language(params)), []))

    async def _delete_my_commands(self, params: Params) -> bool:
        """deleteMyCommands: unset the list of this scope and language (the fallback applies)."""
        self.commands.pop((self._scope(params), _language(params)), None)
        return True

    async def _set_my_description(self, params: Params) -> bool:
        """setMyDescription: an empty or absent description removes the one of the language."""
        return self._set_text(params, "description", self.descriptions, MAX_DESCRIPTION)

    async def _get_my_description(self, params: Params) -> JSON:
        """getMyDescription: the description of exactly this language ("" when unset)."""
        return {"description": self.descriptions.get(_language(params), "")}

    async def _set_my_short_description(self, params: Params) -> bool:
        """setMyShortDescription: as setMyDescription, for the profile page's short text."""
        return self._set_text(
            params, "short_description", self.short_descriptions, MAX_SHORT_DESCRIPTION
        )

    async def _get_my_short_description(self, params: Params) -> JSON:
        """getMyShortDescription: the short description of exactly this language."""
        return {"short_description": self.short_descriptions.get(_language(params), "")}

    @staticmethod
    def _set_text(params: Params, field: str, store: dict[str, str], limit: int) -> bool:
        language = _language(params)
        text = params.text(field) or ""
        if len(text) > limit:
            raise bad(f"{field.upper()}_INVALID")
        if text:
            store[language] = text
        else:
            store.pop(language, None)
        return True

    # --- what a user sees --------------------------------------------------------------------

    def visible_commands(
        self,
        chat_id: int,
        language_code: str | None,
        *,
        user_id: int | None = None,
        group: bool = False,
        admin: bool = False,
    ) -> list[JSON]:
        """The command menu a user with `language_code` sees in the chat (Telegram's order).

        A private chat by default (its id is the user's); `group` with the user's `user_id`
        (and `admin` for an administrator there) for a group chat.
        """
        if group:
            member = user_id or 0
            scopes: list[Scope] = [("chat_member", chat_id, member)]
            if admin:
                scopes.append(("chat_administrators", chat_id, 0))
            scopes.append(("chat", chat_id, 0))
            if admin:
                scopes.append(("all_chat_administrators", 0, 0))
            scopes.append(("all_group_chats", 0, 0))
        else:
            scopes = [("chat", chat_id, 0), ("all_private_chats", 0, 0)]
        scopes.append(("default", 0, 0))
        language = _base_language(language_code)
        for scope in scopes:
            for key in ((scope, language), (scope, "")) if language else ((scope, ""),):
                if key in self.commands:
                    return list(self.commands[key])
        return []

    def visible_description(self, language_code: str | None, *, short: bool = False) -> str:
        """The (short) description a user with `language_code` sees: theirs, else the default."""
        store = self.short_descriptions if short else self.descriptions
        language = _base_language(language_code)
        return store.get(language) or store.get("", "")
