"""python-telegram-bot itself, pointed at the sandbox with base_url, as the product runs it."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from sandbox import RateLimits, SandboxServer, SandboxUser, buttons, calls
from tests.sandbox.ptb import polling_app


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet the user and offer two labels."""
    if update.message is None:
        return
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton("Cat", callback_data="v1:l:1:0")],
         [InlineKeyboardButton("Dog", callback_data="v1:l:1:1")]]
    )  # fmt: skip
    await update.message.reply_text(
        "<b>Sample 1</b>: what is in the picture?",
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard,
    )


async def label(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Record the pressed label and replace the keyboard with the choice."""
    query = update.callback_query
    if query is None or query.data is None:
        return
    choice = "Cat" if query.data.endswith(":0") else "Dog"
    await query.answer(f"Saved: {choice}")
    await query.edit_message_text(f"Sample 1: {choice} ✓")


@pytest.fixture
async def server() -> AsyncIterator[SandboxServer]:
    async with SandboxServer(
        limits=RateLimits(global_rate=None, chat_rate=0.2, chat_burst=3)
    ) as s:
        yield s


@pytest.fixture
async def app(server: SandboxServer) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    async with polling_app(
        server, CommandHandler("start", start), CallbackQueryHandler(label)
    ) as application:
        yield application


async def test_user_starts_and_labels(server: SandboxServer, app: Application) -> None:  # type: ignore[type-arg]
    async with SandboxUser(server.url, 42, "Ann", language_code="en") as ann:
        await ann.create()
        await ann.send("/start")
        question = await ann.next_message()
        assert question["text"] == "Sample 1: what is in the picture?"
        assert question["entities"] == [{"type": "bold", "offset": 0, "length": 8}]
        assert buttons(question) == [("Cat", "v1:l:1:0"), ("Dog", "v1:l:1:1")]

        query_id = await ann.press(question, text="Dog")
        answer = await ann.answer(query_id)
        assert answer["answered"] is True
        assert answer["text"] == "Saved: Dog"
        edited = await ann.message(question["message_id"])
        assert edited["text"] == "Sample 1: Dog ✓"
        assert "reply_markup" not in edited

    used = await calls(server.url)
    assert used["getMe"] == 1
    assert used["deleteWebhook"] == 1
    assert used["getUpdates"] >= 1
    assert used["sendMessage"] == used["answerCallbackQuery"] == used["editMessageText"] == 1


async def test_errors_reach_the_bot_as_ptb_exceptions(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PTB 22 warns when it builds RetryAfter with an int retry_after unless opted in to timedelta.
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    bot = Bot(server.token, base_url=server.bot_api_url, base_file_url=server.file_url)
    async with bot, SandboxUser(server.url, 42, "Ann") as ann:
        await ann.create()
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.send_message(42, "too early")
        await ann.send("/start")

        message = await bot.send_message(42, "hello")
        with pytest.raises(BadRequest, match="Message is not modified"):
            await bot.edit_message_text("hello", chat_id=42, message_id=message.message_id)
        with pytest.raises(BadRequest, match="Message is too long"):
            await bot.send_message(42, "x" * 4097)

        photo = await bot.send_photo(42, b"\x89PNG\r\n\x1a\n" + bytes(8) + b"IHDR" + bytes(8))
        file = await bot.get_file(photo.photo[-1].file_id)
        assert len(await file.download_as_bytearray()) == 28

        await bot.send_message(42, "the third message uses the last token of the burst")
        with pytest.raises(RetryAfter) as flood:
            await bot.send_message(42, "flood")
        assert flood.value.retry_after == dt.timedelta(seconds=5)
        await ann.block()
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(42, "are you there?")
