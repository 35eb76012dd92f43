"""Flood limits: Telegram's token buckets for sending and editing, and forced 429 storms.

A send* (but sendChatAction) or edit* call that passes validation takes one token from the
bot's bucket and one from the chat's; an empty bucket answers 429 "Too Many Requests: retry
after N" with ``parameters.retry_after``, as Telegram does. A storm, switched on through the
control API, refuses those calls with 429 for a while, whatever the buckets hold.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from dataclasses import dataclass

from sandbox.wire import JSON, ApiError


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


TELEGRAM_LIMITS = RateLimits()
"""Telegram's limits (RateLimits' defaults): the sandbox's unless told otherwise."""


class TokenBucket:
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


class FloodGate:
    """The limits in force: the bot's bucket, one bucket per chat, and the current storm."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self.too_many_requests = 0  # 429s served, any cause
        self.storm_refusals = 0  # of those, by a storm
        self._global_bucket: TokenBucket | None = None
        self._chat_buckets: dict[int, TokenBucket] = {}
        self._storm_until = 0.0  # time.monotonic() at which the current storm ends
        self._storm_retry_after = 1
        self._storm_probability = 1.0
        self._random = random.Random()

    def refill(self) -> None:
        """Give the bot a full bucket, as a server that just started has."""
        self._global_bucket = (
            TokenBucket(self.limits.global_rate, self.limits.global_burst)
            if self.limits.global_rate is not None
            else None
        )

    def throttle(self, chat_id: int) -> None:
        """Take a token from the bot's and the chat's bucket, or refuse with 429."""
        if time.monotonic() < self._storm_until and (
            self._random.random() < self._storm_probability
        ):
            self.too_many_requests += 1
            self.storm_refusals += 1
            retry_after = self._storm_retry_after
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
            )
        chat_bucket = self._chat_buckets.get(chat_id)
        if chat_bucket is None and self.limits.chat_rate is not None:
            chat_bucket = TokenBucket(self.limits.chat_rate, self.limits.chat_burst)
            self._chat_buckets[chat_id] = chat_bucket
        buckets = [b for b in (self._global_bucket, chat_bucket) if b is not None]
        now = time.monotonic()
        wait = max((bucket.delay(now) for bucket in buckets), default=0.0)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            self.too_many_requests += 1
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
            )
        for bucket in buckets:
            bucket.tokens -= 1

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
        return self.storm_state()

    def storm_state(self) -> JSON:
        """Return whether a storm is on, for how much longer, and its parameters."""
        left = max(self._storm_until - time.monotonic(), 0.0)
        return {
            "active": left > 0,
            "seconds_left": left,
            "retry_after": self._storm_retry_after,
            "probability": self._storm_probability,
        }
