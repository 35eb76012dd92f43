"""The update queue behind getUpdates: offsets, long polls, allowed_updates, replays.

Updates wait in the queue, ordered by update_id, until a getUpdates carries an offset above
their id (a negative offset keeps only the newest ones). The newest ``history_size`` are also
kept for listing and re-delivery through the control API. A replay is an update queued again
with its old id: it is returned by the next getUpdates whatever its offset, and confirmed by the
first offset past it after it was handed out. A newer getUpdates ends a pending one with 409.
"""

from __future__ import annotations

import bisect
import collections
import copy
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass

from sandbox.chats import Signal
from sandbox.wire import CONFLICT, JSON, ApiError

# Update types a bot gets when it asks for "all" (an empty allowed_updates list, or never asked).
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


@dataclass
class Queued:
    """An update waiting in the getUpdates queue; a replay is one queued again on request."""

    update: JSON
    replay: bool = False
    handed_out: bool = False

    @property
    def update_id(self) -> int:
        """Return the update's id."""
        update_id: int = self.update["update_id"]
        return update_id


class UpdateQueue:
    """The updates waiting for getUpdates, and the newest ones kept for re-delivery."""

    def __init__(self, history_size: int, closing: Callable[[], bool]) -> None:
        """Keep the newest ``history_size`` updates; ``closing`` tells when to end long polls."""
        self.history_size = history_size
        self.queued = 0  # created by users
        self.delivered = 0  # returned by getUpdates, repeats included
        self.redelivered = 0
        self.signal = Signal()  # an update was queued, or a newer poll began
        self._closing = closing
        self._pending: list[Queued] = []  # ordered by update_id; replays keep their old id
        self._history: collections.OrderedDict[int, JSON] = collections.OrderedDict()
        self._update_ids = itertools.count(1)
        self._allowed: frozenset[str] | None = None  # None: all but the opt-in types
        self._poll_generation = 0

    @property
    def pending(self) -> int:
        """Return how many updates wait for confirmation."""
        return len(self._pending)

    def enqueue(self, update: JSON) -> None:
        """Queue an update for getUpdates and keep it for re-delivery."""
        queued = Queued({"update_id": next(self._update_ids), **update})
        self._pending.append(queued)  # a new id is the highest: the queue stays ordered
        self._history[queued.update_id] = queued.update
        if len(self._history) > self.history_size:
            self._history.popitem(last=False)
        self.queued += 1
        self.signal.notify()

    def kept(self, after: int = 0) -> list[JSON]:
        """Return the kept updates with update_id > ``after``, oldest first."""
        return [copy.deepcopy(u) for update_id, u in self._history.items() if update_id > after]

    def redeliver(self, update_id: int) -> JSON:
        """Queue a kept update again, same update_id and contents; return it (KeyError if gone)."""
        update = self._history.get(update_id)
        if update is None:
            raise KeyError(update_id)
        entry = Queued(copy.deepcopy(update), replay=True)
        bisect.insort(self._pending, entry, key=lambda queued: queued.update_id)
        self.redelivered += 1
        self.signal.notify()
        return copy.deepcopy(update)

    def drop_pending(self) -> None:
        """Forget the updates not confirmed yet (deleteWebhook's drop_pending_updates)."""
        self._pending.clear()

    def allow(self, allowed: list[str]) -> None:
        """Remember the bot's allowed_updates; an empty list means the default types."""
        self._allowed = frozenset(allowed) or None

    async def poll(self, offset: int, limit: int, timeout: float) -> list[JSON]:  # noqa: ASYNC109
        """Confirm the updates below ``offset`` and wait up to ``timeout`` s for a batch."""
        # A newer poll ends the pending one, as Telegram does, with 409 Conflict.
        self._poll_generation += 1
        generation = self._poll_generation
        self.signal.notify()
        if offset > 0:
            # A replay is confirmed by the first offset past it after it was handed out.
            self._pending = [
                q
                for q in self._pending
                if q.update_id >= offset or (q.replay and not q.handed_out)
            ]
        elif offset < 0:
            self._pending = self._pending[offset:]
        deadline = time.monotonic() + timeout
        while True:
            self._pending = [q for q in self._pending if self._is_allowed(q.update)]
            remaining = deadline - time.monotonic()
            if self._pending or self._closing() or remaining <= 0:
                batch = self._pending[:limit]
                for queued in batch:
                    queued.handed_out = True
                self.delivered += len(batch)
                return [queued.update for queued in batch]
            await self.signal.wait(remaining)
            if generation != self._poll_generation:
                raise ApiError(409, CONFLICT)

    def _is_allowed(self, update: JSON) -> bool:
        """Return whether the bot's allowed_updates let this update through."""
        kind = next(key for key in update if key != "update_id")
        if self._allowed is None:
            return kind not in _OPT_IN_UPDATES
        return kind in self._allowed
