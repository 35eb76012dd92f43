"""Run the application: start it, poll through the inbox, stop it cleanly.

`polling` runs the bot as one task among others inside an existing event loop (the demo, the
tests, the benchmarks); `serve` is `labelgram run`: the same until SIGINT or SIGTERM.
Updates come from `bot.poller.InboxPoller`, which stores each update before confirming it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from telegram.ext import Application

from bot.app import report_restart
from bot.poller import CaughtUp, InboxPoller

App = Application[Any, Any, Any, Any, Any, Any]


@asynccontextmanager
async def polling(app: App, *, poll_timeout: int = 1) -> AsyncIterator[asyncio.Task[None]]:
    """Initialise, start and long-poll; stop and shut down on exit.

    Raises what the first Bot API call raises (InvalidToken, NetworkError) before anything
    is started.
    """
    await app.initialize()
    try:
        if app.post_init is not None:
            await app.post_init(app)

        async def caught_up(counts: CaughtUp) -> None:
            await report_restart(app, counts)

        poller = InboxPoller(app, app.bot_data.inbox, timeout=poll_timeout, on_caught_up=caught_up)
        await app.start()
        task = asyncio.create_task(poller.run(), name="inbox-poller")
        try:
            yield task
        finally:
            task.cancel()
            # The poller's own error (a revoked token) was seen by whoever waited on it;
            # here it must not skip stopping the application and closing the database.
            with contextlib.suppress(BaseException):
                await task
            await app.stop()
    finally:
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)


async def serve(app: App, *, poll_timeout: int = 10) -> None:
    """Run the bot until SIGINT or SIGTERM (what `labelgram run` does)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
            loop.add_signal_handler(sig, stop.set)
    async with polling(app, poll_timeout=poll_timeout) as poller:
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait((stopping, poller), return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if poller.done() and not poller.cancelled() and poller.exception() is not None:
            raise poller.exception()  # type: ignore[misc]  # e.g. the token was revoked
