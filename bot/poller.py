"""Long polling that confirms an update to Telegram only once it is stored.

python-telegram-bot's own poller asks for the next batch (which confirms the last one) as soon
as it has queued the batch in memory, so a `kill -9` loses every tap in flight. This one writes
each batch to the inbox table first; the next getUpdates then confirms what is safe on disk.
At start it hands the handlers whatever was stored and not handled before a crash, and counts
what it caught up on for the admins.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application, BaseUpdateProcessor

from bot.flood import retry_seconds
from storage.errors import StorageError
from storage.inbox import Inbox

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ("message", "callback_query")
_BATCH = 100  # getUpdates' largest batch: a full one means more are waiting
_MAX_BACKOFF_S = 30.0


@dataclass(frozen=True)
class CaughtUp:
    """What the first polls after a start found: updates stored before the stop and not
    handled, and updates that waited at Telegram."""

    stored: int
    waiting: int


class InboxApplication(Application):  # type: ignore[type-arg]
    """An Application that marks each update handled in the inbox once its handler ran."""

    async def process_update(self, update: object) -> None:
        """Run the handlers, then mark the update handled (errors included: a replay of an
        update that failed would fail again; a crash mid-way leaves it for the next start)."""
        await super().process_update(update)
        if isinstance(update, Update):
            await self.bot_data.inbox.mark_handled(update.update_id)


class PerUserOrder(BaseUpdateProcessor):
    """Each user's updates in the order they came, different users' at the same time.

    With plain concurrent processing an /undo sent before a tap could be handled after it
    and take back the newer label, and the stored updates handed out again after a crash
    (all at once) were reordered the same way.
    """

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}

    # PTB marks process_update final; it takes a concurrency slot, then calls
    # do_process_update. Waiting for the user's turn must come first: an update that holds a
    # slot while it waits lets one user's queue (behind a slow import, or a send held by a
    # flood pause) take every slot, and everyone else's taps wait.
    async def process_update(  # type: ignore[misc]
        self, update: object, coroutine: Awaitable[Any]
    ) -> None:
        """Wait for the same user's earlier updates, then for a slot, then run the handlers."""
        user = update.effective_user if isinstance(update, Update) else None
        if user is None:
            async with self._semaphore:
                await coroutine
            return
        lock = self._locks.setdefault(user.id, asyncio.Lock())
        # FIFO: the updates wait for their user's turn in the order they were queued
        async with lock, self._semaphore:
            await coroutine

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run the handlers (process_update does the ordering)."""
        await coroutine

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


class InboxPoller:
    """Fetch updates, store them, then hand them to the application's update queue."""

    def __init__(
        self,
        app: Application[Any, Any, Any, Any, Any, Any],
        inbox: Inbox,
        *,
        timeout: int = 10,
        on_caught_up: Callable[[CaughtUp], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        self.app = app
        self.inbox = inbox
        self.timeout = timeout
        self.on_caught_up = on_caught_up
        self.offset = 0
        self._report: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Poll until cancelled; an invalid token ends it (nothing else would work either)."""
        stored = await self._requeue_stored()
        waiting = 0
        caught_up = False
        backoff = 1.0
        while True:
            try:
                updates = await self.app.bot.get_updates(
                    offset=self.offset, timeout=self.timeout, allowed_updates=ALLOWED_UPDATES
                )
            except InvalidToken:
                raise
            except RetryAfter as exc:
                await asyncio.sleep(retry_seconds(exc))
                continue
            except TimedOut:
                continue  # a long poll that outlived the HTTP timeout: just ask again
            except Conflict:
                log.error("another instance of this bot is polling; retrying in %.0f s", backoff)
                backoff = await _back_off(backoff)
                continue
            except NetworkError as exc:
                log.warning("polling failed (%s); retrying in %.0f s", exc, backoff)
                backoff = await _back_off(backoff)
                continue
            backoff = 1.0
            new: set[int] = set()
            if updates:
                # Stored first: the next getUpdates (offset past these) confirms them.
                try:
                    new = await self.inbox.store([(u.update_id, u.to_json()) for u in updates])
                except (StorageError, sqlite3.Error) as exc:  # e.g. locked: not confirmed
                    log.warning("could not store updates (%s); fetching again", exc)
                    backoff = await _back_off(backoff)
                    continue
                for update in updates:
                    if update.update_id in new:  # the others were stored (and queued) before
                        await self.app.update_queue.put(update)
                self.offset = updates[-1].update_id + 1
            if not caught_up:
                waiting += len(new)
                if len(updates) < _BATCH:
                    caught_up = True
                    if self.on_caught_up is not None:
                        # Its messages may wait out flood limits: polling must go on.
                        self._report = asyncio.create_task(
                            self.on_caught_up(CaughtUp(stored=stored, waiting=waiting))
                        )

    async def _requeue_stored(self) -> int:
        """Hand the handlers the updates stored before a stop and never handled."""
        pending = await self.inbox.pending()
        for update_id, data in pending:
            update = Update.de_json(json.loads(data), self.app.bot)
            await self.app.update_queue.put(update)
            self.offset = max(self.offset, update_id + 1)
        if pending:
            log.info("handing %d stored updates to the handlers again", len(pending))
        return len(pending)


async def _back_off(current: float) -> float:
    await asyncio.sleep(current)
    return min(current * 2, _MAX_BACKOFF_S)
