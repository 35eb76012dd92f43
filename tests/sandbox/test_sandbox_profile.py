"""The bot's profile in the sandbox: command lists per scope and language, what a user's
client shows by Telegram's fallback order, the description and the short description."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from sandbox import RateLimits, SandboxServer
from sandbox.client import SandboxUser
from sandbox.commands import BotProfile
from tests.sandbox.test_sandbox_bot_api import api, form, user_says
from tests.tls import http_client


@pytest.fixture
async def server() -> AsyncIterator[SandboxServer]:
    async with SandboxServer(limits=RateLimits(global_rate=None, chat_rate=None)) as sandbox:
        yield sandbox


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(timeout=10) as client:
        yield client


def cmds(*names: str) -> list[dict[str, str]]:
    return [{"command": n, "description": f"about {n}"} for n in names]


async def test_each_scope_and_language_is_kept_apart(
    http: httpx.AsyncClient, server: SandboxServer
) -> None:
    chat = {"type": "chat", "chat_id": 7}
    # A chat scope names a chat the bot can see: a user who wrote to it.
    unknown = await api(http, server, "setMyCommands", commands=cmds("status"), scope=chat)
    assert unknown["error_code"] == 400
    assert unknown["description"] == "Bad Request: chat not found"
    await user_says(http, server, 7, "/start")
    await user_says(http, server, 8, "/start")
    await form(http, server, "setMyCommands", commands=cmds("start"))
    await form(http, server, "setMyCommands", commands=cmds("ko"), language_code="ko")
    await form(http, server, "setMyCommands", commands=cmds("status"), scope=chat)
    assert (await api(http, server, "getMyCommands"))["result"] == cmds("start")
    got = await api(http, server, "getMyCommands", language_code="ko")
    assert got["result"] == cmds("ko")
    # Exactly the scope asked, as Telegram answers: no fallback in getMyCommands.
    assert (await api(http, server, "getMyCommands", scope=chat))["result"] == cmds("status")
    got = await api(http, server, "getMyCommands", scope=chat, language_code="ko")
    assert got["result"] == []
    other = {"type": "chat", "chat_id": "8"}
    assert (await api(http, server, "getMyCommands", scope=other))["result"] == []
    assert (await api(http, server, "deleteMyCommands", scope=chat))["result"] is True
    assert (await api(http, server, "getMyCommands", scope=chat))["result"] == []
    assert (await api(http, server, "getMyCommands"))["result"] == cmds("start")


async def test_bad_scopes_and_languages_are_refused(
    http: httpx.AsyncClient, server: SandboxServer
) -> None:
    for scope in ({"type": "nope"}, {"type": "chat"}, "x"):
        got = await api(http, server, "getMyCommands", scope=scope)
        assert got["error_code"] == 400, scope
    got = await api(http, server, "getMyCommands", scope={"type": "chat_member", "chat_id": 1})
    assert got["error_code"] == 400
    got = await api(http, server, "setMyCommands", commands=cmds("a"), language_code="kor")
    assert got["error_code"] == 400
    assert (await api(http, server, "getMyCommands"))["result"] == []


def test_private_chat_fallback_order() -> None:
    profile = BotProfile()
    steps = [
        ((("default", 0, 0), ""), "default"),
        ((("default", 0, 0), "ko"), "default_ko"),
        ((("all_private_chats", 0, 0), ""), "private"),
        ((("all_private_chats", 0, 0), "ko"), "private_ko"),
        ((("chat", 7, 0), ""), "chat"),
        ((("chat", 7, 0), "ko"), "chat_ko"),
    ]
    # Added from the weakest to the strongest: each new one wins for a Korean user; an
    # English user sees the newest list without a language.
    english = "default"
    for key, name in steps:
        profile.commands[key] = cmds(name)
        assert profile.visible_commands(7, "ko-KR") == cmds(name)
        if not key[1]:
            english = name
        assert profile.visible_commands(7, "en") == cmds(english)
        assert profile.visible_commands(7, None) == cmds(english)
    assert profile.visible_commands(8, "ko") == cmds("private_ko")  # another chat
    # An empty list that is set is a list: it hides the fallbacks.
    profile.commands[(("chat", 7, 0), "ko")] = []
    assert profile.visible_commands(7, "ko") == []


def test_group_fallback_order() -> None:
    profile = BotProfile()
    profile.commands[(("default", 0, 0), "")] = cmds("default")
    profile.commands[(("all_private_chats", 0, 0), "")] = cmds("private")
    assert profile.visible_commands(-5, "en", user_id=3, group=True) == cmds("default")
    profile.commands[(("all_group_chats", 0, 0), "")] = cmds("groups")
    profile.commands[(("all_chat_administrators", 0, 0), "")] = cmds("admins")
    assert profile.visible_commands(-5, "en", user_id=3, group=True) == cmds("groups")
    assert profile.visible_commands(-5, "en", user_id=3, group=True, admin=True) == cmds("admins")
    profile.commands[(("chat", -5, 0), "")] = cmds("chat")
    assert profile.visible_commands(-5, "en", user_id=3, group=True, admin=True) == cmds("chat")
    profile.commands[(("chat_administrators", -5, 0), "")] = cmds("chat_admins")
    assert profile.visible_commands(-5, "en", user_id=3, group=True) == cmds("chat")
    got = profile.visible_commands(-5, "en", user_id=3, group=True, admin=True)
    assert got == cmds("chat_admins")
    profile.commands[(("chat_member", -5, 3), "")] = cmds("member")
    assert profile.visible_commands(-5, "en", user_id=3, group=True, admin=True) == cmds("member")
    assert profile.visible_commands(-5, "en", user_id=4, group=True) == cmds("chat")


async def test_descriptions_and_what_a_user_sees(
    http: httpx.AsyncClient, server: SandboxServer
) -> None:
    korean = SandboxUser(server.url, 11, "Mina", language_code="ko", client=http)
    english = SandboxUser(server.url, 12, "Ann", language_code="en", client=http)
    for user in (korean, english):
        await user.create()
        await user.send("/start")
    assert (await korean.bot_profile()) == {
        "commands": [],
        "description": "",
        "short_description": "",
    }
    assert (await form(http, server, "setMyDescription", description="Label data"))["ok"]
    assert (
        await form(
            http, server, "setMyDescription", description="데이터 라벨링", language_code="ko"
        )
    )["ok"]
    assert (await form(http, server, "setMyShortDescription", short_description="Labels"))["ok"]
    got = await api(http, server, "getMyDescription", language_code="ko")
    assert got["result"] == {"description": "데이터 라벨링"}
    got = await api(http, server, "getMyShortDescription", language_code="ko")
    assert got["result"] == {"short_description": ""}  # exactly this language
    too_long = await api(http, server, "setMyShortDescription", short_description="x" * 121)
    assert too_long["error_code"] == 400
    await form(http, server, "setMyCommands", commands=cmds("start"))
    await form(
        http,
        server,
        "setMyCommands",
        commands=cmds("status"),
        scope={"type": "chat", "chat_id": 11},
    )
    seen = await korean.bot_profile()
    assert seen["description"] == "데이터 라벨링"
    assert seen["short_description"] == "Labels"  # no Korean one: the default
    assert seen["commands"] == cmds("status")
    seen = await english.bot_profile()
    assert seen == {
        "commands": cmds("start"),
        "description": "Label data",
        "short_description": "Labels",
    }
    # An empty description removes the language's own.
    assert (await form(http, server, "setMyDescription", description="", language_code="ko"))["ok"]
    assert (await korean.bot_profile())["description"] == "Label data"
