"""A simulated Telegram user that talks to the sandbox server's control API.

One :class:`SandboxUser` per simulated person. Benchmarks that run many users at once should
share one ``httpx.AsyncClient`` whose pool admits every concurrent long poll, e.g.
``httpx.AsyncClient(limits=httpx.Limits(max_connections=None))``.
"""

from __future__ import annotations

import functools
import json
import ssl
import time
from types import TracebackType
from typing import Any, Self

import httpx

JSON = dict[str, Any]

# Extra seconds the HTTP request may take beyond the server-side long-poll timeout.
_POLL_SLACK = 5.0


class SandboxError(Exception):
    """The control API refused a request."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description


def buttons(message: JSON) -> list[tuple[str, str]]:
    """Return the (text, callback_data) of a message's inline callback buttons, row by row."""
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [
        (button["text"], button["callback_data"])
        for row in rows
        for button in row
        if "callback_data" in button
    ]


def content_kind(message: JSON) -> str:
    """Return what a message shows: "text", or its media ("photo", "animation", "audio", ...).

    An animation's message also carries a ``document`` (as Telegram sends it); it counts as an
    animation. Anything else is "other".
    """
    for kind in ("text", "animation", "photo", "audio", "voice", "video", "document"):
        if kind in message:
            return kind
    return "other"


@functools.cache
def _tls() -> ssl.SSLContext:
    """Return the one TLS context of this process's sandbox clients.

    The sandbox speaks plain HTTP, but httpx builds a context for every client it makes,
    loading the CA bundle into it: ~25 ms of CPU each, and a test run makes hundreds of users.
    """
    return httpx.create_ssl_context()


def _local_client() -> httpx.AsyncClient:
    """Return a client for the local sandbox, deaf to proxy settings in the environment."""
    return httpx.AsyncClient(trust_env=False, verify=_tls())


def _result(response: httpx.Response) -> Any:
    """Return the result of a control-API answer, or raise its refusal."""
    body = response.json()
    if not body.get("ok"):
        raise SandboxError(
            body.get("error_code", response.status_code), body.get("description", "")
        )
    return body["result"]


async def _control(client: httpx.AsyncClient | None, verb: str, url: str, **kwargs: Any) -> Any:
    """Send one control-API request on ``client`` (or a short-lived one); return its result."""
    if client is not None:
        return _result(await client.request(verb, url, **kwargs))
    async with _local_client() as own:
        return _result(await own.request(verb, url, **kwargs))


async def calls(base_url: str, *, client: httpx.AsyncClient | None = None) -> dict[str, int]:
    """Return how many times the bot called each Bot API method since start or reset."""
    return dict(await _control(client, "GET", f"{base_url}/sandbox/calls"))


async def reset_calls(base_url: str, *, client: httpx.AsyncClient | None = None) -> None:
    """Reset the server's per-method call counter."""
    await _control(client, "POST", f"{base_url}/sandbox/calls/reset")


async def updates(
    base_url: str, *, after: int = 0, client: httpx.AsyncClient | None = None
) -> list[JSON]:
    """Return the updates the server keeps (the newest 10,000) with update_id > ``after``."""
    return list(
        await _control(client, "GET", f"{base_url}/sandbox/updates", params={"after": after})
    )


async def redeliver(
    base_url: str, update_id: int, *, client: httpx.AsyncClient | None = None
) -> JSON:
    """Queue an update again, same update_id and contents, as Telegram re-delivers one.

    The next getUpdates returns it whatever its offset. Returns the update.
    """
    update: JSON = await _control(
        client, "POST", f"{base_url}/sandbox/updates/{update_id}/redeliver"
    )
    return update


async def storm(
    base_url: str,
    seconds: float,
    *,
    retry_after: int = 1,
    probability: float = 1.0,
    client: httpx.AsyncClient | None = None,
) -> JSON:
    """Answer 429 to send*/edit* calls for ``seconds`` (0 ends the storm); return its state.

    The state is ``{active, seconds_left, retry_after, probability}``; ``probability`` is the
    share of calls refused during the storm.
    """
    body = {"seconds": seconds, "retry_after": retry_after, "probability": probability}
    state: JSON = await _control(client, "POST", f"{base_url}/sandbox/storm", json=body)
    return state


async def set_callback_ttl(
    base_url: str, seconds: float | None, *, client: httpx.AsyncClient | None = None
) -> None:
    """Make answerCallbackQuery fail for presses older than ``seconds`` (None: never)."""
    body = {"callback_ttl": seconds}
    await _control(client, "POST", f"{base_url}/sandbox/settings", json=body)


async def stats(base_url: str, *, client: httpx.AsyncClient | None = None) -> JSON:
    """Return the server's fault counters (updates, 429s, callback queries answered or not)."""
    counters: JSON = await _control(client, "GET", f"{base_url}/sandbox/stats")
    return counters


class SandboxUser:
    """A simulated user: sends text, presses inline buttons, reads what the bot sent."""

    def __init__(
        self,
        base_url: str,
        user_id: int,
        first_name: str,
        *,
        username: str | None = None,
        language_code: str | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.user_id = user_id
        self.first_name = first_name
        self.username = username
        self.language_code = language_code
        # The id of the newest bot message this user has seen; next_message() reads after it.
        self.last_seen = 0
        # message_id -> (the buttons a card showed when tapped, those of the newest edit of it
        # that next_card saw): passed the same card again, next_card waits for the edit after.
        self._edits_seen: dict[int, tuple[list[tuple[str, str]], list[tuple[str, str]]]] = {}
        self._own_client = client is None
        self._client = client if client is not None else _local_client()

    @property
    def _path(self) -> str:
        """Return the URL of this user's control resource."""
        return f"{self.base_url}/sandbox/users/{self.user_id}"

    async def __aenter__(self) -> Self:
        """Return the user; the HTTP client closes on exit (if this user created it)."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the HTTP client if this user created it."""
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this user created it; a shared one stays open."""
        if self._own_client:
            await self._client.aclose()

    async def create(self) -> JSON:
        """Register the user with the server (idempotent) and return the User object."""
        body: JSON = {"id": self.user_id, "first_name": self.first_name}
        if self.username is not None:
            body["username"] = self.username
        if self.language_code is not None:
            body["language_code"] = self.language_code
        user: JSON = _result(await self._client.post(f"{self.base_url}/sandbox/users", json=body))
        return user

    async def send(self, text: str) -> JSON:
        """Send the bot a text message and return it."""
        message: JSON = _result(
            await self._client.post(f"{self._path}/messages", json={"text": text})
        )
        return message

    async def send_document(
        self, name: str, data: bytes, *, caption: str | None = None, mime_type: str = "text/csv"
    ) -> JSON:
        """Send the bot a file, as a phone's attach button does, and return the message."""
        files = {"document": (name, data, mime_type)}
        form = {"caption": caption} if caption else None
        message: JSON = _result(
            await self._client.post(f"{self._path}/documents", files=files, data=form)
        )
        return message

    async def send_formatted(self, html: str) -> JSON:
        """Send the bot a text formatted as ``html`` (it arrives as text and entities)."""
        message: JSON = _result(
            await self._client.post(f"{self._path}/formatted", json={"html": html})
        )
        return message

    async def send_photo(self, data: bytes, *, caption: str | None = None) -> JSON:
        """Send the bot a photo, with an optional caption in HTML."""
        form = {"caption": caption} if caption else None
        message: JSON = _result(
            await self._client.post(
                f"{self._path}/photo",
                files={"photo": ("photo.jpg", data, "image/jpeg")},
                data=form,
            )
        )
        return message

    async def press(
        self,
        message: JSON,
        *,
        data: str | None = None,
        text: str | None = None,
        strict: bool = True,
    ) -> str:
        """Press an inline button, chosen by callback data or visible text; return the query id."""
        if (data is None) == (text is None):
            raise ValueError("give exactly one of data= and text=")
        if text is not None:
            matches = [d for label, d in buttons(message) if label == text]
            if not matches:
                raise LookupError(f"no button {text!r} in message {message['message_id']}")
            data = matches[0]
        body = {"message_id": message["message_id"], "data": data, "strict": strict}
        answer = _result(await self._client.post(f"{self._path}/callback", json=body))
        return str(answer["callback_query_id"])

    # The timeouts below are long-poll durations the server waits for (ASYNC109 assumes a
    # client-side cancel timeout).
    async def messages_after(self, after: int, timeout: float = 0.0) -> list[JSON]:  # noqa: ASYNC109
        """Wait up to ``timeout`` s for bot messages newer than ``after``; oldest first."""
        response = await self._client.get(
            f"{self._path}/inbox",
            params={"after": after, "timeout": timeout},
            timeout=timeout + _POLL_SLACK,
        )
        messages: list[JSON] = _result(response)
        if messages:
            self.last_seen = max(self.last_seen, messages[-1]["message_id"])
        return messages

    async def next_message(self, timeout: float = 5.0) -> JSON:  # noqa: ASYNC109
        """Return the next bot message after the last one seen, or raise TimeoutError."""
        after = self.last_seen
        messages = await self.messages_after(after, timeout)
        if not messages:
            raise TimeoutError(f"user {self.user_id} got no bot message after {after}")
        # The rest stay unseen, so the following call returns them one by one.
        self.last_seen = messages[0]["message_id"]
        return messages[0]

    async def next_card(
        self,
        tapped: JSON | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
        *,
        notices: bool = False,
    ) -> JSON:
        """Wait for the next card after a tap, sent anew or edited into the tapped message.

        ``tapped`` is the message the user pressed a button of (the dict given to
        :meth:`press`). Returns whichever comes first:

        - ``tapped``'s message, as it is now, once it shows callback buttons (text and data, as
          :func:`buttons` lists them) other than those the user last saw on it, and some: the
          bot turned the answered card into the next one in place (editMessageText or
          editMessageMedia). An edit that keeps the same buttons (a marker such as "saving...")
          is not a new card; nor is one that removes them (see ``notices``);
        - a bot message newer than the last one seen (:attr:`last_seen`) that has callback
          buttons: the bot sent the next card as a new message. Newer messages without buttons
          (notices) are passed over and count as seen, and so is ``tapped`` itself.

        "Last saw" is ``tapped`` as given, or, when the same card (same buttons) is passed
        again, the newest edit of it this method saw, returned or passed over: keep passing the
        card while the bot sends notices, and each edit is returned once. If both happened, the
        edited message is returned and the new ones stay unseen for the next call.

        ``notices=True`` returns any change instead: a new message without buttons too, and
        ``tapped`` edited to show no buttons (an "all done" note in place of the card); tell a
        card from a notice with :func:`buttons`. Without ``tapped`` it waits for new messages
        only. Raises TimeoutError when nothing qualifies within ``timeout`` seconds. The server
        holds the wait (one long poll per change), so many users waiting at once cost no
        polling. Bot API calls are counted as always (:func:`calls`).
        """
        deadline = time.monotonic() + timeout
        tapped_id = tapped["message_id"] if tapped is not None else None
        tapped_buttons = buttons(tapped) if tapped is not None else []
        while True:
            remaining = max(deadline - time.monotonic(), 0.0)
            query: dict[str, Any] = {"after": self.last_seen, "timeout": remaining}
            if tapped_id is not None:
                seen = self._edits_seen.get(tapped_id)
                shown = (
                    seen[1] if seen is not None and seen[0] == tapped_buttons else tapped_buttons
                )
                query.update(message_id=tapped_id, buttons=json.dumps(shown))
            response = await self._client.get(
                f"{self._path}/changes", params=query, timeout=remaining + _POLL_SLACK
            )
            changes: JSON = _result(response)
            edited: JSON | None = changes["edited"]
            if edited is not None and tapped_id is not None:
                self._edits_seen[tapped_id] = (tapped_buttons, buttons(edited))
                if notices or buttons(edited):
                    return edited
            new: list[JSON] = changes["messages"]
            for message in new:
                self.last_seen = max(self.last_seen, message["message_id"])
                if message["message_id"] != tapped_id and (notices or buttons(message)):
                    return message
            if remaining <= 0:
                raise TimeoutError(
                    f"user {self.user_id} got no new card after message {self.last_seen}"
                )

    async def message(self, message_id: int) -> JSON:
        """Return the current state of a message in this user's chat."""
        message: JSON = _result(await self._client.get(f"{self._path}/messages/{message_id}"))
        return message

    async def answer(self, callback_id: str, timeout: float = 5.0) -> JSON:  # noqa: ASYNC109
        """Wait for the bot's answer to a button press: ``{answered, text, show_alert, url}``."""
        response = await self._client.get(
            f"{self.base_url}/sandbox/callbacks/{callback_id}",
            params={"timeout": timeout},
            timeout=timeout + _POLL_SLACK,
        )
        answer: JSON = _result(response)
        return answer

    async def bot_profile(self) -> JSON:
        """The bot as this user's client shows it: ``{commands, description,
        short_description}`` (their command menu and descriptions, Telegram's fallbacks)."""
        profile: JSON = _result(await self._client.get(f"{self._path}/profile"))
        return profile

    async def block(self) -> None:
        """Block the bot: its sends to this user now fail with 403."""
        _result(await self._client.post(f"{self._path}/block"))

    async def unblock(self) -> None:
        """Unblock the bot."""
        _result(await self._client.post(f"{self._path}/unblock"))
