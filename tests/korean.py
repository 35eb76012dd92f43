"""The Korean coverage check: every text the bot itself wrote to a Korean user has Hangul.

Record what the bot sends (wire `recording_requests()` into `app.build_application`), walk
Korean users through a flow, then `KoreanCheck.problems()` lists every bot-written text to
them without a Hangul syllable: message texts, captions (also inside editMessageMedia),
inline button labels, callback answers, and the Korean command menus and descriptions.
Left out, as the issue says: sample content and project texts given only in English (pass
them as `exempt`), a coordinator's broadcast (copyMessage is never checked), and texts with
no letters at all ("✓", "3/4"). A text that merely *contains* exempt content (a card: the
sample, then the Korean question) is still checked as a whole, so a card of an English-only
project needs its question exempted.

To add a feature's flow: build the world with `recording_requests()`, act as Korean users,
and assert `check.problems() == []` (see tests/e2e/test_korean.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from telegram.request import HTTPXRequest, RequestData

from tests.tls import TLS, BotRequests

HANGUL = re.compile("[\uac00-\ud7a3\u3131-\u318e]")
LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
SENDS: tuple[str, ...] = ("sendMessage", "sendPhoto", "sendDocument", "sendAudio", "sendVideo")
SENDS += ("sendVoice", "sendAnimation")
EDITS = ("editMessageText", "editMessageCaption", "editMessageReplyMarkup", "editMessageMedia")


@dataclass(frozen=True)
class BotText:
    """One piece of text the bot sent: by which method, to whom, in which field."""

    method: str
    chat_id: int | None
    where: str  # "text", "caption", "button", "answer", "command", "description"
    text: str


@dataclass
class CallLog:
    """Every Bot API call the bot made (method, parameters), and who pressed which button."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    presser: dict[str, int] = field(default_factory=dict)  # callback_query id -> user id


class RecordingRequest(HTTPXRequest):
    """python-telegram-bot's HTTPXRequest, keeping a copy of every call in a shared log."""

    def __init__(self, log: CallLog, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.log = log

    async def do_request(  # type: ignore[override]
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        **kwargs: Any,
    ) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data is not None else {}
        if name != "getUpdates":
            self.log.calls.append((name, params))
        code, payload = await super().do_request(url, method, request_data, **kwargs)
        if name == "getUpdates" and code == 200:
            for update in json.loads(payload).get("result", []):
                query = update.get("callback_query")
                if query is not None:
                    self.log.presser[str(query["id"])] = int(query["from"]["id"])
        return code, payload


def recording_requests(log: CallLog) -> BotRequests:
    """`tests.tls.bot_requests()`, recording into `log`: keyword arguments for
    `app.build_application`."""
    return {
        "request": RecordingRequest(log, connection_pool_size=256, httpx_kwargs={"verify": TLS}),
        "get_updates_request": RecordingRequest(
            log, connection_pool_size=1, httpx_kwargs={"verify": TLS}
        ),
    }


def _decoded(value: Any) -> Any:
    """A parameter as an object: PTB may pass nested objects as JSON strings."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _buttons(markup: Any) -> Iterator[str]:
    markup = _decoded(markup)
    if not isinstance(markup, dict):
        return
    for row in markup.get("inline_keyboard") or []:
        for button in row:
            if isinstance(button, dict) and isinstance(button.get("text"), str):
                yield button["text"]


def bot_texts(log: CallLog) -> list[BotText]:
    """Every text the bot wrote, in the order it was sent."""
    found: list[BotText] = []
    for method, params in log.calls:
        chat = params.get("chat_id")
        chat_id = (
            int(chat) if isinstance(chat, int | str) and str(chat).lstrip("-").isdigit() else None
        )

        def add(
            where: str, text: object, *, method: str = method, chat_id: int | None = chat_id
        ) -> None:
            if isinstance(text, str) and text:
                found.append(BotText(method, chat_id, where, text))

        if method in SENDS or method in EDITS:
            add("text", params.get("text"))
            add("caption", params.get("caption"))
            media = _decoded(params.get("media"))
            if isinstance(media, dict):
                add("caption", media.get("caption"))
            for label in _buttons(params.get("reply_markup")):
                add("button", label)
        elif method == "answerCallbackQuery":
            presser = log.presser.get(str(params.get("callback_query_id")))
            add("answer", params.get("text"), chat_id=presser)
        elif method == "setMyCommands" and params.get("language_code") == "ko":
            for command in _decoded(params.get("commands")) or []:
                add("command", command.get("description") if isinstance(command, dict) else None)
        elif method in ("setMyDescription", "setMyShortDescription") and (
            params.get("language_code") == "ko"
        ):
            add("description", params.get("description") or params.get("short_description"))
    return found


@dataclass
class KoreanCheck:
    """The check over one recorded run: `korean` users' texts must all have Hangul."""

    log: CallLog
    korean: set[int] = field(default_factory=set)
    exempt: set[str] = field(default_factory=set)  # content given to the bot, not written by it

    def texts(self) -> list[BotText]:
        """The bot's texts to the Korean users (and its Korean menus and descriptions)."""
        return [
            b
            for b in bot_texts(self.log)
            if b.chat_id in self.korean or b.where in ("command", "description")
        ]

    def problems(self) -> list[BotText]:
        """The texts to Korean users with letters but no Hangul, exempt content aside."""
        return [b for b in self.texts() if needs_hangul(b.text, self.exempt)]

    def seen(self, methods: Iterable[str]) -> set[str]:
        """Which of `methods` the run used towards the Korean users (to show a walk covered
        what it claims)."""
        wanted = set(methods)
        return {b.method for b in self.texts() if b.method in wanted}


def needs_hangul(text: str, exempt: Iterable[str] = ()) -> bool:
    """Whether `text` should have Hangul and has none: it has letters once the exempt
    content is taken out, and no Hangul syllable."""
    rest = text
    for content in sorted(exempt, key=len, reverse=True):
        if content:
            rest = rest.replace(content, "")
    return bool(LETTERS.search(rest)) and not HANGUL.search(text)
