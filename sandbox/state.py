"""Everything the sandbox server knows, shared by the Bot API and the control API.

One :class:`SandboxState` per server: the bot's identity, the chats, the button presses, the
files, the update queue, the flood limits, the bot profile (command lists, descriptions) and
the counters. The Bot API methods (:mod:`sandbox.methods`, :mod:`sandbox.edits`,
:mod:`sandbox.commands`) and the simulated users (:mod:`sandbox.control`) read and change
it; nothing else does.
"""

from __future__ import annotations

import collections
import itertools
import math

from sandbox.chats import CallbackQuery, Chat, Signal
from sandbox.commands import BotProfile
from sandbox.files import FileStore
from sandbox.limits import FloodGate, RateLimits
from sandbox.updates import UpdateQueue
from sandbox.wire import BLOCKED, CHAT_NOT_FOUND, JSON, ApiError, Params, bad, compact, now


class SandboxState:
    """The in-memory state of one sandbox server."""

    def __init__(
        self,
        *,
        bot: JSON,
        limits: RateLimits,
        callback_ttl: float | None,
        update_history: int,
    ) -> None:
        """Start empty: no chats, no updates, no files."""
        self.bot = bot
        self.calls: collections.Counter[str] = collections.Counter()
        self.closing = False
        self.chats: dict[int, Chat] = {}
        self.updates = UpdateQueue(update_history, closing=lambda: self.closing)
        self.flood = FloodGate(limits)
        self.files = FileStore()
        # Command lists and descriptions; a chat scope names a chat the user started, as
        # Telegram requires ("chat not found" otherwise).
        self.profile = BotProfile(self._chat_started)
        self.callbacks: dict[str, CallbackQuery] = {}
        self.callback_ids = itertools.count(4_000_000_000_000_000_001)
        self.callbacks_signal = Signal()  # a callback query was answered
        self.callback_answers_expired = 0
        self._callback_ttl: float | None = None
        self.callback_ttl = callback_ttl

    @property
    def callback_ttl(self) -> float | None:
        """Return the seconds after a press at which answerCallbackQuery fails (None: never)."""
        return self._callback_ttl

    @callback_ttl.setter
    def callback_ttl(self, seconds: float | None) -> None:
        if seconds is not None and not (math.isfinite(seconds) and seconds > 0):
            raise ValueError("callback_ttl must be a positive number of seconds, or None")
        self._callback_ttl = seconds

    def _chat_started(self, chat_id: int) -> bool:
        """Whether the chat is one the bot can address (its user wrote to it)."""
        chat = self.chats.get(chat_id)
        return chat is not None and chat.started

    def close(self) -> None:
        """Release every long poll (getUpdates, inboxes, callback answers)."""
        self.closing = True
        self.updates.signal.notify()
        self.callbacks_signal.notify()
        for chat in self.chats.values():
            chat.signal.notify()

    def chat(self, params: Params, *, for_sending: bool = True) -> Chat:
        """Return the addressed chat; the user must have written first and not blocked the bot."""
        raw = params.raw("chat_id")
        if raw is None or raw == "":
            raise bad("chat_id is empty")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):  # "@username" names only public groups and channels
            raise ApiError(400, CHAT_NOT_FOUND) from None
        chat = self.chats.get(chat_id)
        if chat is None or not chat.started:
            raise ApiError(400, CHAT_NOT_FOUND)
        if for_sending and chat.blocked:
            raise ApiError(403, BLOCKED)
        return chat

    def post_bot_message(self, chat: Chat, content: JSON) -> JSON:
        """Store a new bot message in the chat and wake the user's inbox."""
        message = compact(
            {
                "message_id": chat.next_message_id(),
                "from": dict(self.bot),
                "chat": chat.info,
                "date": now(),
                **content,
            }
        )
        chat.messages[message["message_id"]] = message
        chat.signal.notify()
        return message

    def set_blocked(self, chat: Chat, blocked: bool) -> None:
        """Block or unblock the bot and tell it with a my_chat_member update, as Telegram does."""
        if chat.blocked == blocked:
            return
        chat.blocked = blocked
        member = {"user": dict(self.bot), "status": "member"}
        kicked = {"user": dict(self.bot), "status": "kicked", "until_date": 0}
        old, new = (member, kicked) if blocked else (kicked, member)
        if chat.started:
            self.updates.enqueue(
                {
                    "my_chat_member": {
                        "chat": chat.info,
                        "from": chat.user,
                        "date": now(),
                        "old_chat_member": old,
                        "new_chat_member": new,
                    }
                }
            )

    def stats(self) -> JSON:
        """Return the fault counters since start (see :mod:`sandbox.server` for the fields)."""
        unanswered = [query_id for query_id, q in self.callbacks.items() if not q.answered]
        return {
            "updates_queued": self.updates.queued,
            "updates_delivered": self.updates.delivered,
            "updates_redelivered": self.updates.redelivered,
            "updates_pending": self.updates.pending,
            "too_many_requests": self.flood.too_many_requests,
            "storm_refusals": self.flood.storm_refusals,
            "callback_queries": len(self.callbacks),
            "callback_queries_answered": len(self.callbacks) - len(unanswered),
            "callback_queries_unanswered": len(unanswered),
            "unanswered_callback_query_ids": unanswered,
            "callback_answers_expired": self.callback_answers_expired,
            "storm": self.flood.storm_state(),
        }
