"""The persistent outbox: one row per recipient of a broadcast or a mass notice, marked when
Telegram confirms it, so that a restart resumes with nothing lost.

A row's life: 'queued' -> 'sending' (claimed just before its one Bot API call, so only the
few messages in flight are ever 'sending') -> 'sent' | 'unreachable' (403: the user blocked
the bot) | 'failed' (refused for good, or too many attempts) | back to 'queued' (a flood
limit or a network error, with a later `next_at`). A row found 'sending' at start was in
flight when the bot died: Telegram may or may not have delivered it, and sendMessage has no
idempotency key, so it goes again flagged `maybe_twice` and is counted as a possible
duplicate in its broadcast's report.

A broadcast: 'compose' (waiting for the coordinator's message) -> 'draft' (message and
audience being chosen) -> 'sending' (its rows queued, in the same transaction as the status
change, so Send pressed twice queues nothing twice) -> 'done' or 'cancelled'; a draft given
up is 'dropped'.
"""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import BaseModel

from storage.db import Database
from storage.effects import once, remember
from storage.workers import IDLE_WITH_WORK_SQL

DAY_S = 86400.0
AUDIENCE_DAYS = (1, 7, 30)  # the "active/idle in the last N days" choices
LANGS = ("en", "ko")
COMPOSE_TTL_S = 3600.0  # a /broadcast left waiting for its message this long is given up
MAX_ATTEMPTS = 5  # network failures before a row is 'failed'
FINAL = ("sent", "unreachable", "failed", "cancelled")
OPEN_BROADCASTS = ("compose", "draft")


def audience_ok(audience: str) -> bool:
    """Whether `audience` is one this module can select ('all', 'active:7', 'lang:ko', ...)."""
    kind, _, arg = audience.partition(":")
    if kind in ("all", "reviewers"):
        return not arg
    if kind in ("active", "idle"):
        return arg.isdigit() and int(arg) in AUDIENCE_DAYS
    return kind == "lang" and arg in LANGS


def _audience_sql(audience: str, now: float) -> tuple[str, tuple[Any, ...]]:
    """The WHERE clause (over memberships m JOIN workers w) that selects an audience."""
    kind, _, arg = audience.partition(":")
    base = "w.erased_at IS NULL AND w.id > 0 AND "
    if kind == "all":
        return base + "m.role = 'worker'", ()
    if kind == "reviewers":
        return base + "m.role = 'reviewer'", ()
    if kind == "lang":
        return base + "m.role = 'worker' AND w.language = ?", (arg,)
    since = now - int(arg) * DAY_S
    labeled = (
        "EXISTS (SELECT 1 FROM labels AS l WHERE l.worker_id = m.worker_id"
        " AND l.answered_at >= ? AND l.project_id = m.project_id AND l.retracted_at IS NULL)"
    )
    if kind == "active":
        return base + f"m.role = 'worker' AND {labeled}", (since,)
    return base + f"m.role = 'worker' AND NOT {labeled}", (since,)


class Broadcast(BaseModel):
    """A broadcast and how far its delivery got."""

    id: int
    project_id: int
    sender_id: int
    status: str
    from_chat_id: int | None
    message_id: int | None
    audience: str | None
    total: int
    created_at: float
    started_at: float | None
    finished_at: float | None
    sent: int = 0
    unreachable: int = 0
    failed: int = 0
    cancelled: int = 0
    waiting: int = 0  # queued or in flight
    maybe_twice: int = 0  # sent again after a crash caught them in flight

    @property
    def seconds(self) -> float:
        """Time taken (so far)."""
        if self.started_at is None:
            return 0.0
        return (self.finished_at or time.time()) - self.started_at


class OutboxRow(BaseModel):
    """One message to send."""

    id: int
    broadcast_id: int | None
    chat_id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    from_chat_id: int | None = None  # a broadcast's message
    message_id: int | None = None


_BROADCAST_COLS = (
    "b.id, b.project_id, b.sender_id, b.status, b.from_chat_id, b.message_id, b.audience,"
    " b.total, b.created_at, b.started_at, b.finished_at"
)
_FINISHED_SQL = (
    "SELECT b.id FROM broadcasts AS b WHERE b.status = 'sending' AND NOT EXISTS"
    " (SELECT 1 FROM outbox AS o WHERE o.broadcast_id = b.id"
    " AND o.status IN ('queued', 'sending'))"
)
_PROGRESS_SQL = (
    "SELECT status, COUNT(*), SUM(maybe_twice) FROM outbox WHERE broadcast_id = ? GROUP BY status"
)


class Outbox(Database):
    """Broadcasts and the outbox rows that deliver them and every mass notice."""

    # ------------------------------------------------------------ broadcasts

    async def broadcast_compose(
        self, project_id: int, sender_id: int, now: float, *, update_id: int | None = None
    ) -> int:
        """A new broadcast waiting for its message; the sender's earlier unsent ones are
        dropped (one draft at a time). The same update again gets the same broadcast."""
        async with self.transaction() as db:
            done = await once(db, update_id, "broadcast.compose")
            if done is not None:
                return int(done)
            await db.execute(
                "UPDATE broadcasts SET status = 'dropped' WHERE sender_id = ?"
                " AND status IN ('compose', 'draft')",
                (sender_id,),
            )
            cur = await db.execute(
                "INSERT INTO broadcasts (project_id, sender_id, status, created_at)"
                " VALUES (?, ?, 'compose', ?)",
                (project_id, sender_id, now),
            )
            broadcast_id = int(cur.lastrowid or 0)
            await remember(db, update_id, "broadcast.compose", broadcast_id, now)
            return broadcast_id

    async def composing_since(self, now: float) -> dict[int, float]:
        """Senders whose broadcast waits for its message: {sender: when they were asked}."""
        rows = await self.all(
            "SELECT sender_id, MAX(created_at) FROM broadcasts WHERE status = 'compose'"
            " AND created_at > ? GROUP BY sender_id",
            (now - COMPOSE_TTL_S,),
        )
        return {int(r[0]): float(r[1]) for r in rows}

    async def drafts_awaiting_audience(self) -> dict[int, int]:
        """{sender: message id} of the open drafts whose audience is not chosen yet."""
        rows = await self.all(
            "SELECT sender_id, message_id FROM broadcasts WHERE status = 'draft'"
            " AND audience IS NULL AND message_id IS NOT NULL"
        )
        return {int(r[0]): int(r[1]) for r in rows}

    async def draft_of_message(self, sender_id: int, chat_id: int, message_id: int) -> int | None:
        """The sender's open draft made of this message (it was taken already: the same
        update handled again), or None."""
        row = await self.one(
            "SELECT id FROM broadcasts WHERE sender_id = ? AND from_chat_id = ?"
            " AND message_id = ? AND status = 'draft'",
            (sender_id, chat_id, message_id),
        )
        return None if row is None else int(row[0])

    async def composing(self, now: float) -> dict[int, int]:
        """Senders whose broadcast waits for its message: {sender: broadcast id}."""
        rows = await self.all(
            "SELECT sender_id, MAX(id) FROM broadcasts WHERE status = 'compose'"
            " AND created_at > ? GROUP BY sender_id",
            (now - COMPOSE_TTL_S,),
        )
        return {int(r[0]): int(r[1]) for r in rows}

    async def broadcast_message(
        self, broadcast_id: int, sender_id: int, from_chat_id: int, message_id: int
    ) -> bool:
        """Take the sender's message for a composing broadcast (False if it was not one)."""
        changed = await self.write(
            "UPDATE broadcasts SET status = 'draft', from_chat_id = ?, message_id = ?"
            " WHERE id = ? AND sender_id = ? AND status = 'compose'",
            (from_chat_id, message_id, broadcast_id, sender_id),
        )
        return changed == 1

    async def broadcast_audience(self, broadcast_id: int, sender_id: int, audience: str) -> bool:
        """Choose a draft's audience (False if it is no longer a draft of this sender)."""
        if not audience_ok(audience):
            return False
        changed = await self.write(
            "UPDATE broadcasts SET audience = ? WHERE id = ? AND sender_id = ?"
            " AND status = 'draft'",
            (audience, broadcast_id, sender_id),
        )
        return changed == 1

    async def broadcast_drop(self, broadcast_id: int, sender_id: int) -> bool:
        """Give up a draft (False if it was sent, dropped already, or not this sender's)."""
        changed = await self.write(
            "UPDATE broadcasts SET status = 'dropped' WHERE id = ? AND sender_id = ?"
            " AND status IN ('compose', 'draft')",
            (broadcast_id, sender_id),
        )
        return changed == 1

    async def audience_count(self, project_id: int, audience: str, now: float) -> int:
        """How many recipients an audience has now."""
        where, params = _audience_sql(audience, now)
        row = await self.one(
            "SELECT COUNT(*) FROM memberships AS m JOIN workers AS w ON w.id = m.worker_id"
            f" WHERE m.project_id = ? AND {where}",
            (project_id, *params),
        )
        return int(row[0]) if row else 0

    async def broadcast_start(
        self, broadcast_id: int, sender_id: int, now: float, *, audience: str
    ) -> int | None:
        """Queue one row per recipient of a draft and mark it sending, in one transaction:
        the number of recipients, or None when it is not a draft whose audience is still
        `audience` (the one its preview counted), or was sent already (a second press or a
        replay queues nothing)."""
        async with self.transaction() as db:
            async with db.execute(
                "SELECT project_id, audience FROM broadcasts WHERE id = ? AND sender_id = ?"
                " AND status = 'draft' AND audience = ? AND message_id IS NOT NULL",
                (broadcast_id, sender_id, audience),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                return None
            project_id, audience = int(row[0]), str(row[1])
            where, params = _audience_sql(audience, now)
            cur = await db.execute(
                "INSERT INTO outbox (broadcast_id, chat_id, kind, next_at, created_at)"
                " SELECT ?, m.worker_id, 'copy', ?, ? FROM memberships AS m"
                " JOIN workers AS w ON w.id = m.worker_id"
                f" WHERE m.project_id = ? AND {where} ORDER BY m.worker_id",
                (broadcast_id, now, now, project_id, *params),
            )
            total = int(cur.rowcount)
            await db.execute(
                "UPDATE broadcasts SET status = 'sending', total = ?, started_at = ? WHERE id = ?",
                (total, now, broadcast_id),
            )
            await db.execute(
                "INSERT INTO events (at, actor, project_id, kind, data)"
                " VALUES (?, ?, ?, 'broadcast.sent', json_object('broadcast', ?, 'audience', ?,"
                " 'recipients', ?))",
                (now, sender_id, project_id, broadcast_id, audience, total),
            )
        return total

    async def broadcast_cancel(self, broadcast_id: int, now: float) -> int | None:
        """Stop a running broadcast: its queued rows are cancelled (those in flight finish).
        The number cancelled, or None when it was not running."""
        async with self.transaction() as db:
            cur = await db.execute(
                "UPDATE broadcasts SET status = 'cancelled', finished_at = ?"
                " WHERE id = ? AND status = 'sending'",
                (now, broadcast_id),
            )
            if cur.rowcount != 1:
                return None
            cur = await db.execute(
                "UPDATE outbox SET status = 'cancelled', done_at = ?"
                " WHERE broadcast_id = ? AND status = 'queued'",
                (now, broadcast_id),
            )
            count = int(cur.rowcount)
            await self._queue_report(db, broadcast_id, now)
        return count

    async def get_broadcast(self, broadcast_id: int) -> Broadcast | None:
        """A broadcast with its delivery counts."""
        row = await self.one(
            f"SELECT {_BROADCAST_COLS} FROM broadcasts AS b WHERE id = ?", (broadcast_id,)
        )
        if row is None:
            return None
        return await self._with_progress(row)

    async def recent_broadcasts(self, project_ids: list[int], limit: int = 10) -> list[Broadcast]:
        """The newest broadcasts that were sent in these projects, with their progress."""
        if not project_ids:
            return []
        marks = ",".join("?" * len(project_ids))
        rows = await self.all(
            f"SELECT {_BROADCAST_COLS} FROM broadcasts AS b WHERE b.project_id IN ({marks})"
            " AND b.status IN ('sending', 'done', 'cancelled') ORDER BY b.id DESC LIMIT ?",
            (*project_ids, limit),
        )
        return [await self._with_progress(r) for r in rows]

    async def _with_progress(self, row: Any) -> Broadcast:
        keys = [
            "id",
            "project_id",
            "sender_id",
            "status",
            "from_chat_id",
            "message_id",
            "audience",
            "total",
            "created_at",
            "started_at",
            "finished_at",
        ]
        found = Broadcast(**dict(zip(keys, row, strict=True)))
        for status, count, twice in await self.all(_PROGRESS_SQL, (found.id,)):
            found.maybe_twice += int(twice or 0)
            if status in ("queued", "sending"):
                found.waiting += int(count)
            else:
                setattr(found, str(status), int(count))
        return found

    async def finish_broadcasts(self, now: float) -> list[int]:
        """Mark done the sending broadcasts with nothing left to send, and queue each one's
        delivery report to its sender (once: the report row has a key)."""
        # Asked often (the sender's loop): a read without the write lock first.
        if await self.one(_FINISHED_SQL + " LIMIT 1") is None:
            return []
        async with self.transaction() as db:
            async with db.execute(_FINISHED_SQL) as cur:
                done = [int(r[0]) for r in await cur.fetchall()]
            for broadcast_id in done:
                await db.execute(
                    "UPDATE broadcasts SET status = 'done', finished_at = ? WHERE id = ?",
                    (now, broadcast_id),
                )
                await self._queue_report(db, broadcast_id, now)
        return done

    async def _queue_report(self, db: Any, broadcast_id: int, now: float) -> None:
        await db.execute(
            "INSERT OR IGNORE INTO outbox (chat_id, kind, payload, dedup, next_at, created_at)"
            " SELECT sender_id, 'broadcast_report', json_object('broadcast', id), ?, ?, ?"
            " FROM broadcasts WHERE id = ?",
            (f"report:{broadcast_id}", now, now, broadcast_id),
        )

    # ------------------------------------------------------------ notices

    async def queue_notices(
        self,
        chat_ids: list[int],
        kind: str,
        payload: dict[str, Any],
        now: float,
        *,
        once: str | None = None,
        merge: str | None = None,
    ) -> int:
        """Queue one notice per chat; the number queued.

        once: a key (the chat id is added) under which the notice goes only ever once (a
        guide version). merge: a key under which a notice still waiting takes the new
        payload instead of a second row being queued (reviews waiting: one notice, the
        latest count).
        """
        text = json.dumps(payload, sort_keys=True)
        count = 0
        async with self.transaction() as db:
            for chat_id in chat_ids:
                if merge is not None:
                    cur = await db.execute(
                        "INSERT INTO outbox (chat_id, kind, payload, dedup, next_at, created_at)"
                        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (dedup) DO UPDATE"
                        " SET payload = excluded.payload WHERE status = 'queued'",
                        (chat_id, kind, text, f"~{merge}:{chat_id}", now, now),
                    )
                else:
                    key = None if once is None else f"{once}:{chat_id}"
                    cur = await db.execute(
                        "INSERT OR IGNORE INTO outbox"
                        " (chat_id, kind, payload, dedup, next_at, created_at)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        (chat_id, kind, text, key, now, now),
                    )
                count += cur.rowcount
        return count

    async def queue_idle_with_work(self, kind: str, now: float) -> int:
        """Queue a `kind` notice (payload: project) to each worker told "all done" who has
        work again, and clear their idle flag, in one transaction; the number queued."""
        async with self.transaction() as db:
            async with db.execute(IDLE_WITH_WORK_SQL) as cur:
                pairs = [(int(r[0]), int(r[1])) for r in await cur.fetchall()]
            for worker_id, project_id in pairs:
                await db.execute(
                    "UPDATE memberships SET idle_since = NULL WHERE worker_id = ?"
                    " AND project_id = ?",
                    (worker_id, project_id),
                )
                await db.execute(
                    "INSERT INTO outbox (chat_id, kind, payload, next_at, created_at)"
                    " VALUES (?, ?, json_object('project', ?), ?, ?)",
                    (worker_id, kind, project_id, now, now),
                )
        return len(pairs)

    async def announce_guides(self, kind: str, now: float) -> int:
        """Queue a `kind` notice (payload: project, version) to every worker of each project
        whose guide version is newer than the one last announced, once per version (the
        `once` key survives a crash between queueing and marking). New projects are
        recorded without a notice. The number of notices queued."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT OR IGNORE INTO guide_announced (project_id, version)"
                " SELECT id, guide_version FROM projects"
            )
            async with db.execute(
                "SELECT p.id, p.guide_version FROM projects AS p JOIN guide_announced AS g"
                " ON g.project_id = p.id WHERE p.guide_version > g.version"
            ) as cur:
                changed = [(int(r[0]), int(r[1])) for r in await cur.fetchall()]
            count = 0
            for project_id, version in changed:
                payload = json.dumps({"project": project_id, "version": version})
                cur = await db.execute(
                    "INSERT OR IGNORE INTO outbox"
                    " (chat_id, kind, payload, dedup, next_at, created_at)"
                    " SELECT m.worker_id, ?, ?, 'guide:' || ? || ':' || ? || ':' || m.worker_id,"
                    " ?, ? FROM memberships AS m JOIN workers AS w ON w.id = m.worker_id"
                    " WHERE m.project_id = ? AND m.role = 'worker' AND w.erased_at IS NULL",
                    (kind, payload, project_id, version, now, now, project_id),
                )
                count += cur.rowcount
                await db.execute(
                    "UPDATE guide_announced SET version = ? WHERE project_id = ?",
                    (version, project_id),
                )
        return count

    # ------------------------------------------------------------ the sender's side

    async def outbox_recover(self) -> int:
        """Rows left 'sending' by a crash go again, flagged as possible duplicates; their
        number."""
        return await self.write(
            "UPDATE outbox SET status = 'queued', maybe_twice = 1 WHERE status = 'sending'"
        )

    async def outbox_due(self, now: float, limit: int, after: int = 0) -> list[OutboxRow]:
        """Queued rows whose time has come, oldest first (from id `after` on)."""
        rows = await self.all(
            "SELECT o.id, o.broadcast_id, o.chat_id, o.kind, o.payload, o.attempts,"
            " b.from_chat_id, b.message_id FROM outbox AS o"
            " LEFT JOIN broadcasts AS b ON b.id = o.broadcast_id"
            " WHERE o.status = 'queued' AND o.id > ? AND o.next_at <= ? ORDER BY o.id LIMIT ?",
            (after, now, limit),
        )
        return [
            OutboxRow(
                id=r[0],
                broadcast_id=r[1],
                chat_id=r[2],
                kind=r[3],
                payload=json.loads(r[4]),
                attempts=r[5],
                from_chat_id=r[6],
                message_id=r[7],
            )
            for r in rows
        ]

    async def outbox_claim(self, row_id: int) -> bool:
        """Mark a row in flight just before its Bot API call (False: no longer queued, e.g.
        its broadcast was cancelled)."""
        changed = await self.write(
            "UPDATE outbox SET status = 'sending', attempts = attempts + 1"
            " WHERE id = ? AND status = 'queued'",
            (row_id,),
        )
        return changed == 1

    async def outbox_done(
        self,
        row_id: int,
        status: str,
        now: float,
        *,
        message_id: int | None = None,
        error: str | None = None,
    ) -> None:
        """Record a row's outcome: sent (Telegram's message id), unreachable (the worker is
        marked so) or failed (why)."""
        if status not in FINAL:
            raise ValueError(f"not a final outbox status: {status}")
        # One statement (triggers mark the worker unreachable or reachable again); a merged
        # notice's key is freed once it is out: the next one is a new row.
        await self.write(
            "UPDATE outbox SET status = ?, done_at = ?, message_id = ?, error = ?,"
            " dedup = CASE WHEN dedup LIKE '~%' THEN NULL ELSE dedup END WHERE id = ?",
            (status, now, message_id, error, row_id),
        )

    async def outbox_retry(
        self, row_id: int, next_at: float, error: str, *, maybe_twice: bool = False
    ) -> None:
        """Put a row back in the queue for a later try (`maybe_twice`: the failed try may
        have been delivered, e.g. a timeout)."""
        await self.write(
            "UPDATE outbox SET status = 'queued', next_at = ?, error = ?,"
            " maybe_twice = MAX(maybe_twice, ?) WHERE id = ?",
            (next_at, error, int(maybe_twice), row_id),
        )

    async def outbox_counts(self) -> dict[str, int]:
        """Rows per status (for the benchmark and the logs)."""
        rows = await self.all("SELECT status, COUNT(*) FROM outbox GROUP BY status")
        return {str(r[0]): int(r[1]) for r in rows}
