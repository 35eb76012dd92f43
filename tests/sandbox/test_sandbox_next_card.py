"""What a simulated user sees after a tap: the next card, new or edited into the tapped one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from sandbox import RateLimits, SandboxServer, SandboxUser, buttons, calls
from sandbox.client import content_kind
from tests.sandbox.ptb import polling_app
from tests.tls import http_client

UNLIMITED = RateLimits(global_rate=None, chat_rate=None)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(4) + b"IHDR" + (3).to_bytes(4, "big") + (2).to_bytes(4, "big")


def keyboard(sample: int) -> dict[str, Any]:
    return {"inline_keyboard": [[{"text": "Cat", "callback_data": f"v1:l:{sample}:0"}]]}


class BotSide:
    """The bot's side, JSON over one HTTP client."""

    def __init__(self, server: SandboxServer, http: httpx.AsyncClient) -> None:
        self.url = f"{server.bot_api_url}{server.token}"
        self.http = http

    async def result(self, method: str, **params: Any) -> dict[str, Any]:
        body: dict[str, Any] = (await self.http.post(f"{self.url}/{method}", json=params)).json()
        assert body["ok"], body
        result: dict[str, Any] = body["result"]
        return result

    async def card(self, sample: int) -> dict[str, Any]:
        return await self.result(
            "sendMessage", chat_id=7, text=f"Sample {sample}", reply_markup=keyboard(sample)
        )

    async def edit(self, message_id: int, text: str, markup: Any = None) -> dict[str, Any]:
        params: dict[str, Any] = {"chat_id": 7, "message_id": message_id, "text": text}
        if markup is not None:
            params["reply_markup"] = markup
        return await self.result("editMessageText", **params)


@pytest.fixture
async def server() -> AsyncIterator[SandboxServer]:
    async with SandboxServer(limits=UNLIMITED) as sandbox:
        yield sandbox


@pytest.fixture
async def ann(server: SandboxServer) -> AsyncIterator[SandboxUser]:
    async with SandboxUser(server.url, 7, "Ann") as user:
        await user.create()
        await user.send("/start")
        yield user


@pytest.fixture
async def bot(server: SandboxServer, ann: SandboxUser) -> AsyncIterator[BotSide]:
    async with http_client(timeout=10, trust_env=False) as http:
        yield BotSide(server, http)


async def test_an_edit_in_place_is_the_next_card(bot: BotSide, ann: SandboxUser) -> None:
    await bot.card(1)
    card = await ann.next_card()
    await ann.press(card, data="v1:l:1:0")
    # The edit must wake the wait: a wait that ran out its 30 s would miss wait_for's 5 s.
    waiting = asyncio.create_task(ann.next_card(card, timeout=30))
    await asyncio.sleep(0.1)
    assert not waiting.done()  # the server holds the long poll until something changes
    await bot.edit(card["message_id"], "Sample 2", keyboard(2))
    following = await asyncio.wait_for(waiting, 5)
    assert following["message_id"] == card["message_id"]
    assert following["text"] == "Sample 2"
    assert buttons(following) == [("Cat", "v1:l:2:0")]
    assert ann.last_seen == card["message_id"]


async def test_an_edit_before_the_wait_is_seen_at_once(bot: BotSide, ann: SandboxUser) -> None:
    await bot.card(1)
    card = await ann.next_card()
    await bot.result(
        "editMessageMedia",
        chat_id=7,
        message_id=card["message_id"],
        media={"type": "photo", "media": "https://example.com/2.png", "caption": "Sample 2"},
        reply_markup=keyboard(2),
    )
    peek = await ann.message(card["message_id"])  # looking does not make the edit old news
    following = await ann.next_card(card, timeout=0)
    assert following == peek
    assert content_kind(following) == "photo"
    assert following["caption"] == "Sample 2"


async def test_a_new_message_with_buttons_is_the_next_card(bot: BotSide, ann: SandboxUser) -> None:
    first = await bot.card(1)
    card = await ann.next_card()
    await bot.edit(first["message_id"], "Sample 1 ✓")  # the answered card loses its buttons
    await bot.result("sendMessage", chat_id=7, text="Saved")  # a notice
    second = await bot.card(2)
    following = await ann.next_card(card, timeout=5)
    assert following == second
    assert ann.last_seen == second["message_id"]


async def test_notices_are_passed_over_unless_asked_for(bot: BotSide, ann: SandboxUser) -> None:
    await bot.card(1)
    card = await ann.next_card()
    notice = await bot.result("sendMessage", chat_id=7, text="🎉 All done")
    with pytest.raises(TimeoutError):
        await ann.next_card(card, timeout=0.2)
    assert ann.last_seen == notice["message_id"]  # passed over, and counted as seen

    done = await bot.edit(card["message_id"], "🎉 All done")  # the card itself, no buttons
    assert (await ann.next_card(card, timeout=1, notices=True)) == done


async def test_each_change_is_returned_once_while_the_same_card_is_passed(
    bot: BotSide, ann: SandboxUser
) -> None:
    await bot.card(1)
    card = await ann.next_card()
    await ann.press(card, data="v1:l:1:0")
    marker = await bot.edit(card["message_id"], "Sample 1 ✓")  # buttons gone: a notice
    assert await ann.next_card(card, timeout=1, notices=True) == marker
    with pytest.raises(TimeoutError):  # already seen: not returned again
        await ann.next_card(card, timeout=0.2, notices=True)
    note = await bot.result("sendMessage", chat_id=7, text="Saved")
    assert await ann.next_card(card, timeout=1, notices=True) == note
    # The card is still watched after the notice: its edit into the next sample is the card.
    following = await bot.edit(card["message_id"], "Sample 2", keyboard(2))
    assert await ann.next_card(card, timeout=1, notices=True) == following


async def test_a_fresher_card_than_the_last_seen_edit_is_waited_on(
    bot: BotSide, ann: SandboxUser
) -> None:
    await bot.card(1)
    card = await ann.next_card()
    await bot.edit(card["message_id"], "Sample 2", keyboard(2))
    second = await ann.next_card(card, timeout=1)
    await bot.edit(card["message_id"], "Sample 3", keyboard(3))
    third = await ann.message(card["message_id"])  # read, then tapped, outside next_card
    assert third["text"] == "Sample 3"
    with pytest.raises(TimeoutError):  # what the tapped card shows is not news
        await ann.next_card(third, timeout=0.2)
    assert await ann.next_card(second, timeout=0) == third  # but it is after the second


async def test_a_marker_that_keeps_the_buttons_is_not_a_card(
    bot: BotSide, ann: SandboxUser
) -> None:
    await bot.card(1)
    card = await ann.next_card()
    await bot.edit(card["message_id"], "Sample 1 ⏳", keyboard(1))
    with pytest.raises(TimeoutError):
        await ann.next_card(card, timeout=0.2)


async def test_buttons_that_go_and_come_back_are_the_next_card(
    server: SandboxServer, bot: BotSide
) -> None:
    requests: list[httpx.Request] = []

    async def count(request: httpx.Request) -> None:
        requests.append(request)

    hooks = {"request": [count]}
    async with (
        http_client(trust_env=False, event_hooks=hooks) as http,
        SandboxUser(server.url, 7, "Ann", client=http) as ann,
    ):
        await bot.card(1)
        card = await ann.next_card()
        waiting = asyncio.create_task(ann.next_card(card, timeout=30))
        await bot.edit(card["message_id"], "Saving…")
        await asyncio.sleep(0.2)
        assert not waiting.done()
        # Seen once, then waited for again on the server: not polled over and over.
        assert len([r for r in requests if r.url.path.endswith("/changes")]) <= 3
        await bot.edit(card["message_id"], "Sample 2", keyboard(2))
        assert (await asyncio.wait_for(waiting, 5))["text"] == "Sample 2"


async def test_the_tapped_message_is_not_its_own_next_card(bot: BotSide, ann: SandboxUser) -> None:
    card = await bot.card(1)  # never read through the inbox: newer than last_seen
    assert ann.last_seen < card["message_id"]
    with pytest.raises(TimeoutError):
        await ann.next_card(card, timeout=0.2)
    second = await bot.card(2)
    assert await ann.next_card(card, timeout=1) == second


# --- the real bot, editing its card in place --------------------------------------------------


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send the first card."""
    if update.message is None:
        return
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Cat", callback_data="v1:l:1:0")]])
    await update.message.reply_text("Sample 1", reply_markup=markup)


async def label(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Turn the answered card into the next sample: a text, then a photo, then a note."""
    query = update.callback_query
    if query is None or query.data is None:
        return
    await query.answer()
    sample = int(query.data.split(":")[2])
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton("Cat", callback_data=f"v1:l:{sample + 1}:0")]]
    )
    if sample == 1:
        await query.edit_message_text("Sample 2", reply_markup=markup)
    elif sample == 2:
        await query.edit_message_media(
            InputMediaPhoto(PNG, filename="3.png", caption="Sample 3"), reply_markup=markup
        )
    else:
        await query.edit_message_caption("🎉 All done")


@pytest.fixture
async def app(server: SandboxServer) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    async with polling_app(
        server, CommandHandler("start", start), CallbackQueryHandler(label)
    ) as application:
        yield application


async def test_a_worker_labels_cards_the_bot_edits_in_place(
    server: SandboxServer,
    app: Application,  # type: ignore[type-arg]
) -> None:
    async with SandboxUser(server.url, 42, "Ann") as worker:
        await worker.create()
        await worker.send("/start")
        card = await worker.next_card(timeout=5)
        seen = []
        while buttons(card):
            seen.append(
                (card["message_id"], content_kind(card), card.get("text") or card["caption"])
            )
            await worker.press(card, data=buttons(card)[0][1])
            card = await worker.next_card(card, timeout=5, notices=True)
        first = card["message_id"]  # one message throughout: each card is an edit of the last
        assert seen == [
            (first, "text", "Sample 1"),
            (first, "text", "Sample 2"),
            (first, "photo", "Sample 3"),
        ]
        assert card["caption"] == "🎉 All done"
    used = await calls(server.url)
    assert used["sendMessage"] == 1
    assert used["editMessageText"] == used["editMessageMedia"] == used["editMessageCaption"] == 1
