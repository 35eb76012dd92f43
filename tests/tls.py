"""HTTP clients for the tests that share one TLS context per test process.

Nothing in the tests speaks TLS (the sandbox is plain HTTP on 127.0.0.1), yet httpx builds an
SSL context for every client and loads the CA bundle into it: 25-40 ms of CPU each. The suite
made ~400 of them (test clients, simulated users, two per bot started): 10-17 s of its CPU.
"""

from __future__ import annotations

from typing import Any, TypedDict

import httpx
from telegram.request import HTTPXRequest

TLS = httpx.create_ssl_context()


def http_client(**kwargs: Any) -> httpx.AsyncClient:
    """An httpx.AsyncClient (with `kwargs`) on the shared TLS context."""
    return httpx.AsyncClient(verify=TLS, **kwargs)


class BotRequests(TypedDict):
    request: HTTPXRequest
    get_updates_request: HTTPXRequest


def bot_requests() -> BotRequests:
    """The two requests python-telegram-bot's ApplicationBuilder makes by default (256
    connections for calls, one for getUpdates), on the shared TLS context: keyword arguments
    for `app.build_application`."""
    return {
        "request": HTTPXRequest(connection_pool_size=256, httpx_kwargs={"verify": TLS}),
        "get_updates_request": HTTPXRequest(connection_pool_size=1, httpx_kwargs={"verify": TLS}),
    }
