"""Wait out Telegram's flood limits instead of failing the handler that met them.

python-telegram-bot's AIORateLimiter gives up after a fixed number of retries and raises
`RetryAfter` into the handler, which then dies half-way (a label saved, its next card never
sent). `FloodGuard` keeps the bot under Telegram's overall rate and, when Telegram answers 429
anyway, pauses every send for `retry_after` and tries again, for as long as `patience_s`. Only
after that does the request fail; cards are then sent by the pending-card job
(bot.delivery). answerCallbackQuery is not paused: it only stops a client's spinner, must
come within seconds, and is not what Telegram throttles. Only calls that put a message on
someone's screen (send*, edit*, copy*, forward*) count against the overall rate: getUpdates,
getMe or answerCallbackQuery spending the budget would take it from the cards.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from aiolimiter import AsyncLimiter
from telegram._utils.types import JSONDict
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

_UNPAUSED = frozenset({"answerCallbackQuery"})
_PACED = ("send", "edit", "copy", "forward")


def _paced(endpoint: str) -> bool:
    """Whether Telegram counts the call against the bot's ~30 messages a second."""
    return endpoint.startswith(_PACED) and endpoint != "sendChatAction"


def retry_seconds(exc: RetryAfter) -> float:
    """RetryAfter.retry_after is an int or a timedelta depending on PTB's settings."""
    value = exc.retry_after
    return float(value) if isinstance(value, int | float) else value.total_seconds()


class FloodGuard(BaseRateLimiter[int]):
    """An overall send rate (None: no pacing) and patient retries after a 429."""

    def __init__(self, overall_per_s: float | None = 30.0, patience_s: float = 300.0) -> None:
        self._overall = AsyncLimiter(overall_per_s, 1) if overall_per_s else None
        self.patience_s = patience_s
        self._resume = asyncio.Event()
        self._resume.set()
        self._paused_until = 0.0
        self._sleeping = 0  # requests waiting out a 429 in _pause

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        """Send now, or once Telegram's pause is over; raise RetryAfter only past patience."""
        deadline = time.monotonic() + self.patience_s
        paused = endpoint not in _UNPAUSED
        while True:
            if paused:
                await self._resume.wait()
            try:
                if self._overall is not None and _paced(endpoint):
                    async with self._overall:
                        return await callback(*args, **kwargs)
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                wait = retry_seconds(exc)
                if time.monotonic() + wait > deadline:
                    raise
                await self._pause(wait)

    async def _pause(self, seconds: float) -> None:
        """Hold every paused request until Telegram's retry_after has passed."""
        until = time.monotonic() + seconds
        if until > self._paused_until:
            self._paused_until = until
            log.info("flood limit: pausing sends for %.1f s", seconds)
            self._resume.clear()
        self._sleeping += 1
        try:
            await asyncio.sleep(max(self._paused_until - time.monotonic(), 0) + 0.05)
        finally:
            self._sleeping -= 1
            # The last sleeper lifts the pause, also when it was cancelled mid-pause (sends
            # would otherwise wait for ever); a send that meets a 429 again pauses again.
            if time.monotonic() >= self._paused_until or not self._sleeping:
                self._resume.set()
