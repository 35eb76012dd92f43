"""Chat state: private chats with the messages of both sides as they are now, button presses.

A message is stored as the Message object the Bot API returns, and changed in place by edits,
so that the bot, a callback query and a simulated user all see its current state.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

from sandbox.wire import JSON


class Signal:
    """Wakes every waiter at once; each waiter then re-checks its own condition."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake everyone waiting now."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, seconds: float) -> None:
        """Wait for the next notify, at most ``seconds``."""
        if seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._event.wait()


@dataclass
class Chat:
    """A private chat: the user, the messages of both sides, and the chat's flags."""

    user: JSON
    chat_instance: str
    messages: dict[int, JSON] = field(default_factory=dict)
    last_message_id: int = 0
    started: bool = False  # the user wrote to the bot at least once
    blocked: bool = False
    signal: Signal = field(default_factory=Signal)  # a bot message was posted or changed

    @property
    def chat_id(self) -> int:
        """Return the chat's id, the user's id in a private chat."""
        chat_id: int = self.user["id"]
        return chat_id

    @property
    def info(self) -> JSON:
        """Return the Chat object."""
        chat: JSON = {"id": self.user["id"], "type": "private"}
        for key in ("first_name", "last_name", "username"):
            if key in self.user:
                chat[key] = self.user[key]
        return chat

    def next_message_id(self) -> int:
        """Return the next message id; users and the bot share one sequence per private chat."""
        self.last_message_id += 1
        return self.last_message_id


def callback_buttons(message: JSON) -> list[list[str]]:
    """Return the [text, callback_data] of a message's inline callback buttons, row by row."""
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [
        [button["text"], button["callback_data"]]
        for row in rows
        for button in row
        if "callback_data" in button
    ]


@dataclass
class CallbackQuery:
    """A button press and the bot's answer to it."""

    chat_id: int
    pressed: float = field(default_factory=time.monotonic)  # when the user pressed
    answered: bool = False
    text: str | None = None
    show_alert: bool = False
    url: str | None = None
