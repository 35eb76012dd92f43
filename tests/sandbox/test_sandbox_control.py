"""The control API for simulated users, through sandbox.client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sandbox import (
    RateLimits,
    SandboxError,
    SandboxServer,
    SandboxUser,
    buttons,
    calls,
    reset_calls,
)
from tests.tls import http_client

KEYBOARD = {
    "inline_keyboard": [
        [
            {"text": "Cat", "callback_data": "v1:l:1:0"},
            {"text": "Dog", "callback_data": "v1:l:1:1"},
        ],
        [{"text": "Guide", "url": "https://example.com/guide"}],
    ]
}


@pytest.fixture
async def server() -> AsyncIterator[SandboxServer]:
    async with SandboxServer(limits=RateLimits(global_rate=None, chat_rate=None)) as sandbox:
        yield sandbox


@pytest.fixture
async def user(server: SandboxServer) -> AsyncIterator[SandboxUser]:
    async with SandboxUser(server.url, 7, "Ann", username="ann", language_code="en") as ann:
        await ann.create()
        yield ann


class Bot:
    """The bot's side, spoken over one HTTP client."""

    def __init__(self, server: SandboxServer, http: httpx.AsyncClient) -> None:
        self.url = f"{server.bot_api_url}{server.token}"
        self.http = http

    async def api(self, method: str, **params: Any) -> dict[str, Any]:
        body: dict[str, Any] = (await self.http.post(f"{self.url}/{method}", json=params)).json()
        return body

    async def send(self, chat_id: int, text: str, **extra: Any) -> dict[str, Any]:
        body = await self.api("sendMessage", chat_id=chat_id, text=text, **extra)
        assert body["ok"], body
        result: dict[str, Any] = body["result"]
        return result


@pytest.fixture
async def bot(server: SandboxServer) -> AsyncIterator[Bot]:
    async with http_client() as http:
        yield Bot(server, http)


async def test_create_is_idempotent(user: SandboxUser) -> None:
    again = await user.create()
    assert again == {
        "id": 7,
        "is_bot": False,
        "first_name": "Ann",
        "username": "ann",
        "language_code": "en",
    }


async def test_next_message_waits_for_the_bot(bot: Bot, user: SandboxUser) -> None:
    sent = await user.send("/start")
    assert sent["chat"] == {"id": 7, "type": "private", "first_name": "Ann", "username": "ann"}
    with pytest.raises(TimeoutError):
        await user.next_message(timeout=0.1)

    waiting = asyncio.create_task(user.next_message(timeout=5))
    await asyncio.sleep(0.05)
    await bot.send(7, "first")
    await bot.send(7, "second")
    assert (await waiting)["text"] == "first"
    assert (await user.next_message())["text"] == "second"
    assert user.last_seen == sent["message_id"] + 2
    assert await user.messages_after(user.last_seen) == []


async def test_press_checks_buttons(bot: Bot, user: SandboxUser) -> None:
    await user.send("/start")
    await bot.send(7, "Pick one", reply_markup=KEYBOARD)
    message = await user.next_message()
    assert buttons(message) == [("Cat", "v1:l:1:0"), ("Dog", "v1:l:1:1")]

    with pytest.raises(SandboxError) as refused:
        await user.press(message, data="v1:l:1:9")
    assert refused.value.code == 400
    with pytest.raises(LookupError):
        await user.press(message, text="Horse")
    with pytest.raises(ValueError, match="exactly one"):
        await user.press(message)

    by_text = await user.press(message, text="Dog")
    forged = await user.press(message, data="v1:l:999:0", strict=False)
    updates = (await bot.api("getUpdates"))["result"]
    queries = [u["callback_query"] for u in updates if "callback_query" in u]
    assert [(q["id"], q["data"]) for q in queries] == [
        (by_text, "v1:l:1:1"),
        (forged, "v1:l:999:0"),
    ]


async def test_answer_long_polls_until_the_bot_answers(bot: Bot, user: SandboxUser) -> None:
    await user.send("/start")
    await bot.send(7, "Pick one", reply_markup=KEYBOARD)
    query_id = await user.press(await user.next_message(), text="Cat")
    unanswered = await user.answer(query_id, timeout=0.1)
    assert unanswered["answered"] is False

    waiting = asyncio.create_task(user.answer(query_id, timeout=5))
    await asyncio.sleep(0.05)
    answer = await bot.api(
        "answerCallbackQuery", callback_query_id=query_id, text="Saved", show_alert=True
    )
    assert answer["ok"]
    assert await waiting == {"answered": True, "text": "Saved", "show_alert": True, "url": None}


async def test_message_state_and_errors(server: SandboxServer, user: SandboxUser) -> None:
    sent = await user.send("/start")
    assert (await user.message(sent["message_id"]))["text"] == "/start"
    with pytest.raises(SandboxError) as missing:
        await user.message(999)
    assert missing.value.code == 404
    stranger = SandboxUser(server.url, 404, "Nobody")
    with pytest.raises(SandboxError):
        await stranger.send("hi")
    await stranger.aclose()

    await user.block()
    with pytest.raises(SandboxError, match="blocked"):
        await user.send("hello?")
    await user.unblock()
    await user.send("hello again")


async def test_call_counter(server: SandboxServer, bot: Bot, user: SandboxUser) -> None:
    await user.send("/start")
    await bot.send(7, "one")
    await bot.send(7, "two")
    assert await calls(server.url) == {"sendMessage": 2}
    await reset_calls(server.url)
    assert await calls(server.url) == {}
    assert not server.calls


async def test_many_users_share_one_client(server: SandboxServer, bot: Bot) -> None:
    async with http_client(limits=httpx.Limits(max_connections=None)) as shared:
        crowd = [SandboxUser(server.url, 1000 + i, f"U{i}", client=shared) for i in range(60)]
        await asyncio.gather(*(u.create() for u in crowd))
        await asyncio.gather(*(u.send("/start") for u in crowd))
        inboxes = [asyncio.create_task(u.next_message(timeout=5)) for u in crowd]
        updates = (await bot.api("getUpdates"))["result"]
        assert len(updates) == 60
        for update in updates:
            chat_id = update["message"]["chat"]["id"]
            await bot.send(chat_id, f"hello {chat_id}")
        received = await asyncio.gather(*inboxes)
        assert [m["text"] for m in received] == [f"hello {1000 + i}" for i in range(60)]
        for u in crowd:
            await u.aclose()  # a shared client stays open
        assert not shared.is_closed


async def test_user_sends_a_document_the_bot_can_download() -> None:
    from sandbox.client import SandboxUser
    from sandbox.server import SandboxServer

    async with SandboxServer() as server, http_client() as http:
        user = SandboxUser(server.url, 7, "Coord", client=http)
        await user.create()
        message = await user.send_document("data.csv", b"text\nhello\n", caption="text=text")
        doc = message["document"]
        assert (doc["file_name"], doc["file_size"], message["caption"]) == (
            "data.csv",
            11,
            "text=text",
        )
        base = f"{server.bot_api_url}{server.token}"
        updates = (await http.get(f"{base}/getUpdates")).json()["result"]
        assert updates[-1]["message"]["document"]["file_id"] == doc["file_id"]
        path = (await http.get(f"{base}/getFile", params={"file_id": doc["file_id"]})).json()
        got = await http.get(f"{server.file_url}{server.token}/{path['result']['file_path']}")
        assert got.content == b"text\nhello\n"
