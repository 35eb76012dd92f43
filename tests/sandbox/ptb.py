"""A plain python-telegram-bot Application polling the sandbox, for tests of the sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from telegram.ext import Application, ApplicationBuilder, BaseHandler

from sandbox.server import SandboxServer
from tests.tls import bot_requests


@asynccontextmanager
async def polling_app(
    server: SandboxServer, *handlers: BaseHandler[Any, Any, Any]
) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """An Application with `handlers`, long-polling `server` until the block ends."""
    requests = bot_requests()
    application = (
        ApplicationBuilder()
        .token(server.token)
        .base_url(server.bot_api_url)
        .base_file_url(server.file_url)
        .request(requests["request"])
        .get_updates_request(requests["get_updates_request"])
        .build()
    )
    for handler in handlers:
        application.add_handler(handler)
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=1)
        yield application
        await application.updater.stop()
        await application.stop()
