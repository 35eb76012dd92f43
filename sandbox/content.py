"""What a send or an edit carries besides media: formatted text or caption, inline keyboard.

Each reader takes the request's :class:`~sandbox.wire.Params`, checks them as Telegram does and
returns the fields as a Message stores them (HTML parsed into entities, a reply keyboard
dropped), or raises Telegram's error.
"""

from __future__ import annotations

import itertools

from sandbox.entities import parse_html
from sandbox.wire import (
    BUTTON_DATA_INVALID,
    CAPTION_TOO_LONG,
    JSON,
    MARKUP_INVALID,
    MAX_CALLBACK_DATA_BYTES,
    MAX_CAPTION_LENGTH,
    MAX_TEXT_LENGTH,
    TEXT_BUTTONS_UNALLOWED,
    TEXT_EMPTY,
    TEXT_TOO_LONG,
    ApiError,
    Params,
    bad,
)

_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def formatted(
    params: Params, name: str, entities_name: str, limit: int, too_long: str
) -> tuple[str, list[JSON] | None]:
    """Return a text or caption as stored (HTML parsed away) and its entities."""
    raw = params.text(name) or ""
    if (params.text("parse_mode") or "").lower() == "html":
        text, entities = parse_html(raw)
    else:
        text, given = raw, params.decoded(entities_name)
        if given is not None and not isinstance(given, list):
            raise bad(f"can't parse {entities_name} JSON object")
        entities = given or []
    if len(text) > limit:
        raise ApiError(400, too_long)
    return text, entities or None


def message_text(params: Params, too_long: str = TEXT_TOO_LONG) -> tuple[str, list[JSON] | None]:
    """Return a message's text and entities; the text must not be empty or too long."""
    text, entities = formatted(params, "text", "entities", MAX_TEXT_LENGTH, too_long)
    if not text.strip():
        raise ApiError(400, TEXT_EMPTY)
    return text, entities


def caption(
    params: Params, too_long: str = CAPTION_TOO_LONG
) -> tuple[str | None, list[JSON] | None]:
    """Return a caption (None when empty) and its entities."""
    text, entities = formatted(params, "caption", "caption_entities", MAX_CAPTION_LENGTH, too_long)
    return (text, entities) if text else (None, None)


def inline_markup(params: Params) -> JSON | None:
    """Return the message's inline keyboard; other keyboards are accepted but not kept."""
    markup = params.decoded("reply_markup", error=MARKUP_INVALID.removeprefix("Bad Request: "))
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise ApiError(400, MARKUP_INVALID)
    if "inline_keyboard" not in markup:
        if {"keyboard", "remove_keyboard", "force_reply"} & markup.keys():
            return None
        raise ApiError(400, MARKUP_INVALID)
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise ApiError(400, MARKUP_INVALID)
    for button in itertools.chain.from_iterable(rows):
        if not isinstance(button, dict) or not isinstance(button.get("text"), str):
            raise ApiError(400, MARKUP_INVALID)
        if not any(action in button for action in _BUTTON_ACTIONS):
            raise ApiError(400, TEXT_BUTTONS_UNALLOWED)
        data = button.get("callback_data")
        if "callback_data" in button and not (
            isinstance(data, str) and 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
        ):
            raise ApiError(400, BUTTON_DATA_INVALID)
    return {"inline_keyboard": rows} if rows else None
