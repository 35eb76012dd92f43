"""The control API under ``/sandbox/``: simulated users, and the fault switches.

Simulated users (see :mod:`sandbox.client`) are created, write to the bot, send files, press
buttons, read their chat as it is now and block the bot through these routes; fault harnesses
list and re-deliver updates, start 429 storms, change settings and read counters. No token;
JSON bodies; answers in the Bot API's shape (400 for bad input, 404 for an unknown user,
message, callback query or update). ``sandbox/README.md`` has the table of the user routes.

Faults, for fault harnesses (the same as methods of :class:`~sandbox.server.SandboxServer` and
functions of :mod:`sandbox.client`):

- ``GET /sandbox/updates?after=N``: the updates kept (the newest ``update_history``, default
  10,000, whether handed out yet or not) with update_id > N, oldest first, as getUpdates gives
  them.
- ``POST /sandbox/updates/{update_id}/redeliver``: queue that update again, same update_id and
  contents; answers the update, or 404 if it is no longer kept. Unlike a fresh update, a replay
  is returned by the next getUpdates whatever its ``offset`` (an offset past its id would
  otherwise drop it); it counts as confirmed once a later getUpdates carries an offset above its
  update_id (a getUpdates without offset returns it again). Batches stay ordered by update_id,
  so a replay comes before newer updates. Its callback query, if any, is the same one: answering
  it twice fails as on Telegram.
- ``POST /sandbox/storm {"seconds": S, "retry_after": R, "probability": P}``: for S seconds,
  every send* (but sendChatAction) and edit* call that passes validation answers 429 "Too Many
  Requests: retry after R" with ``parameters.retry_after`` R (default 1; 0 is allowed, though
  Telegram never sends it), with probability P (default 1); ``{"seconds": 0}`` ends it. The
  rate-limit buckets are untouched. Answers ``{active, seconds_left, retry_after, probability}``.
- ``POST /sandbox/settings {"callback_ttl": T}``: answerCallbackQuery fails for presses older
  than T seconds (null: never); answers the settings, ``{"callback_ttl": T}``.
- ``GET /sandbox/stats``: counters since start: ``updates_queued`` (created by users),
  ``updates_delivered`` (returned by getUpdates, repeats included), ``updates_redelivered``,
  ``updates_pending``, ``too_many_requests`` (429s served, any cause), ``storm_refusals`` (of
  those, by a storm), ``callback_queries`` (presses), ``callback_queries_answered``,
  ``callback_queries_unanswered`` with ``unanswered_callback_query_ids``,
  ``callback_answers_expired`` (answers refused as too old) and ``storm`` (its state).
"""

from __future__ import annotations

import copy
import itertools
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sandbox.chats import CallbackQuery, Chat, callback_buttons
from sandbox.entities import command_entities
from sandbox.state import SandboxState
from sandbox.wire import JSON, MAX_TEXT_LENGTH, ApiError, bad, compact, is_number, now

Handler = Callable[[web.Request], Awaitable[Any]]
"""A control route: the request in, the answer's ``result`` out."""


async def _json_body(request: web.Request) -> JSON:
    """Return the request's JSON object body."""
    try:
        body = await request.json()
    except ValueError:
        raise bad("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise bad("the body must be a JSON object")
    return body


def _seconds(request: web.Request, name: str) -> float:
    """Return a non-negative number from the query string (0 when absent)."""
    try:
        return max(float(request.query.get(name, "0")), 0.0)
    except ValueError:
        raise bad(f"{name} must be a number") from None


class ControlApi:
    """The routes under ``/sandbox/``."""

    def __init__(self, state: SandboxState) -> None:
        self._state = state

    def routes(self) -> list[tuple[str, str, Handler]]:
        """Return (HTTP verb, path, handler) of every control route."""
        return [
            ("POST", "/sandbox/users", self._create_user),
            ("POST", "/sandbox/users/{id}/messages", self._user_message),
            ("POST", "/sandbox/users/{id}/documents", self._user_document),
            ("POST", "/sandbox/users/{id}/callback", self._user_callback),
            ("GET", "/sandbox/users/{id}/inbox", self._user_inbox),
            ("GET", "/sandbox/users/{id}/changes", self._user_changes),
            ("GET", "/sandbox/users/{id}/messages/{message_id}", self._user_message_state),
            ("POST", "/sandbox/users/{id}/block", self._block),
            ("POST", "/sandbox/users/{id}/unblock", self._unblock),
            ("GET", "/sandbox/users/{id}/profile", self._user_profile),
            ("GET", "/sandbox/callbacks/{callback_query_id}", self._callback_answer),
            ("GET", "/sandbox/calls", self._get_calls),
            ("POST", "/sandbox/calls/reset", self._reset_calls),
            ("GET", "/sandbox/updates", self._get_updates_kept),
            ("POST", "/sandbox/updates/{update_id}/redeliver", self._redeliver),
            ("POST", "/sandbox/storm", self._storm),
            ("POST", "/sandbox/settings", self._settings),
            ("GET", "/sandbox/stats", self._stats),
        ]

    def _user_chat(self, request: web.Request) -> Chat:
        """Return the chat of the user named in the path."""
        try:
            chat = self._state.chats.get(int(request.match_info["id"]))
        except ValueError:
            chat = None
        if chat is None:
            raise ApiError(404, "Not Found: no such sandbox user")
        return chat

    def _bot_messages_after(self, chat: Chat, after: int) -> list[JSON]:
        """Return the bot's messages with message_id > ``after``, oldest first."""
        bot_id = self._state.bot["id"]
        # Message ids only grow, so the new ones are at the end of the (ordered) dict.
        newest_first = itertools.takewhile(
            lambda item: item[0] > after, reversed(chat.messages.items())
        )
        return [m for _, m in newest_first if m["from"]["id"] == bot_id][::-1]

    # --- simulated users ---------------------------------------------------------------------

    async def _create_user(self, request: web.Request) -> JSON:
        body = await _json_body(request)
        user_id, first_name = body.get("id"), body.get("first_name")
        if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id <= 0:
            raise bad("id must be a positive integer")
        if not isinstance(first_name, str) or not first_name:
            raise bad("first_name must be a non-empty string")
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        for key in ("last_name", "username", "language_code"):
            value = body.get(key)
            if value is not None and not isinstance(value, str):
                raise bad(f"{key} must be a string")
            if value:
                user[key] = value
        chat = self._state.chats.get(user_id)
        if chat is None:
            self._state.chats[user_id] = Chat(user=user, chat_instance=str(secrets.randbits(62)))
        else:
            chat.user = user
        return user

    async def _user_message(self, request: web.Request) -> JSON:
        chat = self._user_chat(request)
        text = (await _json_body(request)).get("text")
        if not isinstance(text, str) or not text.strip():
            raise bad("text must be a non-empty string")
        if len(text) > MAX_TEXT_LENGTH:
            raise bad("text is longer than 4096 characters")
        if chat.blocked:
            raise bad("the user has blocked the bot; unblock first")
        message: JSON = {
            "message_id": chat.next_message_id(),
            "from": chat.user,
            "chat": chat.info,
            "date": now(),
            "text": text,
        }
        entities = command_entities(text)
        if entities:
            message["entities"] = entities
        chat.started = True
        chat.messages[message["message_id"]] = message
        self._state.updates.enqueue({"message": dict(message)})
        return message

    async def _user_document(self, request: web.Request) -> JSON:
        """The user sends a file (multipart field `document`, optional `caption`)."""
        chat = self._user_chat(request)
        if chat.blocked:
            raise bad("the user has blocked the bot; unblock first")
        form = await request.post()
        upload = form.get("document")
        if not isinstance(upload, web.FileField):
            raise bad("send the file as multipart field 'document'")
        data = upload.file.read()
        if not data:
            raise bad("file must be non-empty")
        caption = form.get("caption")
        if caption is not None and (not isinstance(caption, str) or len(caption) > 1024):
            raise bad("caption must be text of at most 1024 characters")
        stored = self._state.files.store("document", data, upload.content_type, upload.filename)
        message: JSON = {
            "message_id": chat.next_message_id(),
            "from": chat.user,
            "chat": chat.info,
            "date": now(),
            "document": compact(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "file_name": stored.file_name,
                    "mime_type": stored.mime_type,
                    "file_size": len(data),
                }
            ),
        }
        if caption:
            message["caption"] = caption
        chat.started = True
        chat.messages[message["message_id"]] = message
        self._state.updates.enqueue({"message": dict(message)})
        return message

    async def _user_callback(self, request: web.Request) -> JSON:
        chat = self._user_chat(request)
        body = await _json_body(request)
        message_id, data = body.get("message_id"), body.get("data")
        strict = body.get("strict", True)
        if not isinstance(strict, bool):
            raise bad("strict must be a boolean")
        if not isinstance(message_id, int) or not isinstance(data, str):
            raise bad("message_id must be an integer and data a string")
        if chat.blocked:
            raise bad("the user has blocked the bot; unblock first")
        message = chat.messages.get(message_id)
        if message is None or message["from"]["id"] != self._state.bot["id"]:
            raise bad("no bot message with this message_id in the chat")
        if strict and data not in {
            button.get("callback_data")
            for button in itertools.chain.from_iterable(
                message.get("reply_markup", {}).get("inline_keyboard", [])
            )
        }:
            raise bad("the message has no button with this callback_data")
        query_id = str(next(self._state.callback_ids))
        self._state.callbacks[query_id] = CallbackQuery(chat_id=chat.user["id"])
        query = {
            "id": query_id,
            "from": chat.user,
            "message": copy.deepcopy(message),
            "chat_instance": chat.chat_instance,
            "data": data,
        }
        self._state.updates.enqueue({"callback_query": query})
        return {"callback_query_id": query_id}

    async def _callback_answer(self, request: web.Request) -> JSON:
        query = self._state.callbacks.get(request.match_info["callback_query_id"])
        if query is None:
            raise ApiError(404, "Not Found: no such callback query")
        deadline = time.monotonic() + _seconds(request, "timeout")
        while not (query.answered or self._state.closing):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            await self._state.callbacks_signal.wait(remaining)
        return {
            "answered": query.answered,
            "text": query.text,
            "show_alert": query.show_alert,
            "url": query.url,
        }

    async def _user_inbox(self, request: web.Request) -> list[JSON]:
        chat = self._user_chat(request)
        try:
            after = int(request.query.get("after", "0"))
        except ValueError:
            raise bad("after must be an integer") from None
        deadline = time.monotonic() + _seconds(request, "timeout")
        while True:
            inbox = self._bot_messages_after(chat, after)
            remaining = deadline - time.monotonic()
            if inbox or self._state.closing or remaining <= 0:
                return inbox
            await chat.signal.wait(remaining)

    async def _user_changes(self, request: web.Request) -> JSON:
        """Long-poll for new bot messages, or for one message's buttons to change.

        Query: ``after`` (a message id), ``timeout`` and, optionally, ``message_id`` with
        ``buttons``, the JSON list of [text, callback_data] pairs that message showed. Answers
        ``{"messages": [bot messages newer than after, oldest first], "edited": that message as
        it is now if its callback buttons differ from ``buttons``, else null}`` as soon as either
        is there, or empty at the timeout. A deleted message is not an edit.
        """
        chat = self._user_chat(request)
        try:
            after = int(request.query.get("after", "0"))
            watched = int(request.query.get("message_id", "0")) or None
        except ValueError:
            raise bad("after and message_id must be integers") from None
        try:
            shown = json.loads(request.query.get("buttons", "[]"))
        except ValueError:
            raise bad("buttons must be a JSON list of [text, callback_data] pairs") from None
        deadline = time.monotonic() + _seconds(request, "timeout")
        while True:
            messages = self._bot_messages_after(chat, after)
            edited = chat.messages.get(watched) if watched is not None else None
            if edited is not None and callback_buttons(edited) == shown:
                edited = None
            remaining = deadline - time.monotonic()
            if messages or edited is not None or self._state.closing or remaining <= 0:
                return {"messages": messages, "edited": edited}
            await chat.signal.wait(remaining)

    async def _user_message_state(self, request: web.Request) -> JSON:
        chat = self._user_chat(request)
        try:
            message = chat.messages.get(int(request.match_info["message_id"]))
        except ValueError:
            message = None
        if message is None:
            raise ApiError(404, "Not Found: no such message")
        return message

    async def _block(self, request: web.Request) -> bool:
        self._state.set_blocked(self._user_chat(request), True)
        return True

    async def _unblock(self, request: web.Request) -> bool:
        self._state.set_blocked(self._user_chat(request), False)
        return True

    # --- faults and counters -----------------------------------------------------------------

    async def _user_profile(self, request: web.Request) -> JSON:
        """The bot as this user's client shows it: the command menu of their private chat
        and the (short) description, each in their language with Telegram's fallbacks."""
        chat = self._user_chat(request)
        language = chat.user.get("language_code")
        profile = self._state.profile
        return {
            "commands": profile.visible_commands(chat.chat_id, language),
            "description": profile.visible_description(language),
            "short_description": profile.visible_description(language, short=True),
        }

    async def _get_calls(self, request: web.Request) -> dict[str, int]:
        return dict(self._state.calls)

    async def _reset_calls(self, request: web.Request) -> bool:
        self._state.calls.clear()
        return True

    async def _get_updates_kept(self, request: web.Request) -> list[JSON]:
        try:
            after = int(request.query.get("after", "0"))
        except ValueError:
            raise bad("after must be an integer") from None
        return self._state.updates.kept(after)

    async def _redeliver(self, request: web.Request) -> JSON:
        updates = self._state.updates
        try:
            return updates.redeliver(int(request.match_info["update_id"]))
        except (KeyError, ValueError):
            raise ApiError(
                404, f"Not Found: no such update among the last {updates.history_size} kept"
            ) from None

    async def _storm(self, request: web.Request) -> JSON:
        body = await _json_body(request)
        unknown = body.keys() - {"seconds", "retry_after", "probability"}
        if unknown:
            raise bad(f"unknown field {sorted(unknown)[0]!r}")
        seconds = body.get("seconds")
        retry_after = body.get("retry_after", 1)
        probability = body.get("probability", 1.0)
        if not is_number(seconds):
            raise bad("seconds must be a number (0 ends the storm)")
        if not isinstance(retry_after, int) or isinstance(retry_after, bool):
            raise bad("retry_after must be an integer")
        if not is_number(probability):
            raise bad("probability must be a number between 0 and 1")
        try:
            return self._state.flood.storm(seconds, retry_after, probability)
        except ValueError as error:
            raise bad(str(error)) from None

    async def _settings(self, request: web.Request) -> JSON:
        body = await _json_body(request)
        unknown = body.keys() - {"callback_ttl"}
        if unknown:
            raise bad(f"unknown setting {sorted(unknown)[0]!r}")
        if "callback_ttl" in body:
            ttl = body["callback_ttl"]
            if ttl is not None and not is_number(ttl):
                raise bad("callback_ttl must be a positive number of seconds or null")
            try:
                self._state.callback_ttl = ttl
            except ValueError as error:
                raise bad(str(error)) from None
        return {"callback_ttl": self._state.callback_ttl}

    async def _stats(self, request: web.Request) -> JSON:
        return self._state.stats()
