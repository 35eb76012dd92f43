"""Wait out Telegram's flood limits instead of failing the handler that met them.

python-telegram-bot's AIORateLimiter gives up after a fixed number of retries and raises
`RetryAfter` into the handler, which then dies half-way (a label saved, its next card never
sent). `FloodGuard` keeps the bot under Telegram's overall rate and, when Telegram answers 429
anyway, pauses every send for `retry_after` and tries again, for as long as `patience_s`. Only
after that does the request fail; cards are then sent by the pending-card job
(bot.delivery). A 429 met sending to one chat pauses that chat only (Telegram limits each chat
to about a message a second: one fast tapper must not hold up everyone else's cards); 429s
from GLOBAL_CHATS different chats within a second mean the bot's overall limit, and pause
every send. answerCallbackQuery is not paused: it only stops a client's spinner, must
come within seconds, and is not what Telegram throttles. Only calls that put a message on
someone's screen (send*, edit*, copy*, forward*) count against the overall rate: getUpdates,
getMe or answerCallbackQuery spending the budget would take it from the cards.

The overall rate has two lanes. Handlers' sends (cards, answers to commands) take a token as
soon as one is free. The outbox (`bot.outbox`: broadcasts and mass notices) sends with
`rate_limit_args=SPARE` and takes only what they leave: a token while no handler's send is
waiting and the bucket keeps `reserve` tokens free, so a burst of taps finds the budget at
once instead of queueing behind 10,000 broadcast messages. In steady state the two lanes
together still use the whole rate (the reserve is a buffer that stays full, not a share),
and the bucket never runs as full as Telegram's, which absorbs the jitter between the two.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from telegram._utils.types import JSONDict
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

_UNPAUSED = frozenset({"answerCallbackQuery"})
_PACED = ("send", "edit", "copy", "forward")


GLOBAL_CHATS = 3  # chats meeting a 429 within a second: the overall limit, not theirs
SPARE = 1
"""`rate_limit_args` of a send that may use only what handlers leave of the rate (the outbox)."""


def _paced(endpoint: str) -> bool:
    """Whether Telegram counts the call against the bot's ~30 messages a second."""
    return endpoint.startswith(_PACED) and endpoint != "sendChatAction"


def retry_seconds(exc: RetryAfter) -> float:
    """RetryAfter.retry_after is an int or a timedelta depending on PTB's settings."""
    value = exc.retry_after
    return float(value) if isinstance(value, int | float) else value.total_seconds()


class SharedRate:
    """A leaky bucket of `rate` tokens a second holding at most `capacity`, with a first lane
    (`take`) and a spare lane (`take_spare`) that never touches the last `reserve` tokens nor
    overtakes a waiting `take`."""

    def __init__(self, rate: float, capacity: float | None = None, reserve: float = 5.0) -> None:
        self.rate = rate
        self.capacity = capacity if capacity is not None else max(rate, 1.0)
        self.reserve = min(reserve, self.capacity - 1)
        # Full at start: Telegram does not forget what a previous process (killed a moment
        # ago, or restarted) sent, so a new one starts at the steady rate, not with a burst.
        self._level = self.capacity
        self._stamp = time.monotonic()
        self.waiting = 0  # first-lane sends waiting for a token
        self.busy = 0  # first-lane sends on their way to Telegram
        self.taken = 0  # tokens given to the first lane
        self.spare_taken = 0  # tokens given to the spare lane

    def _leak(self) -> None:
        now = time.monotonic()
        self._level = max(0.0, self._level - (now - self._stamp) * self.rate)
        self._stamp = now

    async def take(self) -> None:
        """Wait for a token (first lane)."""
        self.waiting += 1
        try:
            while True:
                self._leak()
                if self._level + 1 <= self.capacity:
                    self._level += 1
                    self.taken += 1
                    return
                await asyncio.sleep((self._level + 1 - self.capacity) / self.rate)
        finally:
            self.waiting -= 1

    async def take_spare(self, yield_s: float = 0.05) -> None:
        """Wait for a token nobody in the first lane wants, above the reserve; and while a
        first-lane send is on its way, for up to `yield_s` more: a tap's edit then meets
        neither our requests at Telegram nor our work in this process (the tokens saved up
        meanwhile are used right after, so the rate used stays the same)."""
        room = self.capacity - self.reserve
        yielded = time.monotonic() + yield_s
        while True:
            self._leak()
            if self.busy and time.monotonic() < yielded:
                await asyncio.sleep(0.005)
                continue
            if not self.waiting and self._level + 1 <= room:
                self._level += 1
                self.spare_taken += 1
                return
            await asyncio.sleep(max((self._level + 1 - room) / self.rate, 0.25 / self.rate))


class FloodGuard(BaseRateLimiter[int]):
    """An overall send rate (None: no pacing) shared by two lanes, and patient retries after
    a 429."""

    def __init__(self, overall_per_s: float | None = 30.0, patience_s: float = 300.0) -> None:
        self._overall = SharedRate(overall_per_s) if overall_per_s else None
        self.patience_s = patience_s
        self._resume = asyncio.Event()
        self._resume.set()
        self._paused_until = 0.0
        self._sleeping = 0  # requests waiting out a 429 in _pause
        self._chat_until: dict[object, float] = {}  # a chat's own pause, after its 429
        self._recent: list[tuple[float, object]] = []  # (when, chat) of the last 429s

    @property
    def rate(self) -> SharedRate | None:
        """The overall rate's bucket (None: no pacing)."""
        return self._overall

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
        chat = data.get("chat_id") if isinstance(data, dict) else None
        while True:
            if paused:
                await self._resume.wait()
                if chat is not None and (until := self._chat_until.get(chat, 0.0)):
                    if until > time.monotonic():
                        await asyncio.sleep(until - time.monotonic())
                    else:
                        self._chat_until.pop(chat, None)
            try:
                rate = self._overall if _paced(endpoint) else None
                if rate is None or rate_limit_args == SPARE:
                    if rate is not None and rate_limit_args == SPARE:
                        await rate.take_spare()
                        if paused:  # a 429 may have come while it waited
                            await self._resume.wait()
                    return await callback(*args, **kwargs)
                await rate.take()
                rate.busy += 1
                try:
                    return await callback(*args, **kwargs)
                finally:
                    rate.busy -= 1
            except RetryAfter as exc:
                wait = retry_seconds(exc)
                now = time.monotonic()
                if now + wait > deadline:
                    raise
                self._recent = [(at, c) for at, c in self._recent if at > now - 1.0]
                self._recent.append((now, chat))
                if chat is None or len({c for _, c in self._recent}) >= GLOBAL_CHATS:
                    await self._pause(wait)
                else:  # this chat's limit: only its sends wait
                    log.info("flood limit in one chat: pausing it for %.1f s", wait)
                    if len(self._chat_until) > 10_000:  # forget pauses long over
                        self._chat_until = {c: u for c, u in self._chat_until.items() if u > now}
                    self._chat_until[chat] = max(self._chat_until.get(chat, 0.0), now + wait)
                    try:
                        await asyncio.sleep(wait + 0.05)
                    except asyncio.CancelledError:
                        # As with the overall pause: a cancelled sleeper lifts it (a send
                        # that meets a 429 again pauses the chat again).
                        self._chat_until.pop(chat, None)
                        raise

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
