"""The Bot API's wire format, as the sandbox reads and answers it.

Requests: parameters come from the query string and the body, whatever its encoding (JSON,
``application/x-www-form-urlencoded`` or ``multipart/form-data`` with file parts), and are typed
as leniently as Telegram types them (:class:`Params`). Answers: ``{"ok": true, "result": ...}``,
or Telegram's error shape with its description texts (:class:`ApiError`; the texts below are
Telegram's own, so that code matching on them is tested against the real ones).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeGuard

from aiohttp import BodyPartReader, web

JSON = dict[str, Any]

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_BYTES = 50 * 1024 * 1024

CHAT_NOT_FOUND = "Bad Request: chat not found"
BLOCKED = "Forbidden: bot was blocked by the user"
TEXT_EMPTY = "Bad Request: message text is empty"
TEXT_TOO_LONG = "Bad Request: message is too long"
CAPTION_TOO_LONG = "Bad Request: message caption is too long"
# An edit's text or caption is not checked by TDLib but by Telegram's servers, in their words.
EDIT_TEXT_TOO_LONG = "Bad Request: MESSAGE_TOO_LONG"
EDIT_CAPTION_TOO_LONG = "Bad Request: MEDIA_CAPTION_TOO_LONG"
BUTTON_DATA_INVALID = "Bad Request: BUTTON_DATA_INVALID"
MARKUP_INVALID = "Bad Request: can't parse reply keyboard markup JSON object"
TEXT_BUTTONS_UNALLOWED = "Bad Request: text buttons are unallowed in the inline keyboard"
EDIT_NOT_FOUND = "Bad Request: message to edit not found"
NO_TEXT_TO_EDIT = "Bad Request: there is no text in the message to edit"
NO_CAPTION_TO_EDIT = "Bad Request: there is no caption in the message to edit"
MEDIA_NOT_EDITABLE = "Bad Request: message media can't be edited"
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


class ApiError(Exception):
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


def bad(description: str) -> ApiError:
    """Return a 400 error; ``description`` comes without the "Bad Request: " prefix."""
    return ApiError(400, f"Bad Request: {description}")


def ok(result: Any) -> web.Response:
    """Return a successful answer in Telegram's shape."""
    return web.json_response({"ok": True, "result": result})


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


class Params:
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
        raise bad(f'field "{name}" must be of type String')

    def integer(self, name: str) -> int | None:
        """Return an integer parameter, or None when absent."""
        value = self._values.get(name)
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return int(value)
        raise bad(f'field "{name}" must be of type Integer')

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
        raise bad(f'field "{name}" must be of type Number')

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
            raise bad(error or f"can't parse {name} JSON object") from None

    def upload(self, name: str) -> Upload | None:
        """Return the file part called ``name``, if the request carried one."""
        value = self._values.get(name)
        return value if isinstance(value, Upload) else None


Method = Callable[[Params], Awaitable[Any]]
"""A Bot API method: the request's parameters in, the answer's ``result`` out."""


async def read_params(request: web.Request) -> Params:
    """Merge query-string and body parameters, whatever the body's encoding."""
    values: dict[str, Any] = dict(request.query)
    if not request.body_exists:
        return Params(values)
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise bad("can't parse JSON object") from None
        if not isinstance(body, dict):
            raise bad("can't parse JSON object")
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
                values[part.name] = Upload(part.filename, part.headers.get("Content-Type"), data)
    else:
        form = await request.post()
        values.update({key: str(value) for key, value in form.items()})
    return Params(values)


def now() -> int:
    """Return the current Unix time in seconds, as Telegram dates are."""
    return int(time.time())


def compact(values: JSON) -> JSON:
    """Drop absent fields, as Telegram omits them."""
    return {key: value for key, value in values.items() if value is not None}


def is_number(value: Any) -> TypeGuard[float]:
    """Return whether a JSON value is a number (not a boolean)."""
    return isinstance(value, int | float) and not isinstance(value, bool)
