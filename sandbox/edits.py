"""The Bot API's edit* methods: a bot message changed in place, as Telegram changes it.

An edit addresses a bot message by chat_id and message_id (inline messages are not emulated),
refuses a change that changes nothing ("message is not modified": the same content and the same
keyboard), counts against the flood limits like a send (storms included), and, like Telegram,
removes the inline keyboard when ``reply_markup`` is left out. What can become what:

- editMessageText: a text message only; on a media message "there is no text in the message to
  edit". A text over 4096 characters is refused in the server's words, "MESSAGE_TOO_LONG".
- editMessageCaption: a media message only (voice included); on a text message "there is no
  caption in the message to edit". Over 1024 characters: "MEDIA_CAPTION_TOO_LONG".
- editMessageMedia (Bot API 7.11): a text, animation, audio, document, photo or video message
  becomes an animation, audio, document, photo or video, from an upload (``attach://<part>``),
  a file_id or a URL; a text message loses its text, and the caption comes from the InputMedia
  alone. A voice message's media cannot be replaced, and no InputMedia makes a text message:
  media never turns back into text. The InputMedia is read before the message is looked up, in
  the Bot API server's order, each problem answered "can't parse InputMedia: ...".
"""

from __future__ import annotations

import json
import sys
from typing import Any

from sandbox.chats import Chat
from sandbox.content import caption, formatted, inline_markup, message_text
from sandbox.files import MEDIA_KINDS, media_fields, media_kind
from sandbox.state import SandboxState
from sandbox.wire import (
    CAPTION_TOO_LONG,
    EDIT_CAPTION_TOO_LONG,
    EDIT_NOT_FOUND,
    EDIT_TEXT_TOO_LONG,
    JSON,
    MAX_CAPTION_LENGTH,
    MEDIA_NOT_EDITABLE,
    NO_CAPTION_TO_EDIT,
    NO_TEXT_TO_EDIT,
    NOT_MODIFIED,
    ApiError,
    Method,
    Params,
    bad,
    now,
)

# The InputMedia types the Bot API server accepts (10.0 adds live_photo, not emulated here).
_INPUT_MEDIA_TYPES = frozenset({"animation", "audio", "document", "photo", "video"})
# Message contents whose media editMessageMedia may replace, besides text.
_REPLACEABLE = _INPUT_MEDIA_TYPES


def _unparsable(problem: str) -> ApiError:
    """Return the Bot API server's refusal of an InputMedia object."""
    return bad(f"can't parse InputMedia: {problem}")


def _file_unique_id(media: Any) -> Any:
    """Return the file_unique_id of a Message's media field (the largest photo size's)."""
    if isinstance(media, list):
        return media[-1].get("file_unique_id") if media else None
    return media.get("file_unique_id") if isinstance(media, dict) else None


def _input_media(params: Params) -> tuple[str, str, Params]:
    """Return the type, the ``media`` value and the fields of the request's InputMedia."""
    raw = params.raw("media")
    if raw is None or raw == "" or params.upload("media") is not None:
        raise bad('parameter "media" is required')
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise bad("can't parse input media JSON object") from None
    if not isinstance(raw, dict):
        raise _unparsable("expected an Object")
    fields = Params(raw)
    if "type" not in raw:
        raise _unparsable('Can\'t find field "type"')
    kind = raw["type"]
    if not isinstance(kind, str):
        raise _unparsable('Field "type" must be of type String')
    media = raw.get("media")
    if media is not None and not isinstance(media, str):
        raise _unparsable('Field "media" must be of type String')
    if not media or (
        media.startswith("attach://") and params.upload(media.removeprefix("attach://")) is None
    ):
        raise _unparsable("media not found")
    if kind not in _INPUT_MEDIA_TYPES:
        raise _unparsable(f'type "{kind}" is unsupported')
    return kind, media, fields


class EditApi:
    """editMessageText, editMessageCaption, editMessageMedia and editMessageReplyMarkup."""

    def __init__(self, state: SandboxState) -> None:
        self._state = state

    def methods(self) -> dict[str, Method]:
        """Return the methods by their Bot API names."""
        return {
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageMedia": self._edit_message_media,
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
        """Apply an edit (a None value removes the field), refusing one that changes nothing."""
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
            raise ApiError(400, NO_TEXT_TO_EDIT)
        text, entities = message_text(params, too_long=EDIT_TEXT_TOO_LONG)
        # Like Telegram, an edit without reply_markup removes the inline keyboard.
        changes = {"text": text, "entities": entities, "reply_markup": inline_markup(params)}
        return self._apply_edit(chat, message, changes)

    async def _edit_message_caption(self, params: Params) -> JSON:
        chat, message = self._editable(params)
        if media_kind(message) is None:
            raise ApiError(400, NO_CAPTION_TO_EDIT)
        text, entities = caption(params, too_long=EDIT_CAPTION_TOO_LONG)
        changes = {
            "caption": text,
            "caption_entities": entities,
            "reply_markup": inline_markup(params),
        }
        return self._apply_edit(chat, message, changes)

    async def _edit_message_media(self, params: Params) -> JSON:
        markup = inline_markup(params)
        kind, media, fields = _input_media(params)
        try:
            # The length is checked later, once the message is known, as TDLib does.
            text, entities = formatted(
                fields, "caption", "caption_entities", sys.maxsize, CAPTION_TOO_LONG
            )
        except ApiError as error:
            problem = error.description.removeprefix("Bad Request: ")
            raise _unparsable(problem[:1].upper() + problem[1:]) from None
        chat, message = self._editable(params)
        current = media_kind(message)
        if current is not None and current not in _REPLACEABLE:
            raise ApiError(400, MEDIA_NOT_EDITABLE)
        if len(text) > MAX_CAPTION_LENGTH:
            raise ApiError(400, CAPTION_TOO_LONG)
        files = self._state.files
        upload = params.upload(media.removeprefix("attach://"))
        if media.startswith("attach://") and upload is not None:
            stored = files.uploaded(kind, upload)
        else:
            stored = files.named(kind, media)
        new = media_fields(stored, fields)
        if current == kind and _file_unique_id(message[kind]) == stored.file_unique_id:
            new = {key: message.get(key) for key in new}  # the same file: the media is unchanged
        # The old text or media goes; the caption and the keyboard come only from this call.
        changes: JSON = dict.fromkeys(("text", "entities", *MEDIA_KINDS))
        changes.update(new)
        changes.update(
            caption=text or None,
            caption_entities=entities if text else None,
            reply_markup=markup,
        )
        return self._apply_edit(chat, message, changes)

    async def _edit_message_reply_markup(self, params: Params) -> JSON:
        chat, message = self._editable(params)
        return self._apply_edit(chat, message, {"reply_markup": inline_markup(params)})
