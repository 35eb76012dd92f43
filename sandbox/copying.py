"""copyMessage, and users who send formatted messages and photos (what broadcasts need).

copyMessage puts a copy of a message into another chat as a new message of the bot: the
text and its entities, or the media and its caption with caption entities, without a link to
the original (unlike a forward); ``caption``/``parse_mode``/``caption_entities`` replace the
caption, ``reply_markup`` is the copy's own. It answers ``MessageId``. As Telegram does, it
refuses a chat that blocked the bot (403), a message it cannot find ("message to copy not
found") and service messages; it takes a token from the flood buckets like any send.

The user routes: ``POST /sandbox/users/{id}/formatted`` ``{"html": "<b>Hi</b> all"}`` sends a
text whose formatting arrives as entities; ``POST /sandbox/users/{id}/photo`` (multipart
field ``photo``, optional ``caption`` in HTML) sends a photo. For crowds too big to create one
by one (a benchmark's 10,000 recipients): ``POST /sandbox/users/bulk`` ``{"first_id": 100000,
"count": 10000}`` creates users whose chat with the bot is open (they wrote to it long ago; no
update is queued), and ``GET /sandbox/delivered?text=...`` counts, per chat, the bot's
messages with exactly that text (``{"chats": {"100000": 1, ...}}``).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sandbox.chats import Chat
from sandbox.content import caption, inline_markup
from sandbox.entities import parse_html
from sandbox.state import SandboxState
from sandbox.wire import (
    JSON,
    MAX_CAPTION_LENGTH,
    MAX_TEXT_LENGTH,
    ApiError,
    Method,
    Params,
    bad,
    compact,
    now,
)

_COPIED = (
    "text",
    "entities",
    "photo",
    "document",
    "video",
    "animation",
    "audio",
    "voice",
    "caption",
    "caption_entities",
)
_MEDIA = ("photo", "document", "video", "animation", "audio", "voice")
COPY_NOT_FOUND = "Bad Request: message to copy not found"
CANT_COPY = "Bad Request: the message can't be copied"

Handler = Callable[[web.Request], Awaitable[Any]]


class CopyApi:
    """copyMessage and the users' formatted text and photo routes."""

    def __init__(self, state: SandboxState) -> None:
        self._state = state

    def methods(self) -> dict[str, Method]:
        """Return the Bot API methods by name."""
        return {"copyMessage": self._copy_message}

    def routes(self) -> list[tuple[str, str, Handler]]:
        """Return (HTTP verb, path, handler) of the user routes."""
        return [
            ("POST", "/sandbox/users/{id}/formatted", self._user_formatted),
            ("POST", "/sandbox/users/{id}/photo", self._user_photo),
            ("POST", "/sandbox/users/bulk", self._bulk_users),
            ("GET", "/sandbox/delivered", self._delivered),
        ]

    async def _copy_message(self, params: Params) -> JSON:
        """copyMessage: the message's content as a new message of the bot."""
        chat = self._state.chat(params)
        raw_from = params.raw("from_chat_id")
        try:
            source = self._state.chats.get(int(raw_from)) if raw_from not in (None, "") else None
        except (TypeError, ValueError):
            source = None
        message_id = params.integer("message_id")
        if source is None:
            raise bad("chat not found")
        original = source.messages.get(message_id) if message_id is not None else None
        if original is None:
            raise ApiError(400, COPY_NOT_FOUND)
        content: JSON = {key: original[key] for key in _COPIED if key in original}
        if "text" not in content and not any(kind in content for kind in _MEDIA):
            raise ApiError(400, CANT_COPY)
        if params.raw("caption") is not None:
            if "text" in content:
                raise bad("can't set a caption for a text message")
            text, entities = caption(params)
            content["caption"], content["caption_entities"] = text, entities
        content["reply_markup"] = inline_markup(params)
        self._state.flood.throttle(chat.chat_id)
        sent = self._state.post_bot_message(chat, compact(content))
        return {"message_id": sent["message_id"]}

    # --- users ---------------------------------------------------------------------------------

    def _sender(self, request: web.Request) -> Chat:
        try:
            chat = self._state.chats.get(int(request.match_info["id"]))
        except ValueError:
            chat = None
        if chat is None:
            raise ApiError(404, "Not Found: no such sandbox user")
        if chat.blocked:
            raise bad("the user has blocked the bot; unblock first")
        return chat

    def _post(self, chat: Chat, content: JSON) -> JSON:
        message: JSON = {
            "message_id": chat.next_message_id(),
            "from": chat.user,
            "chat": chat.info,
            "date": now(),
            **compact(content),
        }
        chat.started = True
        chat.messages[message["message_id"]] = message
        self._state.updates.enqueue({"message": dict(message)})
        return message

    async def _user_formatted(self, request: web.Request) -> JSON:
        chat = self._sender(request)
        try:
            body = await request.json()
        except ValueError:
            raise bad("the body must be JSON") from None
        source = body.get("html") if isinstance(body, dict) else None
        if not isinstance(source, str) or not source.strip():
            raise bad("html must be a non-empty string")
        text, entities = parse_html(source)
        if len(text) > MAX_TEXT_LENGTH:
            raise bad("text is longer than 4096 characters")
        return self._post(chat, {"text": text, "entities": entities or None})

    async def _user_photo(self, request: web.Request) -> JSON:
        chat = self._sender(request)
        form = await request.post()
        upload = form.get("photo")
        if not isinstance(upload, web.FileField):
            raise bad("send the picture as multipart field 'photo'")
        data = upload.file.read()
        if not data:
            raise bad("file must be non-empty")
        raw_caption = form.get("caption")
        text: str | None = None
        entities: list[JSON] | None = None
        if isinstance(raw_caption, str) and raw_caption:
            text, found = parse_html(raw_caption)
            entities = found or None
            if len(text) > MAX_CAPTION_LENGTH:
                raise bad("caption is longer than 1024 characters")
        stored = self._state.files.store("photo", data, upload.content_type, None)
        photo = [
            compact(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "file_size": len(data),
                    "width": stored.width,
                    "height": stored.height,
                }
            )
        ]
        return self._post(chat, {"photo": photo, "caption": text, "caption_entities": entities})

    async def _bulk_users(self, request: web.Request) -> JSON:
        try:
            body = await request.json()
        except ValueError:
            raise bad("the body must be JSON") from None
        first, count = body.get("first_id"), body.get("count")
        if not isinstance(first, int) or not isinstance(count, int) or first <= 0:
            raise bad("first_id must be a positive integer and count an integer")
        if not 0 < count <= 1_000_000:
            raise bad("count must be between 1 and 1000000")
        language = body.get("language_code")
        made = 0
        for user_id in range(first, first + count):
            if user_id in self._state.chats:
                continue
            user: JSON = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
            if isinstance(language, str) and language:
                user["language_code"] = language
            chat = Chat(user=user, chat_instance=str(secrets.randbits(62)))
            chat.started = True
            self._state.chats[user_id] = chat
            made += 1
        return {"created": made}

    async def _delivered(self, request: web.Request) -> JSON:
        text = request.query.get("text")
        if not text:
            raise bad("give the text to count as ?text=")
        bot_id = self._state.bot["id"]
        chats: JSON = {}
        for chat_id, chat in self._state.chats.items():
            n = sum(
                1
                for m in chat.messages.values()
                if m.get("text") == text and m["from"]["id"] == bot_id
            )
            if n:
                chats[str(chat_id)] = n
        return {"chats": chats}
