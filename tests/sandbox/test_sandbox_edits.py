"""Edits as Telegram applies them: what each edit* method may turn into what, and its refusals.

Spoken over HTTP as a bot would (form fields and multipart, as python-telegram-bot posts them),
and through python-telegram-bot itself where its request shape matters (editMessageMedia with a
local file is multipart with an ``attach://`` part).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaAnimation,
    InputMediaAudio,
    InputMediaDocument,
    InputMediaPhoto,
    InputMediaVideo,
)
from telegram.error import BadRequest, RetryAfter

from sandbox import RateLimits, SandboxServer, SandboxUser
from sandbox.client import content_kind, storm
from tests.tls import http_client

UNLIMITED = RateLimits(global_rate=None, chat_rate=None)
KEYBOARD = {"inline_keyboard": [[{"text": "Cat", "callback_data": "v1:l:1:0"}]]}
OTHER_KEYBOARD = {"inline_keyboard": [[{"text": "Dog", "callback_data": "v1:l:2:0"}]]}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(4) + b"IHDR" + (3).to_bytes(4, "big") + (2).to_bytes(4, "big")
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


class BotSide:
    """The bot's side of the Bot API, posting form fields and files as PTB does."""

    def __init__(self, server: SandboxServer, http: httpx.AsyncClient) -> None:
        self.url = f"{server.bot_api_url}{server.token}"
        self.root = server.url
        self.http = http

    async def call(
        self, method: str, files: dict[str, Any] | None = None, **params: Any
    ) -> dict[str, Any]:
        fields = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
        response = await self.http.post(f"{self.url}/{method}", data=fields, files=files)
        body: dict[str, Any] = response.json()
        assert response.status_code == body.get("error_code", 200)
        return body

    async def result(
        self, method: str, files: dict[str, Any] | None = None, **params: Any
    ) -> dict[str, Any]:
        body = await self.call(method, files, **params)
        assert body["ok"], body
        result: dict[str, Any] = body["result"]
        return result

    async def error(self, method: str, files: dict[str, Any] | None = None, **params: Any) -> str:
        body = await self.call(method, files, **params)
        assert not body["ok"], body
        description: str = body["description"]
        return description

    async def text_card(self, text: str = "Sample 1", **extra: Any) -> dict[str, Any]:
        return await self.result(
            "sendMessage", chat_id=7, text=text, reply_markup=KEYBOARD, **extra
        )

    async def photo_card(self, caption: str = "Sample 1") -> dict[str, Any]:
        return await self.result(
            "sendPhoto",
            {"photo": ("cat.png", PNG, "image/png")},
            chat_id=7,
            caption=caption,
            reply_markup=KEYBOARD,
        )

    async def edit_media(
        self, message_id: int, media: dict[str, Any], **extra: Any
    ) -> dict[str, Any]:
        return await self.call(
            "editMessageMedia", chat_id=7, message_id=message_id, media=media, **extra
        )


async def ann_message(bot: BotSide, message_id: int) -> dict[str, Any]:
    """The message as Ann sees it now."""
    response = await bot.http.get(f"{bot.root}/sandbox/users/7/messages/{message_id}")
    message: dict[str, Any] = response.json()["result"]
    return message


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


@pytest.fixture
async def ptb(server: SandboxServer, ann: SandboxUser) -> AsyncIterator[Bot]:
    async with Bot(server.token, base_url=server.bot_api_url, base_file_url=server.file_url) as b:
        yield b


# --- editMessageText -----------------------------------------------------------------------------


async def test_edit_text_needs_a_text_message(bot: BotSide) -> None:
    photo = await bot.photo_card()
    error = await bot.error("editMessageText", chat_id=7, message_id=photo["message_id"], text="t")
    assert error == "Bad Request: there is no text in the message to edit"


async def test_edit_text_too_long_is_the_servers_code(bot: BotSide) -> None:
    card = await bot.text_card()
    message_id = card["message_id"]
    error = await bot.error("editMessageText", chat_id=7, message_id=message_id, text="x" * 4097)
    assert error == "Bad Request: MESSAGE_TOO_LONG"
    empty = await bot.error("editMessageText", chat_id=7, message_id=message_id, text=" ")
    assert empty == "Bad Request: message text is empty"
    edited = await bot.result("editMessageText", chat_id=7, message_id=message_id, text="x" * 4096)
    assert len(edited["text"]) == 4096


async def test_edit_text_not_modified_needs_text_entities_and_markup_alike(bot: BotSide) -> None:
    card = await bot.text_card("<b>Sample</b> 1", parse_mode="HTML")
    message_id = card["message_id"]
    same = await bot.error(
        "editMessageText",
        chat_id=7,
        message_id=message_id,
        text="<b>Sample</b> 1",
        parse_mode="HTML",
        reply_markup=KEYBOARD,
    )
    assert same == NOT_MODIFIED
    # The same characters without the bold entity are a change.
    plain = await bot.result(
        "editMessageText", chat_id=7, message_id=message_id, text="Sample 1", reply_markup=KEYBOARD
    )
    assert "entities" not in plain
    # Only the keyboard changes: a change too.
    keyboard = await bot.result(
        "editMessageText",
        chat_id=7,
        message_id=message_id,
        text="Sample 1",
        reply_markup=OTHER_KEYBOARD,
    )
    assert keyboard["reply_markup"] == OTHER_KEYBOARD


async def test_ptb_sees_the_edit_refusals(bot: BotSide, ptb: Bot) -> None:
    photo = await bot.photo_card()
    with pytest.raises(BadRequest) as no_text:
        await ptb.edit_message_text("t", chat_id=7, message_id=photo["message_id"])
    assert no_text.value.message == "There is no text in the message to edit"
    text = await ptb.send_message(7, "hello")
    with pytest.raises(BadRequest) as no_caption:
        await ptb.edit_message_caption(chat_id=7, message_id=text.message_id, caption="c")
    assert no_caption.value.message == "There is no caption in the message to edit"


# --- editMessageCaption --------------------------------------------------------------------------


async def test_edit_caption_needs_a_media_message(bot: BotSide) -> None:
    card = await bot.text_card()
    error = await bot.error(
        "editMessageCaption", chat_id=7, message_id=card["message_id"], caption="c"
    )
    assert error == "Bad Request: there is no caption in the message to edit"


async def test_edit_caption_limit_and_not_modified(bot: BotSide) -> None:
    photo = await bot.photo_card("Sample 1")
    message_id = photo["message_id"]
    too_long = await bot.error(
        "editMessageCaption", chat_id=7, message_id=message_id, caption="c" * 1025
    )
    assert too_long == "Bad Request: MEDIA_CAPTION_TOO_LONG"
    same = await bot.error(
        "editMessageCaption",
        chat_id=7,
        message_id=message_id,
        caption="Sample 1",
        reply_markup=KEYBOARD,
    )
    assert same == NOT_MODIFIED
    longest = await bot.result(
        "editMessageCaption", chat_id=7, message_id=message_id, caption="c" * 1024
    )
    assert longest["caption"] == "c" * 1024
    assert "reply_markup" not in longest  # left out: the keyboard goes


async def test_a_voice_message_takes_a_caption(bot: BotSide) -> None:
    voice = await bot.result("sendVoice", {"voice": ("v.ogg", b"OggS", "audio/ogg")}, chat_id=7)
    edited = await bot.result(
        "editMessageCaption", chat_id=7, message_id=voice["message_id"], caption="said"
    )
    assert edited["caption"] == "said"


# --- editMessageMedia ----------------------------------------------------------------------------


async def test_ptb_uploads_a_local_file_into_a_text_message(
    bot: BotSide, ptb: Bot, ann: SandboxUser, tmp_path: Path
) -> None:
    card = await ptb.send_message(7, "Sample 1: is this a cat?")
    path = tmp_path / "cat.png"
    path.write_bytes(PNG)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Cat", callback_data="v1:l:9:0")]])
    with path.open("rb") as handle:
        edited = await ptb.edit_message_media(
            chat_id=7,
            message_id=card.message_id,
            media=InputMediaPhoto(handle, caption="<b>Sample 2</b>", parse_mode="HTML"),
            reply_markup=keyboard,
        )
    assert not isinstance(edited, bool)
    assert edited.message_id == card.message_id
    assert edited.text is None
    assert edited.caption == "Sample 2"
    assert edited.caption_entities[0].type == "bold"
    assert (edited.photo[-1].width, edited.photo[-1].height) == (3, 2)
    assert edited.reply_markup == keyboard
    assert edited.edit_date is not None
    # The upload is a file like any other: it downloads, and its file_id can be sent again.
    file = await ptb.get_file(edited.photo[-1].file_id)
    assert bytes(await file.download_as_bytearray()) == PNG
    again = await ptb.send_photo(7, edited.photo[-1].file_id)
    assert again.photo[-1].file_unique_id == edited.photo[-1].file_unique_id
    # What the user sees now: the same message, a photo with the new caption and buttons.
    seen = await ann.message(card.message_id)
    assert content_kind(seen) == "photo"
    assert seen["caption"] == "Sample 2"
    assert "text" not in seen
    assert "entities" not in seen


async def test_ptb_replaces_media_with_every_allowed_type(
    bot: BotSide, ptb: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PTB 22 warns on durations as integers unless opted in to timedelta.
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    photo = await bot.photo_card()
    message_id = photo["message_id"]
    video = await ptb.edit_message_media(
        chat_id=7,
        message_id=message_id,
        media=InputMediaVideo(b"mp4", filename="v.mp4", caption="v", width=320, height=240),
    )
    assert not isinstance(video, bool)
    assert video.video is not None
    assert (video.video.width, video.video.height) == (320, 240)
    assert video.photo == ()
    audio = await ptb.edit_message_media(
        chat_id=7,
        message_id=message_id,
        media=InputMediaAudio(b"ID3", filename="s.mp3", title="Song", duration=3),
    )
    assert not isinstance(audio, bool)
    assert audio.audio is not None
    assert (audio.audio.title, audio.audio.duration) == ("Song", dt.timedelta(seconds=3))
    assert audio.video is None
    assert audio.caption is None  # no caption in the InputMedia: none on the message
    document = await ptb.edit_message_media(
        chat_id=7,
        message_id=message_id,
        media=InputMediaDocument(b"a,b\n", filename="data.csv"),
    )
    assert not isinstance(document, bool)
    assert document.document is not None
    assert document.document.file_name == "data.csv"
    assert document.audio is None
    animation = await ptb.edit_message_media(
        chat_id=7,
        message_id=message_id,
        media=InputMediaAnimation(b"GIF89a", filename="a.gif"),
    )
    assert not isinstance(animation, bool)
    assert animation.animation is not None
    # As on Telegram, an animation's message carries the same file as a document too.
    assert animation.document is not None
    assert animation.document.file_id == animation.animation.file_id
    back = await ptb.edit_message_media(
        chat_id=7, message_id=message_id, media=InputMediaPhoto(photo["photo"][0]["file_id"])
    )
    assert not isinstance(back, bool)
    assert back.photo[-1].file_id == photo["photo"][0]["file_id"]
    assert back.animation is None
    assert back.document is None


async def test_media_by_url_and_file_id(bot: BotSide) -> None:
    card = await bot.text_card()
    message_id = card["message_id"]
    by_url = await bot.edit_media(
        message_id, {"type": "photo", "media": "https://example.com/cat.jpg"}
    )
    size = by_url["result"]["photo"][0]
    assert "file_size" not in size  # never downloaded
    unknown = await bot.edit_media(message_id, {"type": "photo", "media": "NOPE"})
    assert unknown["description"] == "Bad Request: wrong file identifier/HTTP URL specified"
    mismatch = await bot.edit_media(message_id, {"type": "document", "media": size["file_id"]})
    assert mismatch["description"] == "Bad Request: type of file mismatch"


async def test_media_edit_refusals(bot: BotSide) -> None:
    card = await bot.text_card()
    message_id = card["message_id"]
    url = "https://example.com/x.ogg"
    cases: list[tuple[Any, str]] = [
        ({"type": "voice", "media": url}, 'can\'t parse InputMedia: type "voice" is unsupported'),
        (
            {"type": "sticker", "media": url},
            'can\'t parse InputMedia: type "sticker" is unsupported',
        ),
        (
            {"type": "video_note", "media": url},
            'can\'t parse InputMedia: type "video_note" is unsupported',
        ),
        ({"type": "photo"}, "can't parse InputMedia: media not found"),
        (
            {"type": "photo", "media": "attach://nothing"},
            "can't parse InputMedia: media not found",
        ),
        ({"media": url}, "can't parse InputMedia: Can't find field \"type\""),
        ([1], "can't parse InputMedia: expected an Object"),
        ("{nope", "can't parse input media JSON object"),
        (
            {"type": "photo", "media": url, "caption": "<b>x", "parse_mode": "HTML"},
            "can't parse InputMedia: Can't parse entities: Can't find end tag corresponding "
            'to start tag "b"',
        ),
    ]
    for media, error in cases:
        body = await bot.edit_media(message_id, media)
        assert body["description"] == f"Bad Request: {error}", media
    missing = await bot.call("editMessageMedia", chat_id=7, message_id=message_id)
    assert missing["description"] == 'Bad Request: parameter "media" is required'
    long_caption = await bot.edit_media(
        message_id, {"type": "photo", "media": url, "caption": "c" * 1025}
    )
    assert long_caption["description"] == "Bad Request: message caption is too long"
    nowhere = await bot.edit_media(999, {"type": "photo", "media": url})
    assert nowhere["description"] == "Bad Request: message to edit not found"
    # None of these changed the card.
    assert await ann_message(bot, message_id) == card


async def test_a_voice_messages_media_cannot_be_replaced(bot: BotSide) -> None:
    voice = await bot.result("sendVoice", {"voice": ("v.ogg", b"OggS", "audio/ogg")}, chat_id=7)
    body = await bot.edit_media(
        voice["message_id"], {"type": "audio", "media": "https://example.com/a.mp3"}
    )
    assert body["description"] == "Bad Request: message media can't be edited"


async def test_media_never_turns_back_into_text(bot: BotSide) -> None:
    card = await bot.text_card()
    message_id = card["message_id"]
    photo = await bot.edit_media(
        message_id, {"type": "photo", "media": "https://example.com/a.png", "caption": "c"}
    )
    assert "text" not in photo["result"]
    error = await bot.error("editMessageText", chat_id=7, message_id=message_id, text="back")
    assert error == "Bad Request: there is no text in the message to edit"


async def test_same_media_caption_and_markup_is_not_modified(bot: BotSide) -> None:
    photo = await bot.photo_card("Sample 1")
    message_id, file_id = photo["message_id"], photo["photo"][0]["file_id"]
    media = {"type": "photo", "media": file_id, "caption": "Sample 1"}
    same = await bot.edit_media(message_id, media, reply_markup=KEYBOARD)
    assert same["description"] == NOT_MODIFIED
    new_caption = await bot.edit_media(message_id, {**media, "caption": "Sample 2"})
    assert new_caption["result"]["caption"] == "Sample 2"
    assert new_caption["result"]["photo"] == photo["photo"]
    assert "reply_markup" not in new_caption["result"]  # left out: the keyboard goes
    uploaded = await bot.call(
        "editMessageMedia",
        {"new": ("cat.png", PNG, "image/png")},
        chat_id=7,
        message_id=message_id,
        media={"type": "photo", "media": "attach://new", "caption": "Sample 2"},
    )
    assert uploaded["ok"], uploaded  # a new upload is a new file, even with the same bytes
    assert uploaded["result"]["photo"][0]["file_id"] != file_id


async def test_the_same_file_is_the_same_media_whatever_the_attributes(bot: BotSide) -> None:
    audio = await bot.result(
        "sendAudio",
        {"audio": ("s.mp3", b"ID3", "audio/mpeg")},
        chat_id=7,
        title="Song",
        duration="3",
    )
    file_id = audio["audio"]["file_id"]
    # A file_id names a file Telegram already knows: the InputMedia's attributes do not change it.
    same = await bot.edit_media(
        audio["message_id"], {"type": "audio", "media": file_id, "title": "Other", "duration": 9}
    )
    assert same["description"] == NOT_MODIFIED
    captioned = await bot.edit_media(
        audio["message_id"], {"type": "audio", "media": file_id, "caption": "c", "title": "Other"}
    )
    assert captioned["result"]["audio"] == audio["audio"]


async def test_omitted_reply_markup_removes_the_keyboard_in_every_edit(bot: BotSide) -> None:
    photo = await bot.photo_card()
    message_id = photo["message_id"]
    url = "https://example.com/a.png"
    kept = await bot.edit_media(message_id, {"type": "photo", "media": url}, reply_markup=KEYBOARD)
    assert kept["result"]["reply_markup"] == KEYBOARD
    dropped = await bot.edit_media(message_id, {"type": "photo", "media": url})
    assert "reply_markup" not in dropped["result"]
    await bot.result(
        "editMessageReplyMarkup", chat_id=7, message_id=message_id, reply_markup=KEYBOARD
    )
    removed = await bot.result("editMessageReplyMarkup", chat_id=7, message_id=message_id)
    assert "reply_markup" not in removed
    again = await bot.error("editMessageReplyMarkup", chat_id=7, message_id=message_id)
    assert again == NOT_MODIFIED  # removing a keyboard that is not there changes nothing


async def test_edits_of_a_user_who_blocked_the_bot_are_forbidden(
    bot: BotSide, ann: SandboxUser
) -> None:
    card = await bot.text_card()
    await ann.block()
    body = await bot.edit_media(
        card["message_id"], {"type": "photo", "media": "https://example.com/a.png"}
    )
    assert body["error_code"] == 403


# --- flood limits --------------------------------------------------------------------------------


async def test_edits_share_the_chats_bucket_with_sends() -> None:
    limits = RateLimits(global_rate=None, chat_rate=0.2, chat_burst=3)
    async with (
        SandboxServer(limits=limits) as server,
        SandboxUser(server.url, 7, "Ann") as user,
        http_client(timeout=10, trust_env=False) as http,
    ):
        await user.create()
        await user.send("/start")
        bot = BotSide(server, http)
        card = await bot.text_card()
        url = "https://example.com/a.png"
        await bot.edit_media(card["message_id"], {"type": "photo", "media": url})
        await bot.result(
            "editMessageCaption", chat_id=7, message_id=card["message_id"], caption="c"
        )
        limited = await bot.edit_media(card["message_id"], {"type": "video", "media": url})
        assert limited["error_code"] == 429
        assert limited["parameters"]["retry_after"] >= 1
        # Another chat has its own bucket.
        async with SandboxUser(server.url, 8, "Bo") as bo:
            await bo.create()
            await bo.send("/start")
            assert (await bot.call("sendMessage", chat_id=8, text="hi"))["ok"]


async def test_edits_take_from_the_bots_bucket() -> None:
    limits = RateLimits(global_rate=1.0, global_burst=2, chat_rate=None)
    async with (
        SandboxServer(limits=limits) as server,
        SandboxUser(server.url, 7, "Ann") as user,
        http_client(timeout=10, trust_env=False) as http,
    ):
        await user.create()
        await user.send("/start")
        bot = BotSide(server, http)
        card = await bot.text_card()
        edited = await bot.edit_media(
            card["message_id"], {"type": "photo", "media": "https://example.com/a.png"}
        )
        assert edited["ok"]
        limited = await bot.call("sendMessage", chat_id=7, text="hi")
        assert limited["error_code"] == 429


async def test_a_storm_refuses_media_edits(
    bot: BotSide, server: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    card = await bot.text_card()
    await storm(server.url, 60, retry_after=2)
    refused = await bot.edit_media(
        card["message_id"], {"type": "photo", "media": "https://example.com/a.png"}
    )
    assert refused["error_code"] == 429
    async with Bot(server.token, base_url=server.bot_api_url) as ptb:
        with pytest.raises(RetryAfter):
            await ptb.edit_message_media(
                chat_id=7,
                message_id=card["message_id"],
                media=InputMediaPhoto("https://example.com/b.png"),
            )
    await storm(server.url, 0)
    assert (await ann_message(bot, card["message_id"]))["text"] == "Sample 1"
    assert server.calls["editMessageMedia"] == 2


async def test_send_animation(bot: BotSide) -> None:
    sent = await bot.result(
        "sendAnimation",
        {"animation": ("a.gif", b"GIF89a", "image/gif")},
        chat_id=7,
        width="2",
        duration="1",
    )
    assert sent["animation"]["width"] == 2
    assert sent["animation"]["file_name"] == "a.gif"
    assert sent["document"]["file_id"] == sent["animation"]["file_id"]
    assert content_kind(sent) == "animation"
