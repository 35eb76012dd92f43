"""Updates survive a crash: the inbox of updates, the effects ledger and the run record.

Telegram re-delivers an update until a later getUpdates confirms it. The bot stores each batch
here first and confirms it only then, so a `kill -9` loses nothing it was sent; an update is
marked handled once its handler ran, and the unhandled ones are handed to the handlers again
at the next start. Replays are therefore normal, and every handler that writes must have the
effect of once: most writes are idempotent by themselves (a label is stored only on an open
assignment), and the others record what they did in `update_effects`, in the same
transaction as the effect (`storage.effects`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from storage.effects import once, remember
from storage.repository import Repository

# Telegram keeps an unconfirmed update for 24 hours; what is older can never come back.
KEEP_S = 2 * 86400.0


@dataclass(frozen=True)
class PreviousRun:
    """How the last run of the bot ended, read when a new one starts."""

    started_at: float
    alive_at: float  # the last heartbeat
    clean: bool  # False: killed, crashed or the machine went down


class Inbox:
    """The stored updates and the bot's runs, over the repository's connection."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo

    async def store(
        self, updates: Sequence[tuple[int, str]], now: float | None = None
    ) -> set[int]:
        """Keep a batch of (update_id, JSON); the ids that were new (the others are replays)."""
        if not updates:
            return set()
        now = time.time() if now is None else now
        new: set[int] = set()
        async with self.repo.transaction() as db:
            for update_id, data in updates:
                cur = await db.execute(
                    "INSERT OR IGNORE INTO inbox (update_id, data, received_at) VALUES (?, ?, ?)",
                    (update_id, data, now),
                )
                if cur.rowcount:
                    new.add(update_id)
        return new

    async def pending(self) -> list[tuple[int, str]]:
        """Stored updates no handler finished, oldest first (after a crash)."""
        rows = await self.repo.all(
            "SELECT update_id, data FROM inbox WHERE handled_at IS NULL ORDER BY update_id"
        )
        return [(int(r[0]), str(r[1])) for r in rows]

    async def mark_handled(self, update_id: int, now: float | None = None) -> None:
        """The update's handler ran (whatever it decided): it is not handed out again."""
        await self.repo.write(
            "UPDATE inbox SET handled_at = ? WHERE update_id = ? AND handled_at IS NULL",
            (time.time() if now is None else now, update_id),
        )

    async def effect(self, update_id: int, step: str) -> Any | None:
        """What `step` of this update did, if it ran (for effects outside one transaction)."""
        async with self.repo.transaction() as db:
            return await once(db, update_id, step)

    async def record_effect(self, update_id: int, step: str, result: Any) -> None:
        """Remember what `step` of this update did, right after it did it."""
        async with self.repo.transaction() as db:
            await remember(db, update_id, step, result, time.time())

    async def prune(self, now: float | None = None) -> int:
        """Forget handled updates and effects older than Telegram could re-deliver them."""
        cutoff = (time.time() if now is None else now) - KEEP_S
        async with self.repo.transaction() as db:
            cur = await db.execute(
                "DELETE FROM inbox WHERE handled_at IS NOT NULL AND handled_at < ?", (cutoff,)
            )
            await db.execute("DELETE FROM update_effects WHERE at < ?", (cutoff,))
            return int(cur.rowcount)

    # ---------------------------------------------------------------- runs

    async def begin_run(self, now: float | None = None) -> tuple[int, PreviousRun | None]:
        """Record a start: (this run's id, how the previous run ended, if there was one)."""
        now = time.time() if now is None else now
        async with self.repo.transaction() as db:
            async with db.execute(
                "SELECT started_at, alive_at, stopped_at FROM runs ORDER BY id DESC LIMIT 1"
            ) as cur:
                row = await cur.fetchone()
            cur = await db.execute(
                "INSERT INTO runs (started_at, alive_at) VALUES (?, ?)", (now, now)
            )
            run_id = int(cur.lastrowid or 0)
        previous = (
            None
            if row is None
            else PreviousRun(started_at=row[0], alive_at=row[1], clean=row[2] is not None)
        )
        return run_id, previous

    async def alive(self, run_id: int, now: float | None = None) -> None:
        """A heartbeat: after a crash, the last one tells how long the bot was down."""
        await self.repo.write(
            "UPDATE runs SET alive_at = ? WHERE id = ?",
            (time.time() if now is None else now, run_id),
        )

    async def end_run(self, run_id: int, now: float | None = None) -> None:
        """A clean stop."""
        now = time.time() if now is None else now
        async with self.repo.transaction() as db:
            await db.execute(
                "UPDATE runs SET alive_at = ?, stopped_at = ? WHERE id = ?", (now, now, run_id)
            )
