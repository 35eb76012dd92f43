"""The worker roster: per-worker figures for /workers and the work report, actions on a
worker (suspend, reinstate, remove), flags told once per change, and who a handle names.

Every figure of a worker reads their own labels through `labels_worker` (worker, time), so a
page of the roster costs a few index walks per worker shown, whatever the project's size.
The work report walks the project's labels of the period through `labels_project_time`.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Sequence

import aiosqlite
from pydantic import BaseModel, ConfigDict

from storage.assignments import release_open
from storage.db import Database, Row, fetch_one
from storage.effects import once, remember
from storage.events import append_event
from storage.gold import write_suspension
from storage.snapshot import control_since

# Answer times over this are a worker who put the phone down: not time spent labeling.
ANSWER_CAP_S = 300.0
MEDIAN_OF = 200  # the median answer time is over the worker's latest answers
ROSTER_ROLES = ("worker", "reviewer")  # coordinators run the project; they are not listed
COORDINATOR_REASON = "suspended by a coordinator"


class RosterEntry(BaseModel):
    """One worker of a project as /workers shows them."""

    model_config = ConfigDict(frozen=True)

    worker_id: int
    first_name: str
    username: str | None
    role: str
    status: str  # "unreachable" | "suspended" | "exam" | "flagged" | "active"
    labels: int
    today: int
    gold_answered: int
    gold_right: int
    compared: int  # answers on samples with a consensus
    agreed: int
    median_s: float | None
    suspended_reason: str | None
    exam_failed: bool


class FlagRecord(BaseModel):
    """A flag a coordinator was told about."""

    model_config = ConfigDict(frozen=True)

    reason: str
    first_at: float
    cleared_at: float | None


class WorkRow(BaseModel):
    """One worker's work in a period (the work report's row)."""

    model_config = ConfigDict(frozen=True)

    worker_id: int
    first_name: str
    username: str | None
    labels: int  # live labels given in the period, work and control
    work_labels: int  # of them on work samples (not control samples)
    kept: int  # work labels that count after the quality rules (worker not suspended)
    gold_answered: int
    gold_right: int
    seconds: float  # time spent: answer times, each capped at ANSWER_CAP_S
    suspended: bool


def flag_rule(reason: str) -> str:
    """What fired, without its figures: the same rule with other numbers is the same flag."""
    return re.sub(r"[0-9][0-9.,]*", "#", reason).strip()


_MEMBER_SQL = (
    "SELECT m.worker_id, w.first_name, w.username, m.role, m.suspended_at, m.suspended_reason,"
    " m.exam_status, w.unreachable_at,"
    " EXISTS (SELECT 1 FROM worker_flags AS f WHERE f.project_id = m.project_id"
    "         AND f.worker_id = m.worker_id AND f.cleared_at IS NULL), m.exam_passed_at"
    " FROM memberships AS m JOIN workers AS w ON w.id = m.worker_id"
    " WHERE m.project_id = ? AND m.role IN ('worker', 'reviewer')"
    " AND w.erased_at IS NULL"  # (someone who asked to be forgotten is no one to act on)
)
_ORDER = " ORDER BY w.first_name COLLATE NOCASE, m.worker_id"


class Roster(Database):
    """Figures and actions of the worker roster; flags told once; the work report."""

    async def roster_size(self, project_id: int) -> int:
        """Workers and reviewers of the project."""
        row = await self.one(
            "SELECT COUNT(*) FROM memberships AS m JOIN workers AS w ON w.id = m.worker_id"
            " WHERE m.project_id = ? AND m.role IN ('worker', 'reviewer')"
            " AND w.erased_at IS NULL",
            (project_id,),
        )
        return int(row[0]) if row else 0

    async def roster_page(
        self, project_id: int, offset: int, limit: int, *, day_start: float, exam_size: int
    ) -> list[RosterEntry]:
        """One page of the roster, by name; `day_start`: when "today" began."""
        rows = await self.all(
            _MEMBER_SQL + _ORDER + " LIMIT ? OFFSET ?", (project_id, limit, offset)
        )
        return [await self._entry(project_id, r, day_start, exam_size) for r in rows]

    async def roster_entry(
        self, project_id: int, worker_id: int, *, day_start: float, exam_size: int
    ) -> RosterEntry | None:
        """One worker of the roster (None: not a worker or reviewer of the project)."""
        row = await self.one(_MEMBER_SQL + " AND m.worker_id = ?", (project_id, worker_id))
        return None if row is None else await self._entry(project_id, row, day_start, exam_size)

    async def _entry(
        self, project_id: int, row: Row, day_start: float, exam_size: int
    ) -> RosterEntry:
        worker_id = int(row[0])
        # `+project_id`: the worker's own labels through labels_worker. Without it (and with
        # no ANALYZE statistics) SQLite walks the project's labels by time instead: 40 ms
        # per worker at 50,000 labels, seconds at a million.
        where = "WHERE l.worker_id = ? AND +l.project_id = ? AND l.retracted_at IS NULL"
        since = control_since(exam_size, row[6], row[9])
        # One pass over the worker's labels: totals, today, agreement, control answers (gold
        # answers after `since`, as the gold-accuracy rule counts them; none if infinite).
        figures = await self.one(
            "SELECT COUNT(*), COALESCE(SUM(l.answered_at >= ?), 0),"
            " COALESCE(SUM(s.gold = 0 AND s.consensus IS NOT NULL), 0),"
            " COALESCE(SUM(s.gold = 0 AND l.option_id = s.consensus), 0),"
            " COALESCE(SUM(s.gold = 1 AND l.answered_at > ?), 0),"
            " COALESCE(SUM(s.gold = 1 AND l.answered_at > ? AND"
            "     (SELECT o.key FROM options AS o WHERE o.id = l.option_id) = s.truth), 0)"
            f" FROM labels AS l JOIN samples AS s ON s.id = l.sample_id {where}",
            (day_start, since, since, worker_id, project_id),
        )
        times = await self.all(
            f"SELECT l.answered_at - l.shown_at FROM labels AS l {where}"
            " ORDER BY l.answered_at DESC LIMIT ?",
            (worker_id, project_id, MEDIAN_OF),
        )
        assert figures is not None
        suspended = row[4] is not None or row[6] == "failed"
        if row[7] is not None:
            status = "unreachable"
        elif suspended:
            status = "suspended"
        elif exam_size and row[6] is None and row[3] == "worker":
            status = "exam"
        elif row[8]:
            status = "flagged"
        else:
            status = "active"
        return RosterEntry(
            worker_id=worker_id,
            first_name=str(row[1] or ""),
            username=None if row[2] is None else str(row[2]),
            role=str(row[3]),
            status=status,
            labels=int(figures[0]),
            today=int(figures[1]),
            gold_answered=int(figures[4]),
            gold_right=int(figures[5]),
            compared=int(figures[2]),
            agreed=int(figures[3]),
            median_s=statistics.median(float(t[0]) for t in times) if times else None,
            suspended_reason=None if row[5] is None else str(row[5]),
            exam_failed=row[6] == "failed",
        )

    async def recent_flags(
        self, project_id: int, worker_id: int, limit: int = 5
    ) -> list[FlagRecord]:
        """The worker's latest flags in the project, newest first."""
        rows = await self.all(
            "SELECT reason, first_at, cleared_at FROM worker_flags"
            " WHERE project_id = ? AND worker_id = ? ORDER BY id DESC LIMIT ?",
            (project_id, worker_id, limit),
        )
        return [FlagRecord(reason=r[0], first_at=r[1], cleared_at=r[2]) for r in rows]

    async def find_member(self, project_ids: Sequence[int], handle: str) -> list[tuple[int, int]]:
        """(worker, project) pairs of members of these projects that `handle` names: a
        Telegram id, or an @username (any case)."""
        if not project_ids:
            return []
        marks = ",".join("?" * len(project_ids))
        handle = handle.strip()
        key: int | str
        if handle.isascii() and handle.isdecimal() and len(handle) <= 15:  # (SQLite's int)
            where, key = "m.worker_id = ?", int(handle)
        elif handle.startswith("@") and len(handle) > 1:
            where, key = "lower(w.username) = lower(?)", handle[1:]
        else:
            return []
        rows = await self.all(
            "SELECT m.worker_id, m.project_id FROM memberships AS m JOIN workers AS w"
            f" ON w.id = m.worker_id WHERE m.project_id IN ({marks}) AND {where}"
            " ORDER BY m.project_id",
            (*project_ids, key),
        )
        return [(int(r[0]), int(r[1])) for r in rows]

    # ------------------------------------------------------------ actions

    async def roster_action(
        self,
        action: str,
        project_id: int,
        worker_id: int,
        *,
        actor: int,
        update_id: int | None = None,
    ) -> tuple[bool, bool]:
        """Suspend, reinstate or remove a worker: (whether it changed anything, whether this
        is the same update handled again: it then gets what the first handling did and
        changes nothing more)."""
        now = time.time()
        step = f"roster.{action}"
        async with self.transaction() as db:
            done = await once(db, update_id, step)
            if done is not None:
                return bool(done), True
            member = await fetch_one(
                db,
                "SELECT role FROM memberships WHERE worker_id = ? AND project_id = ?",
                (worker_id, project_id),
            )
            changed = False
            if member is not None and member[0] in ROSTER_ROLES:
                if action == "suspend":
                    changed = await write_suspension(
                        db, worker_id, project_id, COORDINATOR_REASON, "coordinator", actor, now
                    )
                elif action == "reinstate":
                    changed = await reinstate_in(db, worker_id, project_id, actor, now)
                elif action == "remove":
                    changed = await _remove(db, worker_id, project_id, actor, now)
                else:
                    raise ValueError(f"unknown roster action {action!r}")
            if changed:  # the worker is told through the outbox (bot.outbox), so a crash
                # after this transaction still tells them, and a replay does not again
                await db.execute(
                    "INSERT INTO outbox (chat_id, kind, payload, next_at, created_at)"
                    " VALUES (?, 'roster', ?, ?, ?)",
                    (worker_id, json.dumps({"project": project_id, "action": action}), now, now),
                )
            await remember(db, update_id, step, changed, now)
        return changed, False

    # ------------------------------------------------------------ flags told once

    async def record_flags(
        self, project_id: int, flagged: Sequence[tuple[int, str]], now: float | None = None
    ) -> list[tuple[int, str]]:
        """Note a check's flags; the ones to tell coordinators about: new, or back after a
        check that no longer found them. Flags no longer found are closed."""
        now = time.time() if now is None else now
        new: list[tuple[int, str]] = []
        seen: set[tuple[int, str]] = set()
        async with self.transaction() as db:
            for worker_id, reason in flagged:
                rule = flag_rule(str(reason))
                if (worker_id, rule) in seen:
                    continue
                seen.add((worker_id, rule))
                cur = await db.execute(
                    "UPDATE worker_flags SET last_at = ? WHERE project_id = ? AND worker_id = ?"
                    " AND rule = ? AND cleared_at IS NULL",
                    (now, project_id, worker_id, rule),
                )
                if cur.rowcount:
                    continue
                await db.execute(
                    "INSERT INTO worker_flags (project_id, worker_id, rule, reason, first_at,"
                    " last_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (project_id, worker_id, rule, str(reason), now, now),
                )
                await append_event(
                    db,
                    "worker.flagged",
                    None,
                    project_id,
                    {"worker": worker_id, "reason": reason},
                    now,
                )
                new.append((worker_id, str(reason)))
            await db.execute(
                "UPDATE worker_flags SET cleared_at = ? WHERE project_id = ?"
                " AND cleared_at IS NULL AND last_at < ?",
                (now, project_id, now),
            )
        return new

    # ------------------------------------------------------------ the work report

    async def work_report(self, project_id: int, since: float, until: float) -> list[WorkRow]:
        """Each worker's work given in [since, until), by name."""
        # Counted per worker first, named after: joining the workers and memberships per
        # label cost more than the count itself (19 s -> see bench_roster at 1M labels).
        rows = await self.all(
            "SELECT a.worker_id, w.first_name, w.username, a.n, a.work, a.gold_n, a.gold_right,"
            " a.seconds, m.suspended_at IS NOT NULL FROM ("
            "  SELECT l.worker_id, COUNT(*) AS n, SUM(s.gold = 0) AS work,"
            "  SUM(s.gold = 1) AS gold_n,"
            "  SUM(CASE WHEN s.gold = 1 THEN"
            "      (SELECT o.key FROM options AS o WHERE o.id = l.option_id) = s.truth END)"
            "      AS gold_right,"
            "  SUM(MIN(MAX(l.answered_at - l.shown_at, 0), ?)) AS seconds"
            "  FROM labels AS l JOIN samples AS s ON s.id = l.sample_id"
            "  WHERE l.project_id = ? AND l.answered_at >= ? AND l.answered_at < ?"
            "  AND l.retracted_at IS NULL GROUP BY l.worker_id) AS a"
            " JOIN workers AS w ON w.id = a.worker_id"
            " LEFT JOIN memberships AS m ON m.worker_id = a.worker_id AND m.project_id = ?"
            " ORDER BY w.first_name COLLATE NOCASE, a.worker_id",
            (ANSWER_CAP_S, project_id, since, until, project_id),
        )
        out = []
        for r in rows:
            suspended = bool(r[8])
            out.append(
                WorkRow(
                    worker_id=r[0],
                    first_name=r[1] or "",
                    username=r[2],
                    labels=r[3],
                    work_labels=r[4] or 0,
                    kept=0 if suspended else (r[4] or 0),
                    gold_answered=r[5] or 0,
                    gold_right=r[6] or 0,
                    seconds=float(r[7] or 0),
                    suspended=suspended,
                )
            )
        return out

    async def labels_by_worker(self, sample_id: int) -> list[tuple[int, int, str, str | None]]:
        """(option idx, worker id, name, username) of a sample's live labels."""
        rows = await self.all(
            "SELECT o.idx, l.worker_id, w.first_name, w.username FROM labels AS l"
            " JOIN options AS o ON o.id = l.option_id JOIN workers AS w ON w.id = l.worker_id"
            " WHERE l.sample_id = ? AND l.retracted_at IS NULL ORDER BY l.id",
            (sample_id,),
        )
        return [(int(r[0]), int(r[1]), str(r[2] or ""), r[3]) for r in rows]


async def reinstate_in(
    db: aiosqlite.Connection, worker_id: int, project_id: int, actor: int | None, now: float
) -> bool:
    """Lift a suspension or a failed exam inside the caller's transaction (False: neither)."""
    cur = await db.execute(
        "UPDATE memberships SET suspended_at = NULL, suspended_reason = NULL,"
        " exam_status = CASE WHEN exam_status = 'failed' THEN NULL ELSE exam_status END,"
        " exam_started_at = CASE WHEN exam_status = 'failed' THEN ? ELSE exam_started_at END"
        " WHERE worker_id = ? AND project_id = ?"
        " AND (suspended_at IS NOT NULL OR exam_status = 'failed')",
        (now, worker_id, project_id),
    )
    if cur.rowcount == 0:
        return False
    await append_event(db, "worker.reinstated", actor, project_id, {"worker": worker_id}, now)
    return True


async def _remove(
    db: aiosqlite.Connection, worker_id: int, project_id: int, actor: int, now: float
) -> bool:
    """End a membership for a coordinator: the open card back to the pool, the labels kept,
    and an invite made before now no longer lets them in."""
    cur = await db.execute(
        "DELETE FROM memberships WHERE worker_id = ? AND project_id = ?", (worker_id, project_id)
    )
    if cur.rowcount == 0:
        return False
    await release_open(db, now, worker=worker_id, project=project_id)
    await db.execute(
        "UPDATE workers SET current_project_id = NULL WHERE id = ? AND current_project_id = ?",
        (worker_id, project_id),
    )
    await db.execute(
        "INSERT INTO removals (worker_id, project_id, removed_at, removed_by) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (worker_id, project_id) DO UPDATE SET removed_at = excluded.removed_at,"
        " removed_by = excluded.removed_by",
        (worker_id, project_id, now, actor),
    )
    await db.execute(
        "UPDATE worker_flags SET cleared_at = ? WHERE project_id = ? AND worker_id = ?"
        " AND cleared_at IS NULL",
        (now, project_id, worker_id),
    )
    await append_event(db, "member.removed", actor, project_id, {"worker": worker_id}, now)
    return True
