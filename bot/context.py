"""Typed bot_data: the services handlers reach through `context.bot_data`."""

from __future__ import annotations

import asyncio
from typing import Any

from telegram import User
from telegram.ext import CallbackContext, ExtBot

from config.settings import Settings
from storage.inbox import Inbox, PreviousRun
from storage.quality import QualityStore
from storage.repository import Repository


class BotData:
    """Services shared by all handlers; attached before the application starts."""

    def __init__(self) -> None:
        self._repo: Repository | None = None
        self._settings: Settings | None = None
        self._quality: QualityStore | None = None
        self._inbox: Inbox | None = None
        self.last_admin_alert = 0.0  # monotonic time of the last error alert to admins
        self.run_id = 0  # this run's row in `runs` (set at start)
        self.previous_run: PreviousRun | None = None  # how the run before this one ended
        self.started_at = 0.0  # wall-clock start: cards claimed before it are not in flight
        self.flood_until = 0.0  # monotonic: Telegram asked us to wait until then
        self._worker_locks: dict[int, asyncio.Lock] = {}
        self.delivering: set[int] = set()  # assignments whose card is being sent now
        # user -> (message id, assignment id) of the card this process last put on their
        # screen: a tap on an older card in that message needs no second edit.
        self.shown: dict[int, tuple[int, int]] = {}

    def attach(self, repo: Repository, settings: Settings) -> None:
        """Give the handlers their repository and settings."""
        self._repo, self._settings = repo, settings
        self._quality = QualityStore(repo)
        self._inbox = Inbox(repo)

    @property
    def repo(self) -> Repository:
        """The repository (fails loudly if wiring forgot it)."""
        if self._repo is None:
            raise RuntimeError("BotData.attach() was not called")
        return self._repo

    @property
    def quality(self) -> QualityStore:
        """Gold tasks, exams, suspensions, reviews and checks."""
        if self._quality is None:
            raise RuntimeError("BotData.attach() was not called")
        return self._quality

    @property
    def inbox(self) -> Inbox:
        """Stored updates and the bot's runs."""
        if self._inbox is None:
            raise RuntimeError("BotData.attach() was not called")
        return self._inbox

    def worker_lock(self, user_id: int) -> asyncio.Lock:
        """Held while deciding and sending a worker's next card: one live card at a time,
        even when two of their updates are handled at once."""
        lock = self._worker_locks.get(user_id)
        if lock is None:
            lock = self._worker_locks[user_id] = asyncio.Lock()
        return lock

    @property
    def settings(self) -> Settings:
        """The runtime settings."""
        if self._settings is None:
            raise RuntimeError("BotData.attach() was not called")
        return self._settings

    def is_admin(self, user_id: int) -> bool:
        """Whether the user is an admin from the settings."""
        return user_id in self.settings.admins


# ExtBot[Any]: the rate limiter's argument type differs between real and test wiring.
Context = CallbackContext[ExtBot[Any], dict[str, object], dict[str, object], BotData]


async def language_of(data: BotData, user_id: int) -> str:
    """The language to write to a user in: the one they use here (chosen, or their Telegram
    app's when they joined); English for someone the bot never met. The one place that
    decides it: handlers ask `lang_of` (cached per user), notices and jobs ask this."""
    worker = await data.repo.get_worker(user_id)
    return worker.language if worker is not None else "en"


async def lang_of(context: Context, user: User) -> str:
    """The language of the user behind an update, worked out once and cached for their next
    updates (a change of language updates the cache); the database is the truth."""
    cache = context.user_data
    cached = cache.get("lang") if cache is not None else None
    if isinstance(cached, str):
        return cached
    worker = await context.bot_data.repo.get_worker(user.id)
    if worker is not None:
        lang = worker.language
    else:  # not met yet: as their Telegram app is set (what upsert_worker stores, too)
        lang = "ko" if (user.language_code or "").lower().startswith("ko") else "en"
    if cache is not None:
        cache["lang"] = lang
    return lang
