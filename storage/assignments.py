"""Assignments: the card a worker holds, claiming the next one, the label tap, skip and
report, and cards that time out or never reached their worker (/undo: `storage.undo`).

The hot path (claim, tap) is a few single statements, each atomic by itself, under the
connection's lock; the triggers of migration 1 keep the samples' counters. The module-level
functions work on a connection the caller holds (`Database.locked`), in or out of an
`atomic` block, so that several of them can be composed into one transaction.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite

from storage.db import atomic, fetch_one
from storage.errors import StorageError
from storage.events import append_event
from storage.models import (
    Card,
    LabelOutcome,
    LabelStatus,
    Option,
    Project,
)
from storage.projects import Projects
from storage.samples import SAMPLE_COLS, Samples, sample_of

# The next sample for a worker: walk the pick index in priority order (fewest labels still
# needed first, so started samples finish), skipping samples this worker was ever shown.
_PICK = """
FROM samples AS s
WHERE s.project_id = :project AND s.need > 0
  AND NOT EXISTS (SELECT 1 FROM assignments AS a
                  WHERE a.sample_id = s.id AND a.worker_id = :worker)
ORDER BY s.need, s.id
LIMIT 1
"""
PICK_SQL = "SELECT s.id" + _PICK
# Pick and claim in one statement: nothing can take the sample in between.
CLAIM_SQL = (
    "INSERT INTO assignments (sample_id, project_id, worker_id, status, shown_at, expires_at)"
    " SELECT s.id, s.project_id, :worker, 'open', :now, :expires"
    + _PICK
    + " RETURNING id, sample_id, expires_at"
)
# A gold (control) sample this worker has not seen, least used first.
GOLD_CLAIM_SQL = """
INSERT INTO assignments (sample_id, project_id, worker_id, status, shown_at, expires_at)
SELECT s.id, s.project_id, :worker, 'open', :now, :expires
FROM samples AS s
WHERE s.project_id = :project AND s.gold = 1
  AND NOT EXISTS (SELECT 1 FROM assignments AS a
                  WHERE a.sample_id = s.id AND a.worker_id = :worker)
ORDER BY s.n_labels, s.id
LIMIT 1
RETURNING id, sample_id, expires_at
"""
DUE_SQL = "SELECT 1 FROM assignments WHERE status = 'open' AND expires_at <= ? LIMIT 1"
# A label is one UPDATE; triggers add the label row, the counters and the audit event.
ANSWER_SQL = """
UPDATE assignments SET status = 'done', closed_at = :now, answer_update = :update,
    option_id = (SELECT o.id FROM options AS o
                 WHERE o.project_id = assignments.project_id AND o.idx = :idx)
WHERE id = :assignment AND worker_id = :worker AND status = 'open' AND expires_at > :now
  AND EXISTS (SELECT 1 FROM options AS o WHERE o.project_id = assignments.project_id
              AND o.idx = :idx)
  AND NOT EXISTS (SELECT 1 FROM labels AS l WHERE l.assignment_id = :assignment
                  AND l.update_id = :update)
RETURNING project_id, option_id
"""

SWEEP_EVERY_S = 1.0  # timed-out cards are returned before a claim at most this often

Claimed = tuple[int, int, float, int | None]  # (assignment, sample, expires_at, message_id)
OptionsOf = Callable[[int], Awaitable[tuple[Option, ...]]]  # project id -> its options


async def expire(db: aiosqlite.Connection, now: float) -> int:
    """Return timed-out assignments to the pool (in the caller's transaction); how many."""
    cur = await db.execute(
        "UPDATE assignments SET status = 'expired', closed_at = ?"
        " WHERE status = 'open' AND expires_at <= ?",
        (now, now),
    )
    count = cur.rowcount
    if count > 0:
        await append_event(db, "assignments.expired", None, None, {"count": count}, now)
    return count


async def claim(
    db: aiosqlite.Connection, project: Project, user_id: int, now: float, gold: str = "no"
) -> Claimed | None:
    """Claim the worker's next sample in the project, or find the card they hold already.

    gold: "no" (the pick index only), "first" (a gold sample if one is left, else the pick
    index) or "only" (an exam: gold samples only). None: nothing is left for them.
    """
    params = {
        "project": project.id,
        "worker": user_id,
        "now": now,
        "expires": now + project.assignment_timeout,
    }
    try:
        claimed: Any = []
        if gold != "no":
            claimed = await db.execute_fetchall(GOLD_CLAIM_SQL, params)
        if not claimed and gold != "only":
            claimed = await db.execute_fetchall(CLAIM_SQL, params)
    except sqlite3.IntegrityError:
        # The worker already holds an open card here (one at a time): show it again.
        claimed = await db.execute_fetchall(
            "SELECT id, sample_id, expires_at, message_id FROM assignments"
            " WHERE worker_id = ? AND project_id = ? AND status = 'open'",
            (user_id, project.id),
        )
    row = next(iter(claimed), None)
    if row is None:
        return None
    return row[0], row[1], row[2], row[3] if len(row) > 3 else None


async def answer(
    db: aiosqlite.Connection,
    assignment_id: int,
    user_id: int,
    option_idx: int,
    now: float,
    update_id: int | None = None,
) -> tuple[int, int] | None:
    """Store a tapped label: (project id, option id), or None if nothing was stored (see
    `why_not_recorded`). One statement: atomic by itself, or part of the caller's block."""
    params = {
        "assignment": assignment_id,
        "worker": user_id,
        "idx": option_idx,
        "now": now,
        "update": update_id,
    }
    row = next(iter(await db.execute_fetchall(ANSWER_SQL, params)), None)
    return None if row is None else (int(row[0]), int(row[1]))


async def why_not_recorded(
    db: aiosqlite.Connection,
    options_of: OptionsOf,
    assignment_id: int,
    user_id: int,
    option_idx: int,
    now: float,
    update_id: int | None = None,
) -> LabelOutcome:
    """Explain a tap that `answer` did not store (an expired card is closed on the way)."""
    row = await fetch_one(
        db,
        "SELECT project_id, worker_id, status, expires_at, option_id FROM assignments"
        " WHERE id = ?",
        (assignment_id,),
    )
    if row is None or row[1] != user_id:
        return LabelOutcome(status=LabelStatus.NOT_YOURS)
    project_id, _, status, expires_at, option_id = row
    options = await options_of(project_id)
    if status == "done":
        chosen = next((o for o in options if o.id == option_id), None)
        return LabelOutcome(status=LabelStatus.DUPLICATE, project_id=project_id, option=chosen)
    if status != "open":
        closed = LabelStatus.EXPIRED if status == "expired" else LabelStatus.CLOSED
        return LabelOutcome(status=closed, project_id=project_id)
    if not 0 <= option_idx < len(options):
        return LabelOutcome(status=LabelStatus.BAD_OPTION, project_id=project_id)
    if update_id is not None:
        given = await fetch_one(
            db,
            "SELECT option_id FROM labels WHERE assignment_id = ? AND update_id = ?",
            (assignment_id, update_id),
        )
        if given is not None:  # this tap's label was given, then taken back with /undo
            chosen = next((o for o in options if o.id == given[0]), None)
            return LabelOutcome(status=LabelStatus.DUPLICATE, project_id=project_id, option=chosen)
    if expires_at <= now:
        await db.execute(
            "UPDATE assignments SET status = 'expired', closed_at = ?"
            " WHERE id = ? AND status = 'open'",
            (now, assignment_id),
        )
        return LabelOutcome(status=LabelStatus.EXPIRED, project_id=project_id)
    raise StorageError(f"assignment {assignment_id}: label not stored for an unknown reason")


class Assignments(Projects, Samples):
    """Cards: claiming, answering, closing, taking back, timing out."""

    def __init__(self, path: Path | str) -> None:
        """See `Database`."""
        super().__init__(path)
        self._sweep_due = 0.0

    async def next_card(
        self, user_id: int, project_id: int, now: float | None = None, *, gold: str = "no"
    ) -> Card | None:
        """The worker's open card in the project, or a newly assigned one; None if none is left.

        gold: "no" (the pick index only), "first" (a gold sample if one is left, else the pick
        index) or "only" (an exam: gold samples only).
        """
        now = time.time() if now is None else now
        project = await self.get_project(project_id)
        async with self.locked() as db:
            if now >= self._sweep_due:
                # Timed-out cards go back to the pool before picking (at most once a second;
                # the scheduled job covers quiet times).
                self._sweep_due = now + SWEEP_EVERY_S
                if await fetch_one(db, DUE_SQL, (now,)):  # cheap probe; the sweep writes
                    async with atomic(db):
                        await expire(db, now)
            claimed = await claim(db, project, user_id, now, gold)
            if claimed is None:
                return None
            assignment_id, sample_id, expires_at, message_id = claimed
            srow = await fetch_one(
                db, f"SELECT {SAMPLE_COLS} FROM samples WHERE id = ?", (sample_id,)
            )
        assert srow is not None
        return Card(
            assignment_id=assignment_id,
            project=project,
            sample=sample_of(srow),
            options=await self.options(project_id),
            expires_at=expires_at,
            message_id=message_id,
        )

    async def record_label(
        self,
        assignment_id: int,
        user_id: int,
        option_idx: int,
        now: float | None = None,
        *,
        update_id: int | None = None,
    ) -> LabelOutcome:
        """Store a tapped label if the assignment is this worker's, open and unexpired.

        With `update_id`, the same tap handled again is a DUPLICATE even when its label was
        taken back with /undo meanwhile (the label row keeps the update's id).
        """
        now = time.time() if now is None else now
        async with self.locked() as db:
            stored = await answer(db, assignment_id, user_id, option_idx, now, update_id)
            if stored is not None:
                project_id, option_id = stored
                options = await self.options(project_id)
                option = next(o for o in options if o.id == option_id)
                return LabelOutcome(
                    status=LabelStatus.RECORDED, project_id=project_id, option=option
                )
            return await why_not_recorded(
                db, self.options, assignment_id, user_id, option_idx, now, update_id
            )

    async def close_assignment(
        self,
        assignment_id: int,
        user_id: int,
        status: str,
        reason: str | None = None,
        now: float | None = None,
    ) -> LabelOutcome:
        """Skip or report an open assignment; the sample goes back to the pool for others."""
        if status not in ("skipped", "reported"):
            raise ValueError("status must be 'skipped' or 'reported'")
        now = time.time() if now is None else now
        async with self.transaction() as db:
            async with db.execute(
                "SELECT project_id, sample_id, worker_id, status FROM assignments WHERE id = ?",
                (assignment_id,),
            ) as cur:
                row = await cur.fetchone()
            if row is None or row[2] != user_id:
                return LabelOutcome(status=LabelStatus.NOT_YOURS)
            project_id, sample_id, _, current = row
            if current == "done":
                return LabelOutcome(status=LabelStatus.DUPLICATE, project_id=project_id)
            if current != "open":
                closed = LabelStatus.EXPIRED if current == "expired" else LabelStatus.CLOSED
                return LabelOutcome(status=closed, project_id=project_id)
            # A skip or report after the timeout still counts: the worker looked at it.
            await db.execute(
                "UPDATE assignments SET status = ?, closed_at = ? WHERE id = ?",
                (status, now, assignment_id),
            )
            if status == "reported":
                await db.execute(
                    "INSERT INTO reports (assignment_id, project_id, sample_id, worker_id,"
                    " reason, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (assignment_id, project_id, sample_id, user_id, reason or "other", now),
                )
            data = {"assignment": assignment_id, "sample": sample_id, "reason": reason}
            await append_event(db, f"assignment.{status}", user_id, project_id, data, now)
        return LabelOutcome(status=LabelStatus.RECORDED, project_id=project_id)

    async def open_card(self, assignment_id: int, user_id: int) -> Card | None:
        """The card of an assignment that is this worker's and still open, else None."""
        row = await self.one(
            "SELECT project_id, sample_id, expires_at, message_id FROM assignments"
            " WHERE id = ? AND worker_id = ? AND status = 'open'",
            (assignment_id, user_id),
        )
        if row is None:
            return None
        return Card(
            assignment_id=assignment_id,
            project=await self.get_project(row[0]),
            sample=await self.sample(row[1]),
            options=await self.options(row[0]),
            expires_at=row[2],
            message_id=row[3],
        )

    async def open_card_of(self, user_id: int, project_id: int) -> Card | None:
        """The worker's open card in the project (there is at most one), else None."""
        row = await self.one(
            "SELECT id FROM assignments"
            " WHERE worker_id = ? AND project_id = ? AND status = 'open'",
            (user_id, project_id),
        )
        return None if row is None else await self.open_card(int(row[0]), user_id)

    async def card_sent(self, assignment_id: int, message_id: int) -> None:
        """Remember the message that shows an assignment's card: it is on screen now."""
        await self.write(
            "UPDATE assignments SET message_id = ? WHERE id = ?", (message_id, assignment_id)
        )

    async def release(self, assignment_id: int, user_id: int, now: float | None = None) -> None:
        """Give an open card back to the pool (its worker cannot get it: blocked the bot)."""
        await self.write(
            "UPDATE assignments SET status = 'released', closed_at = ?"
            " WHERE id = ? AND worker_id = ? AND status = 'open'",
            (time.time() if now is None else now, assignment_id, user_id),
        )

    async def undelivered(self, shown_before: float) -> list[tuple[int, int, int]]:
        """Open cards claimed before `shown_before` whose message was never delivered:
        (worker, project, assignment), oldest first."""
        rows = await self.all(
            "SELECT worker_id, project_id, id FROM assignments"
            " WHERE status = 'open' AND message_id IS NULL AND shown_at < ? ORDER BY id",
            (shown_before,),
        )
        return [(int(r[0]), int(r[1]), int(r[2])) for r in rows]

    async def expire_due(self, now: float | None = None) -> int:
        """Return timed-out assignments to the pool; the number returned."""
        async with self.transaction() as db:
            return await expire(db, time.time() if now is None else now)
