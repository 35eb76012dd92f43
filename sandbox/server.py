"""A local sandbox of the Telegram Bot API, with a control API for simulated users.

The real bot runs against it unchanged, over HTTP, by pointing python-telegram-bot's
``base_url``/``base_file_url`` at :attr:`SandboxServer.bot_api_url` and
:attr:`SandboxServer.file_url`. Simulated users (see :mod:`sandbox.client`) talk to the
control API under ``/sandbox/``. The server listens on 127.0.0.1 and keeps everything in memory.

Bot API methods: getMe, getUpdates, deleteWebhook, getWebhookInfo, setMyCommands,
getMyCommands, deleteMyCommands, sendMessage, sendPhoto, sendAudio, sendVoice, sendVideo,
sendDocument, editMessageText, editMessageCaption, editMessageReplyMarkup, deleteMessage,
answerCallbackQuery, getFile, sendChatAction, logOut, close (names are case-insensitive).

What it emulates: private chats with users created through the control API; long polling with
offsets, limits, remembered ``allowed_updates`` and the 409 conflict of a second poller; text and
media messages with their current state (edits, deletions, inline keyboards, replies); callback
queries; ``my_chat_member`` updates on block/unblock; file uploads, ``file_id`` reuse and
downloads; Telegram's error shape and description texts for the common mistakes (chat not found,
empty or too long text and captions, invalid callback data, malformed markup, edits of unknown or
unchanged messages, stale callback queries, unknown files, sends and edits to a user who blocked
the bot, HTML that Telegram would refuse); token-bucket flood limits (429 with retry_after);
callback queries that expire (``callback_ttl``, by default Telegram's 15 s: answerCallbackQuery
then fails with "query is too old ..."; None turns it off; the test suite passes with it, as its
users wait at most 5 s for an answer anyway); re-delivery of an update the bot did not confirm
(forced through the control API).

Faults, for fault harnesses (HTTP control calls; the same as methods of :class:`SandboxServer`
and functions of :mod:`sandbox.client`):

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

What it does not emulate:

- groups, supergroups, channels, topics, business accounts, inline mode, payments, games,
  stickers, polls, reactions, media groups, ``copyMessage``/``forwardMessage`` and every other
  method not listed above: they answer 404 "Not Found", as Telegram does for unknown methods;
- webhooks (``setWebhook`` answers 404; only ``getUpdates`` delivers updates);
- users sending anything but text and documents (files); users editing or deleting their
  own messages;
- ``/command`` entities anywhere but at offset 0, and any other automatic entity (URLs,
  mentions, hashtags);
- ``parse_mode`` ``Markdown``/``MarkdownV2``: the text is stored verbatim, without validation;
  HTML is parsed (tags become entities, errors become "can't parse entities"), but the wording
  after that prefix is only close to Telegram's, and leading/trailing whitespace is not trimmed;
  lengths are counted in code points;
- reply keyboards (``keyboard``, ``remove_keyboard``, ``force_reply``): accepted, not shown;
  a simulated user types the button's text instead;
- file contents sent by ``http(s)`` URL: never downloaded (no network); the message gets a new
  ``file_id`` without ``file_size``, and downloading that file answers 404;
- thumbnails and extra photo sizes (a photo has one ``PhotoSize``), media durations and video
  dimensions (taken from the request, else 0), re-encoding of photos;
- the scope/language fallback of getMyCommands (a list is found only under its exact key);
- the 48-hour limit on deleting messages, and limits other than the ``RateLimits`` buckets
  (which apply to ``send*`` except ``sendChatAction``, and to ``edit*``) and storms;
- re-delivery on its own: an update is repeated only when asked through the control API (or
  when the bot polls without confirming it);
- persistence: all state lives in the SandboxServer object's memory.

Run it standalone with ``python -m sandbox.server --port 8081 --limits telegram`` (or
``labelgram sandbox``); ``--limits off`` lifts the flood limits, ``--limits N/s`` allows N
messages/s for the whole bot and none per chat (see :meth:`RateLimits.parse`). A port in use is
one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import collections
import contextlib
import copy
import errno
import itertools
import json
import math
import random
import re
import secrets
import signal
import struct
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from types import TracebackType
from typing import Any, Self, TypeGuard

from aiohttp import BodyPartReader, web

JSON = dict[str, Any]

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
UPDATE_HISTORY = 10_000
"""How many of the newest updates the server keeps for listing and re-delivery."""
CALLBACK_TTL = 15.0
"""Seconds after a button press at which Telegram stops accepting answerCallbackQuery."""

# Telegram's own description texts, so that code matching on them is tested against the real ones.
CHAT_NOT_FOUND = "Bad Request: chat not found"
BLOCKED = "Forbidden: bot was blocked by the user"
TEXT_EMPTY = "Bad Request: message text is empty"
TEXT_TOO_LONG = "Bad Request: message is too long"
CAPTION_TOO_LONG = "Bad Request: message caption is too long"
BUTTON_DATA_INVALID = "Bad Request: BUTTON_DATA_INVALID"
MARKUP_INVALID = "Bad Request: can't parse reply keyboard markup JSON object"
TEXT_BUTTONS_UNALLOWED = "Bad Request: text buttons are unallowed in the inline keyboard"
EDIT_NOT_FOUND = "Bad Request: message to edit not found"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
WRONG_FILE = "Bad Request: wrong file identifier/HTTP URL specified"
CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)

# Update types a bot gets when it asks for "all" (an empty allowed_updates list, or never asked).
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_MEDIA_KINDS = ("photo", "audio", "voice", "video", "document")
_DEFAULT_MIME = {
    "audio": "audio/mpeg",
    "voice": "audio/ogg",
    "video": "video/mp4",
    "document": "application/octet-stream",
}
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
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_LEADING_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{1,64})?(?=\s|$)")


@dataclass(frozen=True)
class RateLimits:
    """Token buckets for sending and editing messages (not sendChatAction); None disables one."""

    global_rate: float | None = 30.0  # per second, whole bot
    global_burst: int = 30
    chat_rate: float | None = 1.0  # per second, per chat
    chat_burst: int = 20

    def __post_init__(self) -> None:
        """Refuse buckets that could never hold a token."""
        for rate, burst in (
            (self.global_rate, self.global_burst),
            (self.chat_rate, self.chat_burst),
        ):
            if rate is not None and (rate <= 0 or burst < 1):
                raise ValueError("a rate must be positive and its burst at least 1")

    @classmethod
    def parse(cls, text: str) -> RateLimits:
        """Return the limits named by ``off``, ``telegram`` or ``N/s`` (the --limits values).

        ``telegram`` is the default (30 messages/s for the bot, 1/s per chat with a burst of 20);
        ``off`` disables both buckets; ``N/s`` is a global rate of N messages/s (a burst of one
        second's worth, at least 1) with the per-chat bucket off, e.g. ``5/s`` or ``0.5/s``.
        """
        value = text.strip().lower()
        if value == "telegram":
            return cls()
        if value == "off":
            return cls(global_rate=None, chat_rate=None)
        rate = math.nan
        if value.endswith("/s"):
            with contextlib.suppress(ValueError):
                rate = float(value.removesuffix("/s"))
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(
                "limits must be off, telegram or N/s with N a positive number of messages "
                f"per second (e.g. 10/s), not {text!r}"
            )
        return cls(global_rate=rate, global_burst=max(1, math.ceil(rate)), chat_rate=None)

    def describe(self) -> str:
        """Return the limits in words, for the standalone server's banner."""
        parts = []
        if self.global_rate is not None:
            parts.append(f"{self.global_rate:g} messages/s (burst {self.global_burst})")
        if self.chat_rate is not None:
            parts.append(f"{self.chat_rate:g}/s per chat (burst {self.chat_burst})")
        return ", ".join(parts) or "off"


class _Bucket:
    """A token bucket: ``burst`` tokens, refilled at ``rate`` per second."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def delay(self, now: float) -> float:
        """Return how many seconds until a token is available (0 if one is)."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


class _ApiError(Exception):
    """A refusal, answered in Telegram's error shape."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def response(self) -> web.Response:
        """Return the error as Telegram would send it."""
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return web.json_response(body, status=self.code)


def _bad(description: str) -> _ApiError:
    """Return a 400 error; ``description`` comes without the "Bad Request: " prefix."""
    return _ApiError(400, f"Bad Request: {description}")


def _ok(result: Any) -> web.Response:
    """Return a successful answer in Telegram's shape."""
    return web.json_response({"ok": True, "result": result})


@dataclass(frozen=True)
class _Upload:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


class _Params:
    """Request parameters from the query string and body, with Telegram's lenient typing."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def raw(self, name: str) -> Any:
        """Return the value as it arrived, or None."""
        return self._values.get(name)

    def text(self, name: str) -> str | None:
        """Return a string parameter; numbers are accepted, as Telegram does."""
        value = self._values.get(name)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise _bad(f'field "{name}" must be of type String')

    def integer(self, name: str) -> int | None:
        """Return an integer parameter, or None when absent."""
        value = self._values.get(name)
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return int(value)
        raise _bad(f'field "{name}" must be of type Integer')

    def number(self, name: str) -> float | None:
        """Return a numeric parameter, or None when absent."""
        value = self._values.get(name)
        if value is None:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return float(value)
        raise _bad(f'field "{name}" must be of type Number')

    def flag(self, name: str) -> bool:
        """Return a boolean parameter; absent means False."""
        value = self._values.get(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def decoded(self, name: str, error: str | None = None) -> Any:
        """Return an object parameter; form posts carry objects as JSON strings."""
        value = self._values.get(name)
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise _bad(error or f"can't parse {name} JSON object") from None

    def upload(self, name: str) -> _Upload | None:
        """Return the file part called ``name``, if the request carried one."""
        value = self._values.get(name)
        return value if isinstance(value, _Upload) else None


# ---------------------------------------------------------------------------------------------
# HTML parse mode

_HTML_TOKEN = re.compile(r"<[^<>]*>|<|&(?:#[0-9]+|#[xX][0-9a-fA-F]+|lt|gt|amp|quot);")
_HTML_TAG = re.compile(r"<\s*(/?)\s*([^\s/>]*)(.*?)/?\s*>", re.DOTALL)
_HTML_ATTR = re.compile(r"([A-Za-z_][\w-]*)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+)))?")
_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"&lt;": "<", "&gt;": ">", "&amp;": "&", "&quot;": '"'}


def _utf16_len(text: str) -> int:
    """Return the length in UTF-16 code units, the unit of Telegram's entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _unescape(token: str) -> str:
    """Decode one of the HTML entities Telegram supports (the four named ones and numeric)."""
    if token in _NAMED_ENTITIES:
        return _NAMED_ENTITIES[token]
    number = token[2:-1]
    code = int(number[1:], 16) if number[:1] in ("x", "X") else int(number)
    return chr(code) if 0 < code <= 0x10FFFF else ""


def _unescape_all(text: str) -> str:
    """Decode the supported HTML entities inside an attribute value."""
    return _HTML_TOKEN.sub(lambda m: _unescape(m[0]) if m[0].startswith("&") else m[0], text)


def _parse_html(source: str) -> tuple[str, list[JSON]]:
    """Return the plain text and entities of an HTML-formatted text, or raise as Telegram does."""
    out: list[str] = []
    offset = 0
    stack: list[tuple[str, int, dict[str, str]]] = []
    entities: list[JSON] = []
    position = 0

    def emit(chunk: str) -> None:
        nonlocal offset
        out.append(chunk)
        offset += _utf16_len(chunk)

    for token in _HTML_TOKEN.finditer(source):
        emit(source[position : token.start()])
        position = token.end()
        if token[0].startswith("&"):
            emit(_unescape(token[0]))
            continue
        at = len(source[: token.start()].encode())
        tag = _HTML_TAG.fullmatch(token[0])
        if tag is None:
            raise _bad(f"can't parse entities: Unclosed start tag at byte offset {at}")
        closing, name, rest = tag[1], tag[2].lower(), tag[3]
        if closing:
            if not stack:
                raise _bad(f"can't parse entities: Unexpected end tag at byte offset {at}")
            open_name, start, attrs = stack.pop()
            if open_name != name:
                raise _bad(
                    f"can't parse entities: Unmatched end tag at byte offset {at}, "
                    f'expected "</{open_name}>", found "</{name}>"'
                )
            entity = _html_entity(open_name, attrs, start, offset - start, stack)
            if entity is not None:
                entities.append(entity)
            continue
        attrs = {
            m[1].lower(): _unescape_all(m[2] or m[3] or m[4]) for m in _HTML_ATTR.finditer(rest)
        }
        if name not in _HTML_TAGS or (name == "span" and attrs.get("class") != "tg-spoiler"):
            raise _bad(
                f'can\'t parse entities: Unsupported start tag "{name}" at byte offset {at}'
            )
        stack.append((name, offset, attrs))
    emit(source[position:])
    if stack:
        raise _bad(
            "can't parse entities: Can't find end tag corresponding to start tag "
            f'"{stack[-1][0]}"'
        )
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _html_entity(
    name: str, attrs: dict[str, str], offset: int, length: int, parents: list[Any]
) -> JSON | None:
    """Return the entity a closed tag stands for, or None when Telegram would drop it."""
    if length == 0:
        return None
    if name == "code" and parents and parents[-1][0] == "pre":
        # <pre><code class="language-x"> is one pre entity with a language, not two entities.
        language = attrs.get("class", "")
        if language.startswith("language-"):
            parents[-1][2]["language"] = language.removeprefix("language-")
        return None
    entity: JSON = {"type": _HTML_TAGS[name], "offset": offset, "length": length}
    if name == "a":
        if "href" not in attrs:
            return None
        entity["url"] = attrs["href"]
    elif name == "pre" and attrs.get("language"):
        entity["language"] = attrs["language"]
    elif name == "blockquote" and "expandable" in attrs:
        entity["type"] = "expandable_blockquote"
    elif name == "tg-emoji":
        entity["custom_emoji_id"] = attrs.get("emoji-id", "")
    return entity


def _image_size(data: bytes) -> tuple[int, int]:
    """Return (width, height) from a PNG or JPEG header, or (1, 1) when it cannot be read."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return (width, height) if width and height else (1, 1)
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 <= len(data) and data[i] == 0xFF:
            marker = data[i + 1]
            if marker == 0xFF:  # fill byte
                i += 1
                continue
            if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
                i += 2
                continue
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return (width, height) if width and height else (1, 1)
            i += 2 + struct.unpack(">H", data[i + 2 : i + 4])[0]
    return 1, 1


# ---------------------------------------------------------------------------------------------
# State


class _Signal:
    """Wakes every waiter at once; each waiter then re-checks its own condition."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake everyone waiting now."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, seconds: float) -> None:
        """Wait for the next notify, at most ``seconds``."""
        if seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._event.wait()


@dataclass
class _StoredFile:
    """A file known to the server; ``data`` is None for files sent by URL."""

    file_id: str
    file_unique_id: str
    kind: str
    file_path: str
    data: bytes | None
    mime_type: str | None = None
    file_name: str | None = None
    width: int = 1
    height: int = 1


@dataclass
class _Chat:
    """A private chat: the user, the messages of both sides, and the chat's flags."""

    user: JSON
    chat_instance: str
    messages: dict[int, JSON] = field(default_factory=dict)
    last_message_id: int = 0
    started: bool = False  # the user wrote to the bot at least once
    blocked: bool = False
    signal: _Signal = field(default_factory=_Signal)
    bucket: _Bucket | None = None

    @property
    def info(self) -> JSON:
        """Return the Chat object."""
        chat: JSON = {"id": self.user["id"], "type": "private"}
        for key in ("first_name", "last_name", "username"):
            if key in self.user:
                chat[key] = self.user[key]
        return chat

    def next_message_id(self) -> int:
        """Return the next message id; users and the bot share one sequence per private chat."""
        self.last_message_id += 1
        return self.last_message_id


@dataclass
class _CallbackQuery:
    """A button press and the bot's answer to it."""

    chat_id: int
    pressed: float = field(default_factory=time.monotonic)  # when the user pressed
    answered: bool = False
    text: str | None = None
    show_alert: bool = False
    url: str | None = None


@dataclass
class _Queued:
    """An update waiting in the getUpdates queue; a replay is one queued again on request."""

    update: JSON
    replay: bool = False
    handed_out: bool = False

    @property
    def update_id(self) -> int:
        """Return the update's id."""
        update_id: int = self.update["update_id"]
        return update_id


def _now() -> int:
    """Return the current Unix time in seconds, as Telegram dates are."""
    return int(time.time())


def _compact(values: JSON) -> JSON:
    """Drop absent fields, as Telegram omits them."""
    return {key: value for key, value in values.items() if value is not None}


_Method = Callable[["SandboxServer", _Params], Awaitable[Any]]
_METHODS: dict[str, _Method] = {}


def _method(*names: str) -> Callable[[_Method], _Method]:
    """Register a Bot API method under its (case-insensitive) names."""

    def register(function: _Method) -> _Method:
        for name in names:
            _METHODS[name.lower()] = function
        return function

    return register


class SandboxServer:
    """An in-memory Telegram Bot API on 127.0.0.1, plus a control API for simulated users."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = "123456:SANDBOX-TOKEN",
        bot_id: int = 123456,
        bot_username: str = "labelgram_sandbox_bot",
        limits: RateLimits = RateLimits(),  # frozen, so one shared default is safe
        callback_ttl: float | None = CALLBACK_TTL,
        update_history: int = UPDATE_HISTORY,
    ) -> None:
        """Configure the server; nothing listens until :meth:`start`.

        ``callback_ttl``: seconds after a button press at which answerCallbackQuery starts to
        fail as Telegram's does for old queries (default: Telegram's 15); None never expires
        them.
        ``update_history``: how many of the newest updates are kept for :meth:`updates` and
        :meth:`redeliver`.
        """
        if update_history < 1:
            raise ValueError("update_history must be at least 1")
        self.token = token
        self.calls: collections.Counter[str] = collections.Counter()
        self._host = host
        self._port = port
        self._limits = limits
        self._bot: JSON = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Labelgram Sandbox",
            "username": bot_username,
        }
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._closing = False
        self._chats: dict[int, _Chat] = {}
        self._updates: list[_Queued] = []  # ordered by update_id; replays keep their old id
        self._history: collections.OrderedDict[int, JSON] = collections.OrderedDict()
        self._history_size = update_history
        self._counts: collections.Counter[str] = collections.Counter()
        self._storm_until = 0.0  # time.monotonic() at which the current 429 storm ends
        self._storm_retry_after = 1
        self._storm_probability = 1.0
        self._random = random.Random()
        self._callback_ttl: float | None = None
        self.callback_ttl = callback_ttl
        self._update_ids = itertools.count(1)
        self._updates_signal = _Signal()
        self._allowed_updates: frozenset[str] | None = None  # None: all but the opt-in types
        self._poll_generation = 0
        self._callbacks: dict[str, _CallbackQuery] = {}
        self._callback_ids = itertools.count(4_000_000_000_000_000_001)
        self._callbacks_signal = _Signal()
        self._files: dict[str, _StoredFile] = {}
        self._file_paths: dict[str, _StoredFile] = {}
        self._file_numbers = itertools.count()
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._global_bucket: _Bucket | None = None

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def limits(self) -> RateLimits:
        """Return the flood limits the server enforces."""
        return self._limits

    @property
    def url(self) -> str:
        """Return the server's root URL, e.g. ``http://127.0.0.1:8081``."""
        if self._url is None:
            raise RuntimeError("the sandbox server is not started")
        return self._url

    @property
    def bot_api_url(self) -> str:
        """Return the value for ``ApplicationBuilder().base_url(...)``."""
        return f"{self.url}/bot"

    @property
    def file_url(self) -> str:
        """Return the value for ``ApplicationBuilder().base_file_url(...)``."""
        return f"{self.url}/file/bot"

    async def start(self) -> None:
        """Bind the port (0 picks a free one) and start serving."""
        if self._runner is not None:
            raise RuntimeError("the sandbox server is already started")
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES)
        app.router.add_route("*", "/bot{token}/{method}", self._route(self._bot_api))
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        control: list[tuple[str, str, Callable[[web.Request], Awaitable[Any]]]] = [
            ("POST", "/sandbox/users", self._create_user),
            ("POST", "/sandbox/users/{id}/messages", self._user_message),
            ("POST", "/sandbox/users/{id}/documents", self._user_document),
            ("POST", "/sandbox/users/{id}/callback", self._user_callback),
            ("GET", "/sandbox/users/{id}/inbox", self._user_inbox),
            ("GET", "/sandbox/users/{id}/messages/{message_id}", self._user_message_state),
            ("POST", "/sandbox/users/{id}/block", self._block),
            ("POST", "/sandbox/users/{id}/unblock", self._unblock),
            ("GET", "/sandbox/callbacks/{callback_query_id}", self._callback_answer),
            ("GET", "/sandbox/calls", self._get_calls),
            ("POST", "/sandbox/calls/reset", self._reset_calls),
            ("GET", "/sandbox/updates", self._get_updates_kept),
            ("POST", "/sandbox/updates/{update_id}/redeliver", self._redeliver),
            ("POST", "/sandbox/storm", self._storm),
            ("POST", "/sandbox/settings", self._settings),
            ("GET", "/sandbox/stats", self._stats),
        ]
        for verb, path, handler in control:
            app.router.add_route(verb, path, self._route(handler))
        # Long polls are released on stop, so a short grace period is enough.
        runner = web.AppRunner(app, shutdown_timeout=2.0, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._closing = False
        port = runner.addresses[0][1]
        self._url = f"http://{self._host}:{port}"
        self.reset_calls()
        self._global_bucket = (
            _Bucket(self._limits.global_rate, self._limits.global_burst)
            if self._limits.global_rate is not None
            else None
        )

    async def stop(self) -> None:
        """Release pending long polls and stop serving."""
        if self._runner is None:
            return
        self._closing = True
        self._updates_signal.notify()
        self._callbacks_signal.notify()
        for chat in self._chats.values():
            chat.signal.notify()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> Self:
        """Start the server."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the server."""
        await self.stop()

    def reset_calls(self) -> None:
        """Forget the per-method call counts."""
        self.calls.clear()

    # --- faults: re-delivery, 429 storms, expiring callback queries, counters --------------

    @property
    def callback_ttl(self) -> float | None:
        """Return the seconds after a press at which answerCallbackQuery fails (None: never)."""
        return self._callback_ttl

    @callback_ttl.setter
    def callback_ttl(self, seconds: float | None) -> None:
        if seconds is not None and not (math.isfinite(seconds) and seconds > 0):
            raise ValueError("callback_ttl must be a positive number of seconds, or None")
        self._callback_ttl = seconds

    def updates(self, after: int = 0) -> list[JSON]:
        """Return the kept updates (the newest ``update_history``) with update_id > ``after``."""
        return [copy.deepcopy(u) for update_id, u in self._history.items() if update_id > after]

    def redeliver(self, update_id: int) -> JSON:
        """Queue a kept update again, same update_id and contents; return it.

        Telegram re-delivers an update the bot did not confirm. A replay is returned by the
        next getUpdates whatever its ``offset`` (even one past its update_id, which would
        otherwise drop it) and counts as confirmed once a later getUpdates carries an offset
        above its update_id; a getUpdates without offset returns it again, as an unconfirmed
        update.
        """
        update = self._history.get(update_id)
        if update is None:
            raise KeyError(update_id)
        entry = _Queued(copy.deepcopy(update), replay=True)
        bisect.insort(self._updates, entry, key=lambda queued: queued.update_id)
        self._counts["updates_redelivered"] += 1
        self._updates_signal.notify()
        return copy.deepcopy(update)

    def storm(self, seconds: float, retry_after: int = 1, probability: float = 1.0) -> JSON:
        """Answer 429 to rate-limited calls for ``seconds`` (0 ends a storm); return its state.

        During a storm a send* (but sendChatAction) or edit* call that passes validation is
        refused with "Too Many Requests: retry after R" and ``parameters.retry_after = R``, with
        the given ``probability``; the rate-limit buckets are left as they were.
        """
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError("seconds must be a non-negative number")
        if retry_after < 0:
            raise ValueError("retry_after must be a non-negative integer")
        if not 0 <= probability <= 1:
            raise ValueError("probability must be between 0 and 1")
        self._storm_until = time.monotonic() + seconds if seconds > 0 else 0.0
        self._storm_retry_after = retry_after
        self._storm_probability = probability
        return self._storm_state()

    def _storm_state(self) -> JSON:
        """Return whether a storm is on, for how much longer, and its parameters."""
        left = max(self._storm_until - time.monotonic(), 0.0)
        return {
            "active": left > 0,
            "seconds_left": left,
            "retry_after": self._storm_retry_after,
            "probability": self._storm_probability,
        }

    def stats(self) -> JSON:
        """Return the fault counters since start (see the module docstring for the fields)."""
        unanswered = [query_id for query_id, q in self._callbacks.items() if not q.answered]
        return {
            "updates_queued": self._counts["updates_queued"],
            "updates_delivered": self._counts["updates_delivered"],
            "updates_redelivered": self._counts["updates_redelivered"],
            "updates_pending": len(self._updates),
            "too_many_requests": self._counts["too_many_requests"],
            "storm_refusals": self._counts["storm_refusals"],
            "callback_queries": len(self._callbacks),
            "callback_queries_answered": len(self._callbacks) - len(unanswered),
            "callback_queries_unanswered": len(unanswered),
            "unanswered_callback_query_ids": unanswered,
            "callback_answers_expired": self._counts["callback_answers_expired"],
            "storm": self._storm_state(),
        }

    # --- HTTP plumbing ---------------------------------------------------------------------

    @staticmethod
    def _route(
        handler: Callable[[web.Request], Awaitable[Any]],
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        """Wrap a handler's result or refusal in Telegram's response shape."""

        async def route(request: web.Request) -> web.Response:
            try:
                return _ok(await handler(request))
            except _ApiError as error:
                return error.response()

        return route

    async def _bot_api(self, request: web.Request) -> Any:
        """Dispatch one Bot API call."""
        if request.match_info["token"] != self.token:
            raise _ApiError(401, "Unauthorized")
        name = request.match_info["method"]
        self.calls[name] += 1
        method = _METHODS.get(name.lower())
        if method is None:
            raise _ApiError(404, "Not Found")
        return await method(self, await self._read_params(request))

    @staticmethod
    async def _read_params(request: web.Request) -> _Params:
        """Merge query-string and body parameters, whatever the body's encoding."""
        values: dict[str, Any] = dict(request.query)
        if not request.body_exists:
            return _Params(values)
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise _bad("can't parse JSON object") from None
            if not isinstance(body, dict):
                raise _bad("can't parse JSON object")
            values.update(body)
        elif request.content_type == "multipart/form-data":
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader) or part.name is None:
                    continue
                if part.filename is None:
                    values[part.name] = await part.text()
                else:
                    data = bytes(await part.read())
                    values[part.name] = _Upload(
                        part.filename, part.headers.get("Content-Type"), data
                    )
        else:
            form = await request.post()
            values.update({key: str(value) for key, value in form.items()})
        return _Params(values)

    async def _download(self, request: web.Request) -> web.StreamResponse:
        """Serve the bytes of an uploaded file."""
        if request.match_info["token"] != self.token:
            return _ApiError(401, "Unauthorized").response()
        stored = self._file_paths.get(request.match_info["path"])
        if stored is None or stored.data is None:
            return _ApiError(404, "Not Found").response()
        content_type = stored.mime_type or "application/octet-stream"
        return web.Response(body=stored.data, content_type=content_type)

    # --- shared checks ---------------------------------------------------------------------

    def _chat(self, params: _Params, *, for_sending: bool = True) -> _Chat:
        """Return the addressed chat; the user must have written first and not blocked the bot."""
        raw = params.raw("chat_id")
        if raw is None or raw == "":
            raise _bad("chat_id is empty")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):  # "@username" names only public groups and channels
            raise _ApiError(400, CHAT_NOT_FOUND) from None
        chat = self._chats.get(chat_id)
        if chat is None or not chat.started:
            raise _ApiError(400, CHAT_NOT_FOUND)
        if for_sending and chat.blocked:
            raise _ApiError(403, BLOCKED)
        return chat

    def _throttle(self, chat: _Chat) -> None:
        """Take a token from the bot's and the chat's bucket, or refuse with 429."""
        if time.monotonic() < self._storm_until and (
            self._random.random() < self._storm_probability
        ):
            self._counts["too_many_requests"] += 1
            self._counts["storm_refusals"] += 1
            retry_after = self._storm_retry_after
            raise _ApiError(
                429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
            )
        if chat.bucket is None and self._limits.chat_rate is not None:
            chat.bucket = _Bucket(self._limits.chat_rate, self._limits.chat_burst)
        buckets = [b for b in (self._global_bucket, chat.bucket) if b is not None]
        now = time.monotonic()
        wait = max((bucket.delay(now) for bucket in buckets), default=0.0)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            self._counts["too_many_requests"] += 1
            raise _ApiError(
                429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
            )
        for bucket in buckets:
            bucket.tokens -= 1

    @staticmethod
    def _formatted(
        params: _Params, name: str, entities_name: str, limit: int, too_long: str
    ) -> tuple[str, list[JSON] | None]:
        """Return a text or caption as stored (HTML parsed away) and its entities."""
        raw = params.text(name) or ""
        if (params.text("parse_mode") or "").lower() == "html":
            text, entities = _parse_html(raw)
        else:
            text, given = raw, params.decoded(entities_name)
            if given is not None and not isinstance(given, list):
                raise _bad(f"can't parse {entities_name} JSON object")
            entities = given or []
        if len(text) > limit:
            raise _ApiError(400, too_long)
        return text, entities or None

    @classmethod
    def _message_text(cls, params: _Params) -> tuple[str, list[JSON] | None]:
        """Return a message's text and entities; the text must not be empty or too long."""
        text, entities = cls._formatted(params, "text", "entities", MAX_TEXT_LENGTH, TEXT_TOO_LONG)
        if not text.strip():
            raise _ApiError(400, TEXT_EMPTY)
        return text, entities

    @classmethod
    def _caption(cls, params: _Params) -> tuple[str | None, list[JSON] | None]:
        """Return a caption (None when empty) and its entities."""
        caption, entities = cls._formatted(
            params, "caption", "caption_entities", MAX_CAPTION_LENGTH, CAPTION_TOO_LONG
        )
        return (caption, entities) if caption else (None, None)

    @staticmethod
    def _inline_markup(params: _Params) -> JSON | None:
        """Return the message's inline keyboard; other keyboards are accepted but not kept."""
        markup = params.decoded("reply_markup", error=MARKUP_INVALID.removeprefix("Bad Request: "))
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _ApiError(400, MARKUP_INVALID)
        if "inline_keyboard" not in markup:
            if {"keyboard", "remove_keyboard", "force_reply"} & markup.keys():
                return None
            raise _ApiError(400, MARKUP_INVALID)
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _ApiError(400, MARKUP_INVALID)
        for button in itertools.chain.from_iterable(rows):
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise _ApiError(400, MARKUP_INVALID)
            if not any(action in button for action in _BUTTON_ACTIONS):
                raise _ApiError(400, TEXT_BUTTONS_UNALLOWED)
            data = button.get("callback_data")
            if "callback_data" in button and not (
                isinstance(data, str) and 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
            ):
                raise _ApiError(400, BUTTON_DATA_INVALID)
        return {"inline_keyboard": rows} if rows else None

    @staticmethod
    def _reply_to(chat: _Chat, params: _Params) -> JSON | None:
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
            raise _bad("message to be replied not found")
        return {key: value for key, value in original.items() if key != "reply_to_message"}

    def _post_bot_message(self, chat: _Chat, content: JSON) -> JSON:
        """Store a new bot message in the chat and wake the user's inbox."""
        message = _compact(
            {
                "message_id": chat.next_message_id(),
                "from": dict(self._bot),
                "chat": chat.info,
                "date": _now(),
                **content,
            }
        )
        chat.messages[message["message_id"]] = message
        chat.signal.notify()
        return message

    def _enqueue(self, update: JSON) -> None:
        """Queue an update for getUpdates and keep it for re-delivery."""
        queued = _Queued({"update_id": next(self._update_ids), **update})
        self._updates.append(queued)  # a new id is the highest: the queue stays ordered
        self._history[queued.update_id] = queued.update
        if len(self._history) > self._history_size:
            self._history.popitem(last=False)
        self._counts["updates_queued"] += 1
        self._updates_signal.notify()

    # --- Bot API: bot, updates, commands ---------------------------------------------------

    @_method("getMe")
    async def _get_me(self, params: _Params) -> JSON:
        return {
            **self._bot,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    @_method("logOut", "close")
    async def _log_out(self, params: _Params) -> bool:
        return True

    @_method("getUpdates")
    async def _get_updates(self, params: _Params) -> list[JSON]:
        offset = params.integer("offset") or 0
        limit = min(max(params.integer("limit") or 100, 1), 100)
        timeout = max(params.number("timeout") or 0.0, 0.0)
        allowed = params.decoded("allowed_updates")
        if allowed is not None:
            if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
                raise _bad("can't parse allowed_updates JSON object")
            self._allowed_updates = frozenset(allowed) or None
        # A newer poll ends the pending one, as Telegram does, with 409 Conflict.
        self._poll_generation += 1
        generation = self._poll_generation
        self._updates_signal.notify()
        if offset > 0:
            # A replay is confirmed by the first offset past it after it was handed out.
            self._updates = [
                q
                for q in self._updates
                if q.update_id >= offset or (q.replay and not q.handed_out)
            ]
        elif offset < 0:
            self._updates = self._updates[offset:]
        deadline = time.monotonic() + timeout
        while True:
            self._updates = [q for q in self._updates if self._is_allowed(q.update)]
            remaining = deadline - time.monotonic()
            if self._updates or self._closing or remaining <= 0:
                batch = self._updates[:limit]
                for queued in batch:
                    queued.handed_out = True
                self._counts["updates_delivered"] += len(batch)
                return [queued.update for queued in batch]
            await self._updates_signal.wait(remaining)
            if generation != self._poll_generation:
                raise _ApiError(409, CONFLICT)

    def _is_allowed(self, update: JSON) -> bool:
        """Return whether the bot's allowed_updates let this update through."""
        kind = next(key for key in update if key != "update_id")
        if self._allowed_updates is None:
            return kind not in _OPT_IN_UPDATES
        return kind in self._allowed_updates

    @_method("deleteWebhook")
    async def _delete_webhook(self, params: _Params) -> bool:
        if params.flag("drop_pending_updates"):
            self._updates.clear()
        return True

    @_method("getWebhookInfo")
    async def _get_webhook_info(self, params: _Params) -> JSON:
        return {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    @staticmethod
    def _commands_key(params: _Params) -> tuple[str, str]:
        """Return the (scope, language) a command list is stored under."""
        scope = params.decoded("scope") or {"type": "default"}
        if not isinstance(scope, dict) or not isinstance(scope.get("type"), str):
            raise _bad("can't parse BotCommandScope JSON object")
        return json.dumps(scope, sort_keys=True), params.text("language_code") or ""

    @_method("setMyCommands")
    async def _set_my_commands(self, params: _Params) -> bool:
        commands = params.decoded("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad("can't parse commands JSON object")
        stored = []
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("can't parse BotCommand JSON object")
            name, description = command.get("command"), command.get("description")
            if not isinstance(name, str) or not _COMMAND_NAME.fullmatch(name.removeprefix("/")):
                raise _bad("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            stored.append({"command": name.removeprefix("/"), "description": description})
        self._commands[self._commands_key(params)] = stored
        return True

    @_method("getMyCommands")
    async def _get_my_commands(self, params: _Params) -> list[JSON]:
        return self._commands.get(self._commands_key(params), [])

    @_method("deleteMyCommands")
    async def _delete_my_commands(self, params: _Params) -> bool:
        self._commands.pop(self._commands_key(params), None)
        return True

    # --- Bot API: messages -----------------------------------------------------------------

    @_method("sendMessage")
    async def _send_message(self, params: _Params) -> JSON:
        chat = self._chat(params)
        text, entities = self._message_text(params)
        content = {
            "text": text,
            "entities": entities,
            "reply_markup": self._inline_markup(params),
            "reply_to_message": self._reply_to(chat, params),
        }
        self._throttle(chat)
        return self._post_bot_message(chat, content)

    async def _send_media(self, kind: str, params: _Params) -> JSON:
        """Send a photo, audio, voice, video or document."""
        chat = self._chat(params)
        caption, entities = self._caption(params)
        markup = self._inline_markup(params)
        reply_to = self._reply_to(chat, params)
        stored = self._input_file(kind, params)
        self._throttle(chat)
        content = {
            kind: self._media_object(stored, params),
            "caption": caption,
            "caption_entities": entities,
            "reply_markup": markup,
            "reply_to_message": reply_to,
        }
        return self._post_bot_message(chat, content)

    @_method("sendPhoto")
    async def _send_photo(self, params: _Params) -> JSON:
        return await self._send_media("photo", params)

    @_method("sendAudio")
    async def _send_audio(self, params: _Params) -> JSON:
        return await self._send_media("audio", params)

    @_method("sendVoice")
    async def _send_voice(self, params: _Params) -> JSON:
        return await self._send_media("voice", params)

    @_method("sendVideo")
    async def _send_video(self, params: _Params) -> JSON:
        return await self._send_media("video", params)

    @_method("sendDocument")
    async def _send_document(self, params: _Params) -> JSON:
        return await self._send_media("document", params)

    def _editable(self, params: _Params) -> tuple[_Chat, JSON]:
        """Return the chat and the bot message an edit* call addresses."""
        if params.raw("inline_message_id") is not None:
            raise _bad("inline messages are not emulated by the sandbox")
        chat = self._chat(params)
        message_id = params.integer("message_id")
        message = chat.messages.get(message_id) if message_id is not None else None
        if message is None:
            raise _ApiError(400, EDIT_NOT_FOUND)
        if message["from"]["id"] != self._bot["id"]:
            raise _bad("message can't be edited")
        return chat, message

    def _apply_edit(self, chat: _Chat, message: JSON, changes: JSON) -> JSON:
        """Apply an edit, refusing one that changes nothing."""
        if all(message.get(key) == value for key, value in changes.items()):
            raise _ApiError(400, NOT_MODIFIED)
        self._throttle(chat)
        for key, value in changes.items():
            if value is None:
                message.pop(key, None)
            else:
                message[key] = value
        message["edit_date"] = _now()
        chat.signal.notify()
        return message

    @_method("editMessageText")
    async def _edit_message_text(self, params: _Params) -> JSON:
        chat, message = self._editable(params)
        if "text" not in message:
            raise _bad("there is no text in the message to edit")
        text, entities = self._message_text(params)
        # Like Telegram, an edit without reply_markup removes the inline keyboard.
        changes = {"text": text, "entities": entities, "reply_markup": self._inline_markup(params)}
        return self._apply_edit(chat, message, changes)

    @_method("editMessageCaption")
    async def _edit_message_caption(self, params: _Params) -> JSON:
        chat, message = self._editable(params)
        if not any(kind in message for kind in _MEDIA_KINDS):
            raise _bad("there is no caption in the message to edit")
        caption, entities = self._caption(params)
        changes = {
            "caption": caption,
            "caption_entities": entities,
            "reply_markup": self._inline_markup(params),
        }
        return self._apply_edit(chat, message, changes)

    @_method("editMessageReplyMarkup")
    async def _edit_message_reply_markup(self, params: _Params) -> JSON:
        chat, message = self._editable(params)
        return self._apply_edit(chat, message, {"reply_markup": self._inline_markup(params)})

    @_method("deleteMessage")
    async def _delete_message(self, params: _Params) -> bool:
        chat = self._chat(params, for_sending=False)
        message_id = params.integer("message_id")
        if message_id is None or chat.messages.pop(message_id, None) is None:
            raise _bad("message to delete not found")
        return True

    @_method("sendChatAction")
    async def _send_chat_action(self, params: _Params) -> bool:
        self._chat(params)
        if params.text("action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    @_method("answerCallbackQuery")
    async def _answer_callback_query(self, params: _Params) -> bool:
        query = self._callbacks.get(params.text("callback_query_id") or "")
        if query is None or query.answered:
            raise _ApiError(400, QUERY_INVALID)
        if self._callback_ttl is not None and (
            time.monotonic() - query.pressed > self._callback_ttl
        ):
            self._counts["callback_answers_expired"] += 1
            raise _ApiError(400, QUERY_INVALID)
        text = params.text("text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise _bad("MESSAGE_TOO_LONG")
        query.answered = True
        query.text = text or None
        query.show_alert = params.flag("show_alert")
        query.url = params.text("url")
        self._callbacks_signal.notify()
        return True

    # --- Bot API: files --------------------------------------------------------------------

    def _store_file(
        self, kind: str, data: bytes | None, mime_type: str | None, file_name: str | None
    ) -> _StoredFile:
        """Register a new file and give it ids and a download path."""
        number = next(self._file_numbers)
        suffix = PurePosixPath(file_name or "").suffix.lstrip(".")
        extension = "jpg" if kind == "photo" else suffix if suffix.isalnum() else "bin"
        width, height = _image_size(data) if kind == "photo" and data else (1, 1)
        stored = _StoredFile(
            file_id=f"SBX{kind[:2].upper()}{number:06d}{secrets.token_urlsafe(18)}",
            file_unique_id=f"SBXU{number:06d}{secrets.token_urlsafe(6)}",
            kind=kind,
            file_path=f"{kind}s/file_{number}.{extension}",
            data=data,
            mime_type=None if kind == "photo" else mime_type or _DEFAULT_MIME[kind],
            file_name=None if kind in ("photo", "voice") else file_name,
            width=width,
            height=height,
        )
        self._files[stored.file_id] = stored
        self._file_paths[stored.file_path] = stored
        return stored

    def _input_file(self, kind: str, params: _Params) -> _StoredFile:
        """Resolve the file of a send* call: an upload, a known file_id or a URL."""
        upload = params.upload(kind)
        value = params.raw(kind)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = params.upload(value.removeprefix("attach://"))
        if upload is not None:
            if not upload.data:
                raise _bad("file must be non-empty")
            return self._store_file(kind, upload.data, upload.content_type, upload.filename)
        if not isinstance(value, str) or not value:
            raise _bad(f"there is no {kind} in the request")
        if value.startswith(("http://", "https://")):
            # No network here: the file is accepted as Telegram would, but never fetched.
            name = value.split("?", 1)[0].rpartition("/")[2] or None
            return self._store_file(kind, None, None, name)
        stored = self._files.get(value)
        if stored is None:
            raise _ApiError(400, WRONG_FILE)
        if stored.kind != kind:
            raise _bad("type of file mismatch")
        return stored

    @staticmethod
    def _media_object(stored: _StoredFile, params: _Params) -> Any:
        """Return the Message field (PhotoSize list, Audio, Voice, Video or Document)."""
        size = len(stored.data) if stored.data is not None else None
        base: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": size,
        }
        if stored.kind == "photo":
            return [_compact({**base, "width": stored.width, "height": stored.height})]
        media = {**base, "mime_type": stored.mime_type, "file_name": stored.file_name}
        if stored.kind in ("audio", "voice", "video"):
            media["duration"] = params.integer("duration") or 0
        if stored.kind == "audio":
            media.update(performer=params.text("performer"), title=params.text("title"))
        if stored.kind == "video":
            media.update(width=params.integer("width") or 0, height=params.integer("height") or 0)
        return _compact(media)

    @_method("getFile")
    async def _get_file(self, params: _Params) -> JSON:
        stored = self._files.get(params.text("file_id") or "")
        if stored is None:
            raise _ApiError(400, WRONG_FILE)
        if stored.data is not None and len(stored.data) > MAX_DOWNLOAD_BYTES:
            raise _bad("file is too big")
        return _compact(
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": len(stored.data) if stored.data is not None else None,
                "file_path": stored.file_path,
            }
        )

    # --- control API -----------------------------------------------------------------------

    @staticmethod
    async def _json_body(request: web.Request) -> JSON:
        """Return the request's JSON object body."""
        try:
            body = await request.json()
        except ValueError:
            raise _bad("the body must be a JSON object") from None
        if not isinstance(body, dict):
            raise _bad("the body must be a JSON object")
        return body

    def _user_chat(self, request: web.Request) -> _Chat:
        """Return the chat of the user named in the path."""
        try:
            chat = self._chats.get(int(request.match_info["id"]))
        except ValueError:
            chat = None
        if chat is None:
            raise _ApiError(404, "Not Found: no such sandbox user")
        return chat

    @staticmethod
    def _seconds(request: web.Request, name: str) -> float:
        """Return a non-negative number from the query string (0 when absent)."""
        try:
            return max(float(request.query.get(name, "0")), 0.0)
        except ValueError:
            raise _bad(f"{name} must be a number") from None

    async def _create_user(self, request: web.Request) -> JSON:
        body = await self._json_body(request)
        user_id, first_name = body.get("id"), body.get("first_name")
        if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id <= 0:
            raise _bad("id must be a positive integer")
        if not isinstance(first_name, str) or not first_name:
            raise _bad("first_name must be a non-empty string")
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        for key in ("last_name", "username", "language_code"):
            value = body.get(key)
            if value is not None and not isinstance(value, str):
                raise _bad(f"{key} must be a string")
            if value:
                user[key] = value
        chat = self._chats.get(user_id)
        if chat is None:
            self._chats[user_id] = _Chat(user=user, chat_instance=str(secrets.randbits(62)))
        else:
            chat.user = user
        return user

    async def _user_message(self, request: web.Request) -> JSON:
        chat = self._user_chat(request)
        text = (await self._json_body(request)).get("text")
        if not isinstance(text, str) or not text.strip():
            raise _bad("text must be a non-empty string")
        if len(text) > MAX_TEXT_LENGTH:
            raise _bad("text is longer than 4096 characters")
        if chat.blocked:
            raise _bad("the user has blocked the bot; unblock first")
        message: JSON = {
            "message_id": chat.next_message_id(),
            "from": chat.user,
            "chat": chat.info,
            "date": _now(),
            "text": text,
        }
        command = _LEADING_COMMAND.match(text)
        if command is not None:
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_len(command[0])}
            ]
        chat.started = True
        chat.messages[message["message_id"]] = message
        self._enqueue({"message": dict(message)})
        return message

    async def _user_document(self, request: web.Request) -> JSON:
        """The user sends a file (multipart field `document`, optional `caption`)."""
        chat = self._user_chat(request)
        if chat.blocked:
            raise _bad("the user has blocked the bot; unblock first")
        form = await request.post()
        upload = form.get("document")
        if not isinstance(upload, web.FileField):
            raise _bad("send the file as multipart field 'document'")
        data = upload.file.read()
        if not data:
            raise _bad("file must be non-empty")
        caption = form.get("caption")
        if caption is not None and (not isinstance(caption, str) or len(caption) > 1024):
            raise _bad("caption must be text of at most 1024 characters")
        stored = self._store_file("document", data, upload.content_type, upload.filename)
        message: JSON = {
            "message_id": chat.next_message_id(),
            "from": chat.user,
            "chat": chat.info,
            "date": _now(),
            "document": _compact(
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
        self._enqueue({"message": dict(message)})
        return message

    async def _user_callback(self, request: web.Request) -> JSON:
        chat = self._user_chat(request)
        body = await self._json_body(request)
        message_id, data = body.get("message_id"), body.get("data")
        strict = body.get("strict", True)
        if not isinstance(strict, bool):
            raise _bad("strict must be a boolean")
        if not isinstance(message_id, int) or not isinstance(data, str):
            raise _bad("message_id must be an integer and data a string")
        if chat.blocked:
            raise _bad("the user has blocked the bot; unblock first")
        message = chat.messages.get(message_id)
        if message is None or message["from"]["id"] != self._bot["id"]:
            raise _bad("no bot message with this message_id in the chat")
        if strict and data not in {
            button.get("callback_data")
            for button in itertools.chain.from_iterable(
                message.get("reply_markup", {}).get("inline_keyboard", [])
            )
        }:
            raise _bad("the message has no button with this callback_data")
        query_id = str(next(self._callback_ids))
        self._callbacks[query_id] = _CallbackQuery(chat_id=chat.user["id"])
        query = {
            "id": query_id,
            "from": chat.user,
            "message": copy.deepcopy(message),
            "chat_instance": chat.chat_instance,
            "data": data,
        }
        self._enqueue({"callback_query": query})
        return {"callback_query_id": query_id}

    async def _callback_answer(self, request: web.Request) -> JSON:
        query = self._callbacks.get(request.match_info["callback_query_id"])
        if query is None:
            raise _ApiError(404, "Not Found: no such callback query")
        deadline = time.monotonic() + self._seconds(request, "timeout")
        while not (query.answered or self._closing):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            await self._callbacks_signal.wait(remaining)
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
            raise _bad("after must be an integer") from None
        deadline = time.monotonic() + self._seconds(request, "timeout")
        bot_id = self._bot["id"]
        while True:
            # Message ids only grow, so the new ones are at the end of the (ordered) dict.
            newest_first = itertools.takewhile(
                lambda item: item[0] > after, reversed(chat.messages.items())
            )
            inbox = [m for _, m in newest_first if m["from"]["id"] == bot_id][::-1]
            remaining = deadline - time.monotonic()
            if inbox or self._closing or remaining <= 0:
                return inbox
            await chat.signal.wait(remaining)

    async def _user_message_state(self, request: web.Request) -> JSON:
        chat = self._user_chat(request)
        try:
            message = chat.messages.get(int(request.match_info["message_id"]))
        except ValueError:
            message = None
        if message is None:
            raise _ApiError(404, "Not Found: no such message")
        return message

    def _set_blocked(self, chat: _Chat, blocked: bool) -> None:
        """Block or unblock the bot and tell it with a my_chat_member update, as Telegram does."""
        if chat.blocked == blocked:
            return
        chat.blocked = blocked
        member = {"user": dict(self._bot), "status": "member"}
        kicked = {"user": dict(self._bot), "status": "kicked", "until_date": 0}
        old, new = (member, kicked) if blocked else (kicked, member)
        if chat.started:
            self._enqueue(
                {
                    "my_chat_member": {
                        "chat": chat.info,
                        "from": chat.user,
                        "date": _now(),
                        "old_chat_member": old,
                        "new_chat_member": new,
                    }
                }
            )

    async def _block(self, request: web.Request) -> bool:
        self._set_blocked(self._user_chat(request), True)
        return True

    async def _unblock(self, request: web.Request) -> bool:
        self._set_blocked(self._user_chat(request), False)
        return True

    async def _get_calls(self, request: web.Request) -> dict[str, int]:
        return dict(self.calls)

    async def _reset_calls(self, request: web.Request) -> bool:
        self.reset_calls()
        return True

    async def _get_updates_kept(self, request: web.Request) -> list[JSON]:
        try:
            after = int(request.query.get("after", "0"))
        except ValueError:
            raise _bad("after must be an integer") from None
        return self.updates(after)

    async def _redeliver(self, request: web.Request) -> JSON:
        try:
            return self.redeliver(int(request.match_info["update_id"]))
        except (KeyError, ValueError):
            raise _ApiError(
                404, f"Not Found: no such update among the last {self._history_size} kept"
            ) from None

    async def _storm(self, request: web.Request) -> JSON:
        body = await self._json_body(request)
        unknown = body.keys() - {"seconds", "retry_after", "probability"}
        if unknown:
            raise _bad(f"unknown field {sorted(unknown)[0]!r}")
        seconds = body.get("seconds")
        retry_after = body.get("retry_after", 1)
        probability = body.get("probability", 1.0)
        if not _is_number(seconds):
            raise _bad("seconds must be a number (0 ends the storm)")
        if not isinstance(retry_after, int) or isinstance(retry_after, bool):
            raise _bad("retry_after must be an integer")
        if not _is_number(probability):
            raise _bad("probability must be a number between 0 and 1")
        try:
            return self.storm(seconds, retry_after, probability)
        except ValueError as error:
            raise _bad(str(error)) from None

    async def _settings(self, request: web.Request) -> JSON:
        body = await self._json_body(request)
        unknown = body.keys() - {"callback_ttl"}
        if unknown:
            raise _bad(f"unknown setting {sorted(unknown)[0]!r}")
        if "callback_ttl" in body:
            ttl = body["callback_ttl"]
            if ttl is not None and not _is_number(ttl):
                raise _bad("callback_ttl must be a positive number of seconds or null")
            try:
                self.callback_ttl = ttl
            except ValueError as error:
                raise _bad(str(error)) from None
        return {"callback_ttl": self.callback_ttl}

    async def _stats(self, request: web.Request) -> JSON:
        return self.stats()


def _is_number(value: Any) -> TypeGuard[float]:
    """Return whether a JSON value is a number (not a boolean)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _limits_argument(text: str) -> RateLimits:
    """Parse --limits for argparse, which then shows the error after the usage line."""
    try:
        return RateLimits.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line of the standalone server."""
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.server", description="Run the sandbox Telegram Bot API."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8081, help="port (default 8081, 0 = any)")
    parser.add_argument("--token", default="123456:SANDBOX-TOKEN", help="the bot token to accept")
    parser.add_argument(
        "--limits",
        type=_limits_argument,
        default=RateLimits(),
        metavar="off|telegram|N/s",
        help="flood limits: Telegram's (default: 30 messages/s, 1/s per chat), none, "
        "or a global N messages/s without a per-chat limit",
    )
    return parser.parse_args(argv)


async def _serve(server: SandboxServer, host: str, port: int) -> str | None:
    """Serve until cancelled (Ctrl-C) or terminated; return why the port could not be bound."""
    task = asyncio.current_task()
    if task is not None:
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        await server.start()
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            advice = "stop the other server or pick another with --port"
            return f"port {port} is in use: {advice}"
        return f"cannot listen on {host}:{port}: {error.strerror or error}"
    try:
        print(f"Sandbox Bot API on {server.url}", flush=True)  # noqa: T201 - the CLI's output
        print(f"  base_url      {server.bot_api_url}", flush=True)  # noqa: T201
        print(f"  base_file_url {server.file_url}", flush=True)  # noqa: T201
        print(f"  token         {server.token}", flush=True)  # noqa: T201
        print(f"  limits        {server.limits.describe()}", flush=True)  # noqa: T201
        print("Ctrl-C stops it.", flush=True)  # noqa: T201
        await asyncio.Event().wait()
    finally:
        await server.stop()
    return None


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8081,
    token: str = "123456:SANDBOX-TOKEN",
    limits: RateLimits = RateLimits(),
    prog: str = "python -m sandbox.server",
) -> int:
    """Run the sandbox server in the foreground until Ctrl-C; return the exit code.

    A port that cannot be bound (in use, not allowed) is one line on stderr and exit code 2.
    """
    server = SandboxServer(host=host, port=port, token=token, limits=limits)
    problem: str | None = None
    with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        problem = asyncio.run(_serve(server, host, port))
    if problem is not None:
        print(f"{prog}: {problem}", file=sys.stderr)  # noqa: T201 - the CLI's output
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox server from the command line until Ctrl-C."""
    args = _parse_args(argv)
    return serve(host=args.host, port=args.port, token=args.token, limits=args.limits)


if __name__ == "__main__":
    raise SystemExit(main())
