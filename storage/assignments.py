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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from storage.db import atomic, fetch_one
from storage.effects import remember
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
# needed first, so started samples finish), skipping samples this worker was ever shown and
# samples held or excluded after problem reports (`held`, read from the index). Nothing while
# the project is paused or closed (`project_life`: one lookup, evaluated once per statement).
_PICK = """
FROM samples AS s
WHERE s.project_id = :project AND s.need > 0 AND s.held IS NULL
  AND NOT EXISTS (SELECT 1 FROM project_life AS p WHERE p.project_id = :project)
  AND NOT EXISTS (SELECT 1 FROM assignments AS a
                  WHERE a.sample_id = s.id AND a.worker_id = :worker)
ORDER BY s.need, s.id
LIMIT 1
"""
PICK_SQL = "SELECT s.id" + _PICK
# Pick and claim in one statement: nothing can take the sample in between.
# :message: the message the card will be edited into (the tapped one), or NULL until sent.
CLAIM_SQL = (
    "INSERT INTO assignments"
    " (sample_id, project_id, worker_id, status, shown_at, expires_at, message_id)"
    " SELECT s.id, s.project_id, :worker, 'open', :now, :expires, :message"
    + _PICK
    + " RETURNING id, sample_id, expires_at, message_id"
)
# A gold (control) sample this worker has not seen, least used first.
GOLD_CLAIM_SQL = """
INSERT INTO assignments
    (sample_id, project_id, worker_id, status, shown_at, expires_at, message_id)
SELECT s.id, s.project_id, :worker, 'open', :now, :expires, :message
FROM samples AS s
WHERE s.project_id = :project AND s.gold = 1 AND s.held IS NULL
  AND NOT EXISTS (SELECT 1 FROM project_life AS p WHERE p.project_id = :project)
  AND NOT EXISTS (SELECT 1 FROM assignments AS a
                  WHERE a.sample_id = s.id AND a.worker_id = :worker)
ORDER BY s.n_labels, s.id
LIMIT 1
RETURNING id, sample_id, expires_at, message_id
"""
DUE_SQL = "SELECT 1 FROM assignments WHERE status = 'open' AND expires_at <= ? LIMIT 1"
# Everything a tap is judged on, in one read: the assignment, whether its sample is gold, the
# worker's membership (exam, suspension), whether this update gave a label here before (taken
# back with /undo since) and whether it was refused as too quick (a replay is refused again).
TAP_SQL = """
SELECT a.project_id, a.worker_id, a.status, a.shown_at, a.expires_at, a.option_id,
       s.gold, s.truth,
       m.worker_id IS NOT NULL, m.exam_status, m.exam_started_at, m.exam_attempts,
       (SELECT l.option_id FROM labels AS l
        WHERE l.assignment_id = a.id AND l.update_id = :update),
       EXISTS (SELECT 1 FROM update_effects AS e
               WHERE e.update_id = :update AND e.step = 'label.too_fast'),
       m.worker_id IS NULL OR m.suspended_at IS NOT NULL
FROM assignments AS a JOIN samples AS s ON s.id = a.sample_id
LEFT JOIN memberships AS m ON m.worker_id = a.worker_id AND m.project_id = a.project_id
WHERE a.id = :assignment
"""
# A label is one UPDATE; triggers add the label row, the counters and the audit event.
ANSWER_SQL = """
UPDATE assignments SET status = 'done', closed_at = :now, answer_update = :update,
    option_id = :option
WHERE id = :assignment AND status = 'open'
"""
TOO_FAST_STEP = "label.too_fast"

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


async def release_open(
    db: aiosqlite.Connection, now: float, *, worker: int | None = None, project: int | None = None
) -> int:
    """Give open cards back to the pool, in the caller's transaction: a worker's, a project's,
    or a worker's in a project (the triggers return their samples' places); how many."""
    where = ["status = 'open'"]
    params: list[Any] = [now]
    for column, value in (("worker_id", worker), ("project_id", project)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    cur = await db.execute(
        f"UPDATE assignments SET status = 'released', closed_at = ? WHERE {' AND '.join(where)}",
        params,
    )
    return int(cur.rowcount)


async def claim(
    db: aiosqlite.Connection,
    project: Project,
    user_id: int,
    now: float,
    gold: str = "no",
    message_id: int | None = None,
) -> Claimed | None:
    """Claim the worker's next sample in the project, or find the card they hold already.

    gold: "no" (the pick index only), "first" (a gold sample if one is left, else the pick
    index) or "only" (an exam: gold samples only). None: nothing is left for them.
    message_id: the message the card is about to be edited into (it is on screen once the
    edit succeeds; `card_unsent` takes it back if the edit fails).
    """
    params = {
        "project": project.id,
        "worker": user_id,
        "now": now,
        "expires": now + project.assignment_timeout,
        "message": message_id,
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
    return row[0], row[1], row[2], row[3]


@dataclass(frozen=True)
class TapRow:
    """What `TAP_SQL` read about a tapped assignment."""

    project_id: int
    worker_id: int
    status: str
    shown_at: float
    expires_at: float
    option_id: int | None  # the answer, once done
    gold: bool
    truth: str | None
    member: tuple[str | None, float | None, int] | None  # (exam status, started, attempts)
    given: int | None  # the option this update labeled here before (/undo took it back)
    refused: bool  # this update was refused as too quick
    barred: bool = False  # not a member of the project (removed, left) or suspended


async def read_tap(
    db: aiosqlite.Connection, assignment_id: int, update_id: int | None
) -> TapRow | None:
    """Everything a tap on `assignment_id` is judged on (None: no such assignment)."""
    row = await fetch_one(db, TAP_SQL, {"assignment": assignment_id, "update": update_id})
    if row is None:
        return None
    member = (row[9], row[10], int(row[11])) if row[8] else None
    return TapRow(
        project_id=int(row[0]),
        worker_id=int(row[1]),
        status=str(row[2]),
        shown_at=float(row[3]),
        expires_at=float(row[4]),
        option_id=row[5],
        gold=bool(row[6]),
        truth=row[7],
        member=member,
        given=row[12],
        refused=bool(row[13]),
        barred=bool(row[14]),
    )


def verdict(
    row: TapRow | None, user_id: int, option_idx: int, n_options: int, now: float, min_read: float
) -> LabelStatus | None:
    """Why a tap is not to be stored, or None: store it. The order matters: a replay of a tap
    gives the answer its first handling gave."""
    if row is None or row.worker_id != user_id:
        return LabelStatus.NOT_YOURS
    if row.refused:
        return LabelStatus.TOO_FAST
    if row.status == "done":
        return LabelStatus.DUPLICATE
    if row.status != "open":
        return LabelStatus.EXPIRED if row.status == "expired" else LabelStatus.CLOSED
    if row.barred:  # removed, left or suspended while holding the card: not theirs to label
        return LabelStatus.CLOSED
    if not 0 <= option_idx < n_options:
        return LabelStatus.BAD_OPTION
    if row.given is not None:  # this tap's label was given, then taken back with /undo
        return LabelStatus.DUPLICATE
    if row.expires_at <= now:
        return LabelStatus.EXPIRED
    if now - row.shown_at < min_read:  # sooner than anyone reads: a double tap, a stray thumb
        return LabelStatus.TOO_FAST
    return None


async def label(
    db: aiosqlite.Connection,
    options_of: OptionsOf,
    min_read_of: Callable[[int], Awaitable[float]],
    assignment_id: int,
    user_id: int,
    option_idx: int,
    now: float,
    update_id: int | None = None,
) -> tuple[LabelOutcome, TapRow | None]:
    """Judge a tap and store its label, in the caller's transaction: the outcome, and what was
    read about the assignment. A refusal that a replay could judge differently (an expired
    card, a tap too quick) is written down so that it is not."""
    row = await read_tap(db, assignment_id, update_id)
    if row is None or row.worker_id != user_id:
        return LabelOutcome(status=LabelStatus.NOT_YOURS), row
    options = await options_of(row.project_id)
    min_read = await min_read_of(row.project_id)
    status = verdict(row, user_id, option_idx, len(options), now, min_read)
    project_id = row.project_id
    if status is None:
        option = options[option_idx]
        params = {"assignment": assignment_id, "now": now, "update": update_id}
        await db.execute(ANSWER_SQL, params | {"option": option.id})
        return LabelOutcome(status=LabelStatus.RECORDED, project_id=project_id, option=option), row
    if status is LabelStatus.DUPLICATE:
        given = row.given if row.status == "open" else row.option_id
        chosen = next((o for o in options if o.id == given), None)
        return LabelOutcome(status=status, project_id=project_id, option=chosen), row
    if status is LabelStatus.EXPIRED and row.status == "open":
        await db.execute(
            "UPDATE assignments SET status = 'expired', closed_at = ?"
            " WHERE id = ? AND status = 'open'",
            (now, assignment_id),
        )
    if status is LabelStatus.TOO_FAST and not row.refused:
        await remember(db, update_id, TOO_FAST_STEP, {"shown_at": row.shown_at}, now)
    return LabelOutcome(status=status, project_id=project_id), row


async def file_report(
    db: aiosqlite.Connection,
    assignment_id: int,
    project_id: int,
    sample_id: int,
    user_id: int,
    reason: str,
    hold: int,
    now: float,
) -> int:
    """Store a problem report, in the caller's transaction. The sample is held out of the
    pool once `hold` workers (0: never) have open reports on it (a broken file reported by the
    bot for each worker it failed for, too). The report's id."""
    cur = await db.execute(
        "INSERT INTO reports (assignment_id, project_id, sample_id, worker_id, reason,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (assignment_id, project_id, sample_id, user_id, reason, now),
    )
    report_id = int(cur.lastrowid or 0)
    if hold > 0:
        row = await fetch_one(
            db,
            "SELECT COUNT(DISTINCT worker_id) FROM reports"
            " WHERE sample_id = ? AND decided_at IS NULL",
            (sample_id,),
        )
        if row is not None and int(row[0]) >= hold:
            cur = await db.execute(
                "UPDATE samples SET held = 'held' WHERE id = ? AND held IS NULL", (sample_id,)
            )
            if cur.rowcount:
                data = {"sample": sample_id, "reporters": int(row[0])}
                await append_event(db, "sample.held", None, project_id, data, now)
    return report_id


async def _no_min_read(project_id: int) -> float:
    return 0.0


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
            if self.sweep_due(now) and await fetch_one(db, DUE_SQL, (now,)):
                async with atomic(db):  # (the probe is cheap; the sweep writes)
                    await expire(db, now)
            return await self.claim_card(db, project, user_id, now, gold)

    def sweep_due(self, now: float) -> bool:
        """Whether timed-out cards are to go back to the pool before this claim: at most once
        a second (the scheduled job covers quiet times)."""
        if now < self._sweep_due:
            return False
        self._sweep_due = now + SWEEP_EVERY_S
        return True

    async def claim_card(
        self,
        db: aiosqlite.Connection,
        project: Project,
        user_id: int,
        now: float,
        gold: str = "no",
        message_id: int | None = None,
    ) -> Card | None:
        """`claim` on a connection the caller holds, as a card ready to show."""
        claimed = await claim(db, project, user_id, now, gold, message_id)
        if claimed is None:
            return None
        assignment_id, sample_id, expires_at, shown_in = claimed
        srow = await fetch_one(db, f"SELECT {SAMPLE_COLS} FROM samples WHERE id = ?", (sample_id,))
        assert srow is not None
        return Card(
            assignment_id=assignment_id,
            project=project,
            sample=sample_of(srow),
            options=await self.options(project.id),
            expires_at=expires_at,
            message_id=shown_in,
        )

    async def record_label(
        self,
        assignment_id: int,
        user_id: int,
        option_idx: int,
        now: float | None = None,
        *,
        update_id: int | None = None,
        min_read: bool = False,
    ) -> LabelOutcome:
        """Store a tapped label if the assignment is this worker's, open and unexpired (and,
        with `min_read`, shown at least the project's `min_read` ago).

        With `update_id`, the same tap handled again is a DUPLICATE even when its label was
        taken back with /undo meanwhile (the label row keeps the update's id). The bot's taps
        go through `Taps.tap`, which also claims the next card.
        """
        now = time.time() if now is None else now
        read = self.min_read if min_read else _no_min_read
        async with self.transaction() as db:
            outcome, _ = await label(
                db, self.options, read, assignment_id, user_id, option_idx, now, update_id
            )
        return outcome

    async def min_read(self, project_id: int) -> float:
        """The project's min_read: seconds a card is on screen before a tap on it counts."""
        return (await self.project_spec(project_id)).min_read

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
                hold = (await self.project_spec(project_id)).report_hold
                await file_report(
                    db, assignment_id, project_id, sample_id, user_id, reason or "other", hold, now
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

    async def card_unsent(self, assignment_id: int, message_id: int) -> None:
        """The card claimed into `message_id` did not get there (the edit failed or has to
        wait): it is undelivered again, for the pending-card job to send."""
        await self.write(
            "UPDATE assignments SET message_id = NULL WHERE id = ? AND message_id = ?",
            (assignment_id, message_id),
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
