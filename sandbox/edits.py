"""The Bot API's edit* methods: a bot message changed in place, as Telegram changes it.

An edit addresses a bot message by chat_id and message_id (inline messages are not emulated),
refuses a change that changes nothing ("message is not modified"), counts against the flood
limits like a send, and, like Telegram, removes the inline keyboard when ``reply_markup`` is
left out.
"""

from __future__ import annotations

from sandbox.chats import Chat
from sandbox.content import caption, inline_markup, message_text
from sandbox.files import MEDIA_KINDS
from sandbox.state import SandboxState
from sandbox.wire import EDIT_NOT_FOUND, JSON, NOT_MODIFIED, ApiError, Method, Params, bad, now


class EditApi:
    """editMessageText, editMessageCaption and editMessageReplyMarkup."""

    def __init__(self, state: SandboxState) -> None:
        self._state = state

    def methods(self) -> dict[str, Method]:
        """Return the methods by their Bot API names."""
        return {
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
        }

    def _editable(self, params: Params) -> tuple[Chat, JSON]:
        """Return the chat and the bot message an edit* call addresses."""
        if params.raw("inline_message_id") is not None:
            raise bad("inline messages are not emulated by the sandbox")
        chat = self._state.chat(params)
        message_id = params.integer("message_id")
        message = chat.messages.get(message_id) if message_id is not None else None
        if message is None:
            raise ApiError(400, EDIT_NOT_FOUND)
        if message["from"]["id"] != self._state.bot["id"]:
            raise bad("message can't be edited")
        return chat, message

    def _apply_edit(self, chat: Chat, message: JSON, changes: JSON) -> JSON:
        """Apply an edit, refusing one that changes nothing."""
        if all(message.get(key) == value for key, value in changes.items()):
            raise ApiError(400, NOT_MODIFIED)
        self._state.flood.throttle(chat.chat_id)
        for key, value in changes.items():
            if value is None:
                message.pop(key, None)
            else:
                message[key] = value
        message["edit_date"] = now()
        chat.signal.notify()
        return message

    async def _edit_message_text(self, params: Params) -> JSON:
        chat, message = self._editable(params)
        if "text" not in message:
            raise bad("there is no text in the message to edit")
        text, entities = message_text(params)
        # Like Telegram, an edit without reply_markup removes the inline keyboard.
        changes = {"text": text, "entities": entities, "reply_markup": inline_markup(params)}
        return self._apply_edit(chat, message, changes)

    async def _edit_message_caption(self, params: Params) -> JSON:
        chat, message = self._editable(params)
        if not any(kind in message for kind in MEDIA_KINDS):
            raise bad("there is no caption in the message to edit")
        text, entities = caption(params)
        changes = {
            "caption": text,
            "caption_entities": entities,
            "reply_markup": inline_markup(params),
        }
        return self._apply_edit(chat, message, changes)

    async def _edit_message_reply_markup(self, params: Params) -> JSON:
        chat, message = self._editable(params)
        return self._apply_edit(chat, message, {"reply_markup": inline_markup(params)})
