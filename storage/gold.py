"""Gold (control) samples and exams: scoring a worker's gold answers, recording an exam's
outcome, suspending a worker whose control answers fall below the project's bar.

Functions on a connection the caller holds: the reads run on it as it is (in or out of the
caller's transaction), the writes belong inside the caller's transaction. `QualityStore`
(storage.quality) runs them one step at a time; a label, its gold check and the next card
can also be composed into one transaction with them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import aiosqlite

from config.project import ProjectSpec, RulesSpec
from storage.assignments import release_open
from storage.db import fetch_one
from storage.events import append_event
from storage.models import Option
from storage.snapshot import control_since

# After every label: was it on a gold sample, and what was the right answer.
GOLD_ANSWER_SQL = (
    "SELECT s.project_id, s.truth, o.key FROM assignments AS a"
    " JOIN samples AS s ON s.id = a.sample_id JOIN options AS o ON o.id = a.option_id"
    " WHERE a.id = ? AND a.worker_id = ? AND s.gold = 1"
)


@dataclass(frozen=True)
class Gate:
    """May this worker get work in this project now, and of which kind."""

    status: str  # "ok" | "exam" | "suspended" | "exam_failed" | "not_member"
    reason: str | None = None
    exam_answered: int = 0


@dataclass(frozen=True)
class GoldResult:
    """What a label on a gold sample showed."""

    correct: bool
    right: Option
    exam: str | None = None  # None | "progress" | "passed" | "retry" | "failed"
    exam_correct: int = 0
    exam_answered: int = 0
    suspended: str | None = None  # the reason, when this answer suspended the worker


async def gold_answer(
    db: aiosqlite.Connection, assignment_id: int, user_id: int
) -> tuple[int, str, str] | None:
    """(project id, right option key, given option key) of an answered assignment on a gold
    sample; None for any other assignment."""
    row = await fetch_one(db, GOLD_ANSWER_SQL, (assignment_id, user_id))
    return None if row is None else (int(row[0]), str(row[1]), str(row[2]))


async def gold_score(
    db: aiosqlite.Connection, user_id: int, project_id: int, op: str, since: float
) -> tuple[int, int]:
    """(answered, right) of the worker's live gold answers given `op` ('>=' or '>') `since`."""
    assert op in (">=", ">")  # (never user input: it is spliced into the SQL)
    row = await fetch_one(
        db,
        "SELECT COUNT(*), COALESCE(SUM(o.key = s.truth), 0) FROM labels AS l"
        " JOIN samples AS s ON s.id = l.sample_id JOIN options AS o ON o.id = l.option_id"
        # +project_id: through labels_worker (the worker's answers since `since`); without
        # statistics SQLite took labels_project_time and walked the whole project since
        # `since` (3 s at 1M labels when there is no exam, in a wrong gold tap's transaction).
        " WHERE l.worker_id = ? AND +l.project_id = ? AND s.gold = 1"
        f" AND l.retracted_at IS NULL AND l.answered_at {op} ?",
        (user_id, project_id, since),
    )
    assert row is not None
    return int(row[0]), int(row[1])


async def exam_score(
    db: aiosqlite.Connection, user_id: int, project_id: int, since: float | None
) -> tuple[int, int]:
    """(answered, right) of this exam attempt: gold answers from `since` on."""
    return await gold_score(db, user_id, project_id, ">=", since or 0.0)


async def exam_member(
    db: aiosqlite.Connection, user_id: int, project_id: int
) -> tuple[str | None, float | None, int] | None:
    """(exam status, exam started at, attempts) of a member; None if not a member."""
    row = await fetch_one(
        db,
        "SELECT exam_status, exam_started_at, exam_attempts FROM memberships"
        " WHERE worker_id = ? AND project_id = ?",
        (user_id, project_id),
    )
    return None if row is None else (row[0], row[1], int(row[2]))


async def control_score_of(
    db: aiosqlite.Connection, user_id: int, project_id: int, exam_size: int
) -> tuple[int, int]:
    """(answered, right) of the worker's control answers: gold answers given outside any
    exam attempt (`control_since`), the only ones the gold-accuracy rule counts."""
    row = await fetch_one(
        db,
        "SELECT exam_status, exam_passed_at FROM memberships"
        " WHERE worker_id = ? AND project_id = ?",
        (user_id, project_id),
    )
    status, passed_at = row if row else (None, None)
    since = control_since(exam_size, status, passed_at)
    if math.isinf(since):
        return 0, 0
    return await gold_score(db, user_id, project_id, ">", since)


def gold_rule_breach(rules: RulesSpec, answered: int, score: int) -> str | None:
    """Why the worker is to be suspended for their control answers, or None."""
    if answered < rules.min_gold or score >= rules.min_gold_accuracy * answered:
        return None
    return (
        f"gold accuracy {score / answered:.0%} after {answered} gold answers"
        f" (< {rules.min_gold_accuracy:.0%})"
    )


async def write_exam(
    db: aiosqlite.Connection,
    user_id: int,
    project_id: int,
    outcome: str,
    score: int,
    answered: int,
    now: float,
) -> None:
    """Record an exam's outcome ("passed", "failed", or "retry": a new attempt starts)."""
    if outcome == "retry":  # a new attempt: gold answers from now on count
        await db.execute(
            "UPDATE memberships SET exam_attempts = exam_attempts + 1,"
            " exam_started_at = ? WHERE worker_id = ? AND project_id = ?",
            (now, user_id, project_id),
        )
    else:
        # exam_passed_at: gold answers from here on are control answers
        await db.execute(
            "UPDATE memberships SET exam_status = ?, exam_attempts = exam_attempts + 1,"
            " exam_passed_at = CASE WHEN ? = 'passed' THEN ? END"
            " WHERE worker_id = ? AND project_id = ?",
            (outcome, outcome, now, user_id, project_id),
        )
    data = {"correct": score, "answered": answered}
    await append_event(db, f"exam.{outcome}", user_id, project_id, data, now)


async def queue_suspension_notices(
    db: aiosqlite.Connection, user_id: int, project_id: int, reason: str, now: float
) -> None:
    """Queue, in the suspension's transaction, the notices of a rule's suspension: to the
    worker (outbox kind 'suspended') and to the project's coordinators ('coord_suspended'),
    rendered in each reader's language by bot.outbox. A crash after the suspension, or a
    failure before anyone was told, then loses no notice."""
    told = json.dumps({"project": project_id, "worker": user_id, "reason": reason})
    await db.execute(
        "INSERT INTO outbox (chat_id, kind, payload, next_at, created_at)"
        " VALUES (?, 'suspended', ?, ?, ?)",
        (user_id, told, now, now),
    )
    await db.execute(
        "INSERT INTO outbox (chat_id, kind, payload, next_at, created_at)"
        " SELECT worker_id, 'coord_suspended', ?, ?, ? FROM memberships"
        " WHERE project_id = ? AND role = 'coordinator' AND worker_id > 0",
        (told, now, now, project_id),
    )


async def write_suspension(
    db: aiosqlite.Connection,
    user_id: int,
    project_id: int,
    reason: str,
    rule: str,
    actor: int | None,
    now: float,
) -> bool:
    """Suspend a worker in a project and release their open card (False if they already
    were suspended: nothing is written)."""
    cur = await db.execute(
        "UPDATE memberships SET suspended_at = ?, suspended_reason = ?"
        " WHERE worker_id = ? AND project_id = ? AND suspended_at IS NULL",
        (now, reason, user_id, project_id),
    )
    if cur.rowcount == 0:
        return False
    await release_open(db, now, worker=user_id, project=project_id)  # back to the pool
    data = {"worker": user_id, "rule": rule, "reason": reason}
    await append_event(db, "worker.suspended", actor, project_id, data, now)
    return True


async def read_gate(
    db: aiosqlite.Connection, spec: ProjectSpec, user_id: int, project_id: int
) -> Gate:
    """Whether the worker may label now: suspended, failed exam, in exam, not a member (any
    more: removed, or left), or ok."""
    row = await fetch_one(
        db,
        "SELECT suspended_at, suspended_reason, exam_status, exam_started_at"
        " FROM memberships WHERE worker_id = ? AND project_id = ?",
        (user_id, project_id),
    )
    if row is None:
        return Gate("not_member")
    suspended_at, reason, exam_status, exam_started = row
    if suspended_at is not None:
        return Gate("suspended", reason)
    if spec.quality.exam_size > 0 and exam_status != "passed":
        if exam_status == "failed":
            return Gate("exam_failed")
        answered, _ = await exam_score(db, user_id, project_id, exam_started)
        return Gate("exam", exam_answered=answered)
    return Gate("ok")


async def score_gold(
    db: aiosqlite.Connection,
    spec: ProjectSpec,
    right: Option,
    given: str,
    user_id: int,
    project_id: int,
    member: tuple[str | None, float | None, int] | None,
    now: float,
) -> GoldResult:
    """After a label on a gold sample (`right` the true option, `given` the tapped option's
    key; `member` as `exam_member` reads it): exam progress and outcome, or the gold-accuracy
    rule, written in the caller's transaction."""
    correct = given == right.key
    q = spec.quality
    exam_status, exam_started, attempts = member if member else ("passed", None, 0)
    if q.exam_size > 0 and exam_status is None:
        answered, score = await exam_score(db, user_id, project_id, exam_started)
        if answered < q.exam_size:
            return GoldResult(correct, right, "progress", score, answered)
        passed = score >= q.exam_pass * answered
        outcome = "passed" if passed else "retry" if attempts < q.exam_retries else "failed"
        await write_exam(db, user_id, project_id, outcome, score, answered, now)
        return GoldResult(correct, right, outcome, score, answered)
    if correct:
        return GoldResult(correct, right)
    # Accuracy on control answers (never exam answers) below the project's bar: suspended now.
    answered, score = await control_score_of(db, user_id, project_id, q.exam_size)
    reason = gold_rule_breach(q.rules, answered, score)
    suspended = reason is not None and await write_suspension(
        db, user_id, project_id, reason, "gold_accuracy", None, now
    )
    if suspended and reason is not None:
        await queue_suspension_notices(db, user_id, project_id, reason, now)
    return GoldResult(correct, right, suspended=reason)
