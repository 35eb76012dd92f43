"""A worker leaves a project, or asks to be forgotten.

Leaving ends the membership: the open card goes back to the pool, the labels stay.

Forgetting erases the person: their Telegram id, name and username are gone from every table
(the stored updates that carried them are deleted, the audit log and the check summaries that
named them are rewritten) and the worker becomes a row under a new negative id with no name.
Their memberships keep what matters for their labels (a suspension, the exam) as a worker's:
an erased id reviews, coordinates and is told nothing. Broadcasts they were writing or sending
stop (each copies a message from their chat). In each project their labels are kept under the
pseudonym its exports gave them (so an export before and after the erasure agrees), or deleted
where the project's `forget_labels` says so (the samples go back to the pool for the labels
they lost, and so do samples only their reports held). One transaction; the erasure is audited
without the erased data.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass

import aiosqlite

from config.project import ProjectSpec
from storage.assignments import release_open
from storage.db import Database, fetch_all, fetch_one
from storage.effects import once, remember
from storage.errors import Conflict
from storage.events import append_event
from storage.export import pseudonym

# Every column that holds a worker's Telegram id.
_WORKER_COLUMNS = (
    ("memberships", "worker_id"),
    ("assignments", "worker_id"),
    ("labels", "worker_id"),
    ("reports", "worker_id"),
    ("reviews", "reviewer_id"),
    ("invites", "created_by"),
    ("imports", "actor"),
    ("erased_pseudonyms", "worker_id"),
    ("worker_flags", "worker_id"),
    ("removals", "worker_id"),
    ("removals", "removed_by"),
    ("reports", "decided_by"),
    ("project_life", "actor"),
    ("broadcasts", "sender_id"),
    ("broadcasts", "from_chat_id"),  # (the private chat with the bot: its id is the user's)
    ("outbox", "chat_id"),
    ("digest_sends", "user_id"),
)
# The check summaries' lists that name workers (services.checks): ids, and [id, reason] pairs.
_SUMMARY_IDS = "suspended"
_SUMMARY_PAIRS = "flagged"
# The audit log's keys that name a person.
_EVENT_KEYS = ("worker", "reviewer", "by")
_APPEND_ONLY = "events_append_only_update"


@dataclass(frozen=True)
class Forgotten:
    """What an erasure did (nothing, for someone the bot does not know)."""

    known: bool
    projects: int = 0
    labels_kept: int = 0
    labels_deleted: int = 0


class Erasure(Database):
    """Leaving a project; forgetting a worker."""

    async def has_left(self, user_id: int, project_id: int) -> bool:
        """Whether the worker left the project (and is not back in it)."""
        row = await self.one(
            "SELECT 1 FROM events WHERE project_id = ? AND kind = 'member.left' AND actor = ?"
            " AND NOT EXISTS (SELECT 1 FROM memberships WHERE worker_id = ? AND project_id = ?)"
            " LIMIT 1",
            (project_id, user_id, user_id, project_id),
        )
        return row is not None

    async def leave_project(self, user_id: int, project_id: int, now: float | None = None) -> bool:
        """End the worker's membership (False if there was none); their open card goes back
        to the pool, their labels stay.

        Conflict while the worker is suspended or failed the exam: the membership holds that
        state, and leaving would drop it (the check would count their labels again, and an
        invite would let them back in afresh). /forget still erases them (it keeps it)."""
        now = time.time() if now is None else now
        async with self.transaction() as db:
            state = await fetch_one(
                db,
                "SELECT suspended_at IS NOT NULL OR exam_status IS 'failed' FROM memberships"
                " WHERE worker_id = ? AND project_id = ?",
                (user_id, project_id),
            )
            if state is not None and state[0]:
                raise Conflict("suspended or failed the exam: leaving would undo it")
            cur = await db.execute(
                "DELETE FROM memberships WHERE worker_id = ? AND project_id = ?",
                (user_id, project_id),
            )
            if cur.rowcount == 0:
                return False
            await release_open(db, now, worker=user_id, project=project_id)
            await db.execute(
                "UPDATE workers SET current_project_id = NULL"
                " WHERE id = ? AND current_project_id = ?",
                (user_id, project_id),
            )
            await append_event(db, "member.left", user_id, project_id, {}, now)
        return True

    async def forget_worker(
        self, user_id: int, now: float | None = None, *, update_id: int | None = None
    ) -> Forgotten:
        """Erase a worker (see the module's docstring); a second call finds nobody, and the
        same update handled again gets what the first handling did."""
        now = time.time() if now is None else now
        async with self.transaction() as db:
            done = await once(db, update_id, "forget")
            if done is not None:
                return Forgotten(**done)
            row = await fetch_one(db, "SELECT created_at FROM workers WHERE id = ?", (user_id,))
            if row is None or user_id < 0:
                return Forgotten(known=False)
            found = await fetch_one(db, "SELECT MIN(MIN(id), 0) FROM workers")
            surrogate = int(found[0] if found else 0) - 1
            await db.execute(
                "INSERT INTO workers (id, first_name, username, language, created_at, erased_at)"
                " VALUES (?, '', NULL, 'en', ?, ?)",
                (surrogate, row[0], now),
            )
            projects = await _projects_of(db, user_id)
            kept = deleted = 0
            for project_id, spec_json, secret in projects:
                spec = ProjectSpec.model_validate_json(spec_json)
                if spec.forget_labels == "delete":
                    deleted += await _delete_labels(db, user_id, project_id, now)
                else:
                    kept += await _count_labels(db, user_id, project_id)
                await db.execute(
                    "INSERT INTO erased_pseudonyms (worker_id, project_id, pseudonym)"
                    " VALUES (?, ?, ?)",
                    (surrogate, project_id, pseudonym(secret, user_id)),
                )
            await release_open(db, now, worker=user_id)
            # What only matters while they are here: their digest opt-out, the answer the bot
            # waits for from them, messages not yet sent to them (cancelled, kept for counts).
            await db.execute("DELETE FROM digest_optouts WHERE worker_id = ?", (user_id,))
            await db.execute("DELETE FROM pending_replies WHERE user_id = ?", (user_id,))
            await db.execute(
                "UPDATE outbox SET status = 'cancelled', done_at = ?"
                " WHERE chat_id = ? AND status = 'queued'",
                (now, user_id),
            )
            await _stop_broadcasts(db, user_id, now)
            # A notice's once-key ends with its chat id ('guide:P:V:<id>'): the new id there.
            suffix = f":{user_id}"
            await db.execute(
                "UPDATE outbox SET dedup = substr(dedup, 1, length(dedup) - ?) || ?"
                " WHERE chat_id = ? AND dedup LIKE ?",
                (len(suffix), f":{surrogate}", user_id, f"%{suffix}"),
            )
            # A notice about them to someone else (a coordinator told of their suspension).
            await db.execute(
                "UPDATE outbox SET payload = json_set(payload, '$.worker', ?)"
                " WHERE json_extract(payload, '$.worker') = ?",
                (surrogate, user_id),
            )
            for table, column in _WORKER_COLUMNS:
                await db.execute(
                    f"UPDATE {table} SET {column} = ? WHERE {column} = ?", (surrogate, user_id)
                )
            # Nobody is there to review, coordinate or be told there is work again; what the
            # membership holds for their labels (suspension, exam) stays.
            await db.execute(
                "UPDATE memberships SET role = 'worker', idle_since = NULL WHERE worker_id = ?",
                (surrogate,),
            )
            await _rewrite_log(db, user_id, surrogate)
            await db.execute("DELETE FROM workers WHERE id = ?", (user_id,))
            # The updates Telegram sent from them carry their id, name and username.
            await db.execute(
                "DELETE FROM inbox WHERE json_extract(data, '$.message.from.id') = ?"
                " OR json_extract(data, '$.callback_query.from.id') = ?",
                (user_id, user_id),
            )
            data = {
                "worker": surrogate,
                "projects": len(projects),
                "labels_kept": kept,
                "labels_deleted": deleted,
            }
            await append_event(db, "worker.forgotten", None, None, data, now)
            result = Forgotten(True, len(projects), kept, deleted)
            await remember(db, update_id, "forget", dataclasses.asdict(result), now)
        return result


async def _projects_of(db: aiosqlite.Connection, user_id: int) -> list[tuple[int, str, bytes]]:
    """(id, spec, export secret) of every project the worker is in or labeled in."""
    rows = await fetch_all(
        db,
        "SELECT p.id, p.spec, x.secret FROM projects AS p"
        " JOIN export_secrets AS x ON x.project_id = p.id"
        " WHERE p.id IN (SELECT project_id FROM memberships WHERE worker_id = :w"
        "                UNION SELECT project_id FROM assignments WHERE worker_id = :w)"
        " ORDER BY p.id",
        {"w": user_id},
    )
    return [(int(r[0]), str(r[1]), bytes(r[2])) for r in rows]


async def _count_labels(db: aiosqlite.Connection, user_id: int, project_id: int) -> int:
    row = await fetch_one(
        db,
        "SELECT COUNT(*) FROM labels WHERE worker_id = ? AND project_id = ?"
        " AND retracted_at IS NULL",
        (user_id, project_id),
    )
    return int(row[0]) if row else 0


async def _delete_labels(
    db: aiosqlite.Connection, user_id: int, project_id: int, now: float
) -> int:
    """Delete the worker's labels and cards in a project; the samples that lost a label are
    undecided again and take labels from others. The number of live labels deleted."""
    params = {"w": user_id, "p": project_id, "now": now}
    # Open cards first: the triggers give their samples back what they held.
    await release_open(db, now, worker=user_id, project=project_id)
    live = await fetch_all(
        db,
        "SELECT sample_id FROM labels WHERE worker_id = :w AND project_id = :p"
        " AND retracted_at IS NULL",
        params,
    )
    samples = [int(r[0]) for r in live]
    await db.executemany(
        "UPDATE samples SET n_labels = n_labels - 1, need = need + 1,"
        " status = CASE WHEN status = 'done' AND gold = 0 THEN 'open' ELSE status END,"
        " consensus = CASE WHEN status = 'done' AND gold = 0 THEN NULL ELSE consensus END,"
        " confidence = CASE WHEN status = 'done' AND gold = 0 THEN NULL ELSE confidence END"
        " WHERE id = ?",
        [(s,) for s in samples],
    )
    await db.execute("DELETE FROM labels WHERE worker_id = :w AND project_id = :p", params)
    # Their reports go with their cards: a sample they held that no open report holds now
    # goes back to the pool (nobody could decide it otherwise).
    await db.execute("DELETE FROM assignments WHERE worker_id = :w AND project_id = :p", params)
    await db.execute(
        "UPDATE samples SET held = NULL WHERE project_id = :p AND held = 'held' AND NOT EXISTS"
        " (SELECT 1 FROM reports AS r WHERE r.sample_id = samples.id AND r.decided_at IS NULL)",
        params,
    )
    # The next quality check sees the loss.
    await db.execute("UPDATE project_changes SET n = n + 1 WHERE project_id = ?", (project_id,))
    return len(samples)


async def _stop_broadcasts(db: aiosqlite.Connection, user_id: int, now: float) -> None:
    """End the person's broadcasts: each copies a message from their chat, which no longer
    has an id here. A draft is dropped; one being sent is cancelled (its queued rows too)."""
    await db.execute(
        "UPDATE broadcasts SET status = 'dropped'"
        " WHERE sender_id = ? AND status IN ('compose', 'draft')",
        (user_id,),
    )
    await db.execute(
        "UPDATE outbox SET status = 'cancelled', done_at = ? WHERE status = 'queued'"
        " AND broadcast_id IN (SELECT id FROM broadcasts WHERE sender_id = ?"
        " AND status = 'sending')",
        (now, user_id),
    )
    await db.execute(
        "UPDATE broadcasts SET status = 'cancelled', finished_at = ?"
        " WHERE sender_id = ? AND status = 'sending'",
        (now, user_id),
    )


async def _rewrite_log(db: aiosqlite.Connection, user_id: int, surrogate: int) -> None:
    """Put the new id where the audit log and the check summaries named the person: the one
    rewrite the append-only log allows (its guard is lifted inside this transaction)."""
    guard = await fetch_one(
        db, "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (_APPEND_ONLY,)
    )
    await db.execute(f"DROP TRIGGER IF EXISTS {_APPEND_ONLY}")
    await db.execute("UPDATE events SET actor = ? WHERE actor = ?", (surrogate, user_id))
    for key in _EVENT_KEYS:
        await db.execute(
            f"UPDATE events SET data = json_set(data, '$.{key}', ?)"
            f" WHERE json_extract(data, '$.{key}') = ?",
            (surrogate, user_id),
        )
    if guard is not None:
        await db.execute(str(guard[0]))
    runs = await fetch_all(
        db,
        "SELECT id, summary FROM quality_runs WHERE summary LIKE ?",
        (f"%{user_id}%",),
    )
    for run_id, summary in runs:
        data = json.loads(summary)
        if data.get(_SUMMARY_IDS):
            data[_SUMMARY_IDS] = [surrogate if u == user_id else u for u in data[_SUMMARY_IDS]]
        if data.get(_SUMMARY_PAIRS):
            data[_SUMMARY_PAIRS] = [
                [surrogate if u == user_id else u, r] for u, r in data[_SUMMARY_PAIRS]
            ]
        await db.execute(
            "UPDATE quality_runs SET summary = ? WHERE id = ?",
            (json.dumps(data, ensure_ascii=False), run_id),
        )
