"""/undo: take back the worker's last label and show its card again, once per update.

A replay of the same /undo (the update handled again after a crash) finds what the first one
did in `update_effects` and answers that instead of taking back one more label.
"""

from __future__ import annotations

import time

import aiosqlite

from storage.assignments import Assignments
from storage.effects import once, remember
from storage.events import append_event
from storage.models import Project, UndoOutcome, UndoStatus


async def undo(
    db: aiosqlite.Connection, user_id: int, project: Project, now: float
) -> tuple[UndoStatus, tuple[int, ...]]:
    """Retract the worker's last live label and reopen its card, in the caller's transaction:
    (status, the messages of the card that was open and is now released, and of the answered
    card, reopened)."""
    async with db.execute(
        "SELECT l.id, l.assignment_id, s.n_labels, s.target, a.message_id FROM labels l"
        " JOIN samples s ON s.id = l.sample_id JOIN assignments a ON a.id = l.assignment_id"
        " WHERE l.worker_id = ? AND l.project_id = ? AND l.retracted_at IS NULL"
        " ORDER BY l.answered_at DESC, l.id DESC LIMIT 1",
        (user_id, project.id),
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        return UndoStatus.NOTHING, ()
    label_id, assignment_id, n_labels, target, answered_message = row
    async with db.execute(
        "SELECT suspended_at IS NULL AND exam_status IS NOT 'failed' FROM memberships"
        " WHERE worker_id = ? AND project_id = ?",
        (user_id, project.id),
    ) as cur:
        member = await cur.fetchone()
    if member is None or not member[0]:  # a reopened card would let them label again
        return UndoStatus.BARRED, ()
    async with db.execute("SELECT 1 FROM project_life WHERE project_id = ?", (project.id,)) as cur:
        if await cur.fetchone() is not None:  # paused or closed: no card reopens
            return UndoStatus.STOPPED, ()
    if n_labels >= target:
        return UndoStatus.TOO_LATE, ()
    async with db.execute(
        "UPDATE assignments SET status = 'released', closed_at = ?"
        " WHERE worker_id = ? AND project_id = ? AND status = 'open' RETURNING message_id",
        (now, user_id, project.id),
    ) as cur:
        released = await cur.fetchone()
    await db.execute("UPDATE labels SET retracted_at = ? WHERE id = ?", (now, label_id))
    # message_id NULL: the reopened card is not on screen until it is sent again (after a
    # crash right here, the pending-card job sends it).
    await db.execute(
        "UPDATE assignments SET status = 'open', closed_at = NULL, shown_at = ?,"
        " expires_at = ?, message_id = NULL WHERE id = ?",
        (now, now + project.assignment_timeout, assignment_id),
    )
    data = {"assignment": assignment_id, "label": label_id}
    await append_event(db, "label.undone", user_id, project.id, data, now)
    messages = (released[0] if released else None, answered_message)
    return UndoStatus.UNDONE, tuple(m for m in messages if m is not None)


class Undo(Assignments):
    """Taking back a label."""

    async def undo_last(
        self,
        user_id: int,
        project_id: int,
        now: float | None = None,
        *,
        update_id: int | None = None,
    ) -> UndoOutcome:
        """Take back the worker's last live label while its sample still wants labels.

        The card the worker holds now goes back to the pool; the undone sample is reopened.
        With `update_id`, a replay of the same /undo takes back nothing more: it answers
        what the first one did, with the reopened card if it is still open.
        """
        now = time.time() if now is None else now
        project = await self.get_project(project_id)
        superseded: tuple[int, ...] = ()
        async with self.transaction() as db:
            done = await once(db, update_id, "undo")
            if done is not None:  # a replay: the messages to retire too, if the first died
                status = UndoStatus(done["status"])
                superseded = tuple(done.get("superseded", ()))
            else:
                status, superseded = await undo(db, user_id, project, now)
                result = {"status": status.value, "superseded": list(superseded)}
                await remember(db, update_id, "undo", result, now)
        if status is not UndoStatus.UNDONE:
            return UndoOutcome(status=status)
        card = await self.open_card_of(user_id, project_id)
        return UndoOutcome(status=status, card=card, superseded=superseded)
