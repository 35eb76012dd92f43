"""A local sandbox of the Telegram Bot API, with a control API for simulated users.

The real bot runs against it unchanged, over HTTP, by pointing python-telegram-bot's
``base_url``/``base_file_url`` at :attr:`SandboxServer.bot_api_url` and
:attr:`SandboxServer.file_url`. Simulated users (see :mod:`sandbox.client`) talk to the
control API under ``/sandbox/``. The server listens on 127.0.0.1 and keeps everything in memory.

Bot API methods: getMe, getUpdates, deleteWebhook, getWebhookInfo, setMyCommands,
getMyCommands, deleteMyCommands, setMyDescription, getMyDescription, setMyShortDescription,
getMyShortDescription, sendMessage, copyMessage, sendPhoto, sendAnimation, sendAudio, sendVoice,
sendVideo, sendDocument, editMessageText, editMessageCaption, editMessageMedia,
editMessageReplyMarkup, deleteMessage, answerCallbackQuery, getFile, sendChatAction, logOut,
close (names are case-insensitive).

What it emulates: private chats with users created through the control API; long polling with
offsets, limits, remembered ``allowed_updates`` and the 409 conflict of a second poller; text and
media messages with their current state (edits, deletions, inline keyboards, replies); edits as
Telegram applies them (see :mod:`sandbox.edits`: text to text, media to media, text to media
with editMessageMedia, never media to text; the keyboard goes unless sent again; "message is not
modified" for an edit that changes nothing; edits share the flood limits with sends); callback
queries; ``my_chat_member`` updates on block/unblock; file uploads, ``file_id`` reuse and
downloads; Telegram's error shape and description texts for the common mistakes (chat not found,
empty or too long text and captions, invalid callback data, malformed markup, edits of unknown or
unchanged messages, stale callback queries, unknown files, sends and edits to a user who blocked
the bot, HTML that Telegram would refuse); token-bucket flood limits (429 with retry_after);
callback queries that expire (``callback_ttl``, by default Telegram's 15 s: answerCallbackQuery
then fails with "query is too old ..."; None turns it off; the test suite passes with it, as its
users wait at most 5 s for an answer anyway); re-delivery of an update the bot did not confirm
(forced through the control API).

Faults, for fault harnesses: re-delivery of updates, 429 storms, callback queries that expire,
counters. They are HTTP control calls (listed in :mod:`sandbox.control`), methods of
:class:`SandboxServer` and functions of :mod:`sandbox.client`.

The modules: :mod:`sandbox.wire` (parameters, answers, Telegram's error texts),
:mod:`sandbox.entities` (HTML parse mode), :mod:`sandbox.content` (texts, captions, keyboards),
:mod:`sandbox.limits` (flood limits, storms), :mod:`sandbox.chats`, :mod:`sandbox.updates`,
:mod:`sandbox.files` and :mod:`sandbox.state` (what the server knows), :mod:`sandbox.methods`
and :mod:`sandbox.edits` (the Bot API), :mod:`sandbox.control` (simulated users and faults), and
this one (the HTTP server and the command line).

What it does not emulate:

- groups, supergroups, channels, topics, business accounts, inline mode, payments, games,
  stickers, polls, reactions, media groups (and so the album rules of editMessageMedia), live
  photos, video notes, ``copyMessage``/``forwardMessage`` and every other method not listed
  above: they answer 404 "Not Found", as Telegram does for unknown methods;
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
  dimensions (taken from the request or the InputMedia, else 0), re-encoding of photos;
  ``has_spoiler``, ``show_caption_above_media`` and ``link_preview_options`` (accepted, not kept);
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
import collections
import contextlib
import errno
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from sandbox.control import ControlApi
from sandbox.copying import CopyApi
from sandbox.edits import EditApi
from sandbox.limits import TELEGRAM_LIMITS, RateLimits
from sandbox.methods import BotApi
from sandbox.state import SandboxState
from sandbox.wire import (
    BLOCKED,
    BUTTON_DATA_INVALID,
    CAPTION_TOO_LONG,
    CHAT_NOT_FOUND,
    CONFLICT,
    EDIT_NOT_FOUND,
    JSON,
    MARKUP_INVALID,
    MAX_CALLBACK_ANSWER_LENGTH,
    MAX_CALLBACK_DATA_BYTES,
    MAX_CAPTION_LENGTH,
    MAX_DOWNLOAD_BYTES,
    MAX_TEXT_LENGTH,
    MAX_UPLOAD_BYTES,
    NOT_MODIFIED,
    QUERY_INVALID,
    TEXT_BUTTONS_UNALLOWED,
    TEXT_EMPTY,
    TEXT_TOO_LONG,
    WRONG_FILE,
    ApiError,
    Method,
    ok,
    read_params,
)

__all__ = [
    "BLOCKED",
    "BUTTON_DATA_INVALID",
    "CALLBACK_TTL",
    "CAPTION_TOO_LONG",
    "CHAT_NOT_FOUND",
    "CONFLICT",
    "EDIT_NOT_FOUND",
    "JSON",
    "MARKUP_INVALID",
    "MAX_CALLBACK_ANSWER_LENGTH",
    "MAX_CALLBACK_DATA_BYTES",
    "MAX_CAPTION_LENGTH",
    "MAX_DOWNLOAD_BYTES",
    "MAX_TEXT_LENGTH",
    "MAX_UPLOAD_BYTES",
    "NOT_MODIFIED",
    "QUERY_INVALID",
    "TEXT_BUTTONS_UNALLOWED",
    "TEXT_EMPTY",
    "TEXT_TOO_LONG",
    "UPDATE_HISTORY",
    "WRONG_FILE",
    "RateLimits",
    "SandboxServer",
    "main",
    "serve",
]

UPDATE_HISTORY = 10_000
"""How many of the newest updates the server keeps for listing and re-delivery."""
CALLBACK_TTL = 15.0
"""Seconds after a button press at which Telegram stops accepting answerCallbackQuery."""


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
        limits: RateLimits = TELEGRAM_LIMITS,  # frozen, so one shared default is safe
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
        self._host = host
        self._port = port
        bot: JSON = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Labelgram Sandbox",
            "username": bot_username,
        }
        self._state = SandboxState(
            bot=bot, limits=limits, callback_ttl=callback_ttl, update_history=update_history
        )
        self._copy = CopyApi(self._state)  # copyMessage; users' formatted texts and photos
        methods = {
            **BotApi(self._state).methods(),
            **EditApi(self._state).methods(),
            **self._copy.methods(),
        }
        # Telegram matches method names case-insensitively.
        self._methods: dict[str, Method] = {name.lower(): m for name, m in methods.items()}
        self._control = ControlApi(self._state)
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def calls(self) -> collections.Counter[str]:
        """Return how many times each Bot API method was called (valid token only)."""
        return self._state.calls

    @property
    def limits(self) -> RateLimits:
        """Return the flood limits the server enforces."""
        return self._state.flood.limits

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
        for verb, path, handler in (*self._control.routes(), *self._copy.routes()):
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
        self._state.closing = False
        port = runner.addresses[0][1]
        self._url = f"http://{self._host}:{port}"
        self.reset_calls()
        self._state.flood.refill()

    async def stop(self) -> None:
        """Release pending long polls and stop serving."""
        if self._runner is None:
            return
        self._state.close()
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
        self._state.calls.clear()

    # --- faults: re-delivery, 429 storms, expiring callback queries, counters --------------

    @property
    def callback_ttl(self) -> float | None:
        """Return the seconds after a press at which answerCallbackQuery fails (None: never)."""
        return self._state.callback_ttl

    @callback_ttl.setter
    def callback_ttl(self, seconds: float | None) -> None:
        self._state.callback_ttl = seconds

    def updates(self, after: int = 0) -> list[JSON]:
        """Return the kept updates (the newest ``update_history``) with update_id > ``after``."""
        return self._state.updates.kept(after)

    def redeliver(self, update_id: int) -> JSON:
        """Queue a kept update again, same update_id and contents; return it.

        Telegram re-delivers an update the bot did not confirm. A replay is returned by the
        next getUpdates whatever its ``offset`` (even one past its update_id, which would
        otherwise drop it) and counts as confirmed once a later getUpdates carries an offset
        above its update_id; a getUpdates without offset returns it again, as an unconfirmed
        update.
        """
        return self._state.updates.redeliver(update_id)

    def storm(self, seconds: float, retry_after: int = 1, probability: float = 1.0) -> JSON:
        """Answer 429 to rate-limited calls for ``seconds`` (0 ends a storm); return its state.

        During a storm a send* (but sendChatAction) or edit* call that passes validation is
        refused with "Too Many Requests: retry after R" and ``parameters.retry_after = R``, with
        the given ``probability``; the rate-limit buckets are left as they were.
        """
        return self._state.flood.storm(seconds, retry_after, probability)

    def stats(self) -> JSON:
        """Return the fault counters since start (see :mod:`sandbox.control` for the fields)."""
        return self._state.stats()

    # --- HTTP plumbing ---------------------------------------------------------------------

    @staticmethod
    def _route(
        handler: Callable[[web.Request], Awaitable[Any]],
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        """Wrap a handler's result or refusal in Telegram's response shape."""

        async def route(request: web.Request) -> web.Response:
            try:
                return ok(await handler(request))
            except ApiError as error:
                return error.response()

        return route

    async def _bot_api(self, request: web.Request) -> Any:
        """Dispatch one Bot API call."""
        if request.match_info["token"] != self.token:
            raise ApiError(401, "Unauthorized")
        name = request.match_info["method"]
        self._state.calls[name] += 1
        method = self._methods.get(name.lower())
        if method is None:
            raise ApiError(404, "Not Found")
        return await method(await read_params(request))

    async def _download(self, request: web.Request) -> web.StreamResponse:
        """Serve the bytes of an uploaded file."""
        if request.match_info["token"] != self.token:
            return ApiError(401, "Unauthorized").response()
        stored = self._state.files.at_path(request.match_info["path"])
        if stored is None or stored.data is None:
            return ApiError(404, "Not Found").response()
        content_type = stored.mime_type or "application/octet-stream"
        return web.Response(body=stored.data, content_type=content_type)


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
        default=TELEGRAM_LIMITS,
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
    limits: RateLimits = TELEGRAM_LIMITS,
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
