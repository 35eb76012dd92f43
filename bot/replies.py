"""Questions the bot asks in chat ("send your note", "send the corrected text"): the user's
next plain text message answers them.

The question itself is stored (`pending_replies`, see storage.problem_reports), so it
survives a restart; `ReplyHandler` keeps a copy of who is being asked in memory, because a
handler decides synchronously whether an update is its own: text from anyone else goes on to
the handlers after it (menus' hints, a broadcast being written). Loaded at start-up
(`load_waiting`), kept up to date by `expect_reply` and `reply_done`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.ext import Application, BaseHandler

from bot.context import Context
from storage.problem_reports import REPLY_TTL_S

ReplyCallback = Callable[[Update, Context], Coroutine[Any, Any, None]]


class ReplyHandler(BaseHandler[Update, Context, None]):
    """Plain text (no command) in a private chat from a user the bot asked something."""

    def __init__(self, callback: ReplyCallback) -> None:
        """`callback` handles the answer."""
        super().__init__(callback)
        self.waiting: dict[int, float] = {}  # user id -> when they were asked

    def check_update(self, update: object) -> bool:
        """Whether this is an answer to a question still open."""
        if not isinstance(update, Update) or update.message is None:
            return False
        message, user = update.message, update.effective_user
        if user is None or not message.text or message.text.startswith("/"):
            return False
        if message.chat.type != "private":
            return False
        asked = self.waiting.get(user.id)
        return asked is not None and asked > time.time() - REPLY_TTL_S


class MovedOn(BaseHandler[Update, Context, None]):
    """A command from a user the bot asked something: they moved on, so the question is
    dropped (`drop_question`) and their next text is not taken as its answer (a broadcast
    they start writing, say). Runs in a group of its own before the others (MOVED_ON_GROUP),
    so the command is handled as well."""

    def __init__(self, replies: ReplyHandler, callback: ReplyCallback) -> None:
        """`replies`: the handler whose questions this one drops."""
        super().__init__(callback)
        self.replies = replies

    def check_update(self, update: object) -> bool:
        """Whether this is a command from someone with a question open."""
        if not isinstance(update, Update) or update.message is None:
            return False
        message, user = update.message, update.effective_user
        if user is None or not (message.text or "").startswith("/"):
            return False
        return user.id in self.replies.waiting


MOVED_ON_GROUP = -1


async def drop_question(update: Update, context: Context) -> None:
    """`MovedOn`'s callback: forget the user's open question (twice is harmless)."""
    if (user := update.effective_user) is not None:
        await context.bot_data.repo.drop_reply(user.id)
        reply_done(context, user.id)


def _handler(application: Application) -> ReplyHandler | None:  # type: ignore[type-arg]
    for group in application.handlers.values():
        for handler in group:
            if isinstance(handler, ReplyHandler):
                return handler
    return None


def expect_reply(context: Context, user_id: int, asked: float | None = None) -> None:
    """The user's next text message answers the question just stored for them."""
    handler = _handler(context.application)
    if handler is not None:
        handler.waiting[user_id] = time.time() if asked is None else asked


def reply_done(context: Context, user_id: int) -> None:
    """The user answered (or the question was cancelled): their text goes elsewhere again."""
    handler = _handler(context.application)
    if handler is not None:
        handler.waiting.pop(user_id, None)


async def load_waiting(application: Application) -> None:  # type: ignore[type-arg]
    """At start-up, before stored updates are replayed (they are judged by it): who was asked
    something before the restart."""
    handler = _handler(application)
    if handler is not None:
        handler.waiting.update(await application.bot_data.repo.awaiting_users())
