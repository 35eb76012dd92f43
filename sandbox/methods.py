"""The Bot API methods but the edits: the bot, updates, commands, sends, answers, files.

Each method takes the request's :class:`~sandbox.wire.Params` and returns the ``result`` of
Telegram's answer, or raises :class:`~sandbox.wire.ApiError` with Telegram's description. The
edit* methods live in :mod:`sandbox.edits`.
"""

from __future__ import annotations

import time

from sandbox.chats import Chat
from sandbox.content import caption, inline_markup, message_text
from sandbox.files import media_fields
from sandbox.state import SandboxState
from sandbox.wire import (
    JSON,
    MAX_CALLBACK_ANSWER_LENGTH,
    MAX_DOWNLOAD_BYTES,
    QUERY_INVALID,
    WRONG_FILE,
    ApiError,
    Method,
    Params,
    bad,
    compact,
)

_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)


def _reply_to(chat: Chat, params: Params) -> JSON | None:
    """Return the message being replied to, if any."""
    reply = params.decoded("reply_parameters")
    allow_missing = params.flag("allow_sending_without_reply")
    if isinstance(reply, dict):
        message_id = reply.get("message_id")
        allow_missing = allow_missing or bool(reply.get("allow_sending_without_reply"))
    else:
        message_id = params.integer("reply_to_message_id")
    if message_id is None:
        return None
    original = chat.messages.get(message_id) if isinstance(message_id, int) else None
    if original is None:
        if allow_missing:
            return None
        raise bad("message to be replied not found")
    return {key: value for key, value in original.items() if key != "reply_to_message"}


class BotApi:
    """The Bot API methods of the sandbox, except the edit* ones."""

    def __init__(self, state: SandboxState) -> None:
        self._state = state

    def methods(self) -> dict[str, Method]:
        """Return the methods by their Bot API names."""
        return {
            "getMe": self._get_me,
            "logOut": self._log_out,
            "close": self._log_out,
            "getUpdates": self._get_updates,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            # setMyCommands, getMyCommands, deleteMyCommands, set/getMyDescription,
            # set/getMyShortDescription: sandbox.commands.BotProfile
            **self._state.profile.methods(),
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendAnimation": self._send_animation,
            "sendAudio": self._send_audio,
            "sendVoice": self._send_voice,
            "sendVideo": self._send_video,
            "sendDocument": self._send_document,
            "deleteMessage": self._delete_message,
            "sendChatAction": self._send_chat_action,
            "answerCallbackQuery": self._answer_callback_query,
            "getFile": self._get_file,
        }

    # --- the bot, updates ----------------------------------------------------------------------

    async def _get_me(self, params: Params) -> JSON:
        """getMe: the bot's User with its capabilities."""
        return {
            **self._state.bot,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _log_out(self, params: Params) -> bool:
        """logOut and close: nothing to do here."""
        return True

    async def _get_updates(self, params: Params) -> list[JSON]:
        """getUpdates: confirm by offset, then long-poll for a batch."""
        offset = params.integer("offset") or 0
        limit = min(max(params.integer("limit") or 100, 1), 100)
        timeout = max(params.number("timeout") or 0.0, 0.0)
        allowed = params.decoded("allowed_updates")
        if allowed is not None:
            if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
                raise bad("can't parse allowed_updates JSON object")
            self._state.updates.allow(allowed)
        return await self._state.updates.poll(offset, limit, timeout)

    async def _delete_webhook(self, params: Params) -> bool:
        """deleteWebhook: there is none; drop_pending_updates empties the queue."""
        if params.flag("drop_pending_updates"):
            self._state.updates.drop_pending()
        return True

    async def _get_webhook_info(self, params: Params) -> JSON:
        """getWebhookInfo: no webhook, and the updates waiting."""
        return {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": self._state.updates.pending,
        }

    # --- messages ----------------------------------------------------------------------------

    async def _send_message(self, params: Params) -> JSON:
        """sendMessage: a text message, perhaps with a keyboard or as a reply."""
        chat = self._state.chat(params)
        text, entities = message_text(params)
        content = {
            "text": text,
            "entities": entities,
            "reply_markup": inline_markup(params),
            "reply_to_message": _reply_to(chat, params),
        }
        self._state.flood.throttle(chat.chat_id)
        return self._state.post_bot_message(chat, content)

    async def _send_media(self, kind: str, params: Params) -> JSON:
        """Send a photo, animation, audio, voice, video or document."""
        chat = self._state.chat(params)
        text, entities = caption(params)
        markup = inline_markup(params)
        reply_to = _reply_to(chat, params)
        stored = self._state.files.input_file(kind, params)
        self._state.flood.throttle(chat.chat_id)
        content = {
            **media_fields(stored, params),
            "caption": text,
            "caption_entities": entities,
            "reply_markup": markup,
            "reply_to_message": reply_to,
        }
        return self._state.post_bot_message(chat, content)

    async def _send_photo(self, params: Params) -> JSON:
        return await self._send_media("photo", params)

    async def _send_animation(self, params: Params) -> JSON:
        return await self._send_media("animation", params)

    async def _send_audio(self, params: Params) -> JSON:
        return await self._send_media("audio", params)

    async def _send_voice(self, params: Params) -> JSON:
        return await self._send_media("voice", params)

    async def _send_video(self, params: Params) -> JSON:
        return await self._send_media("video", params)

    async def _send_document(self, params: Params) -> JSON:
        return await self._send_media("document", params)

    async def _delete_message(self, params: Params) -> bool:
        """deleteMessage: even in a chat that blocked the bot."""
        chat = self._state.chat(params, for_sending=False)
        message_id = params.integer("message_id")
        if message_id is None or chat.messages.pop(message_id, None) is None:
            raise bad("message to delete not found")
        return True

    async def _send_chat_action(self, params: Params) -> bool:
        """sendChatAction: checked, not shown, not rate-limited."""
        self._state.chat(params)
        if params.text("action") not in _CHAT_ACTIONS:
            raise bad("wrong parameter action in request")
        return True

    async def _answer_callback_query(self, params: Params) -> bool:
        """answerCallbackQuery: once per press, within the callback TTL."""
        state = self._state
        query = state.callbacks.get(params.text("callback_query_id") or "")
        if query is None or query.answered:
            raise ApiError(400, QUERY_INVALID)
        if state.callback_ttl is not None and (
            time.monotonic() - query.pressed > state.callback_ttl
        ):
            state.callback_answers_expired += 1
            raise ApiError(400, QUERY_INVALID)
        text = params.text("text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise bad("MESSAGE_TOO_LONG")
        query.answered = True
        query.text = text or None
        query.show_alert = params.flag("show_alert")
        query.url = params.text("url")
        state.callbacks_signal.notify()
        return True

    # --- files -------------------------------------------------------------------------------

    async def _get_file(self, params: Params) -> JSON:
        """getFile: the file's download path."""
        stored = self._state.files.get(params.text("file_id") or "")
        if stored is None:
            raise ApiError(400, WRONG_FILE)
        if stored.data is not None and len(stored.data) > MAX_DOWNLOAD_BYTES:
            raise bad("file is too big")
        return compact(
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": len(stored.data) if stored.data is not None else None,
                "file_path": stored.file_path,
            }
        )
