"""Storage for the quality engine: gold tasks, exams, suspensions, reviews and check runs.

The computation itself is in `quality/` (pure numpy). This module reads what it needs as flat
arrays — on a connection of its own, in a worker thread, so a check over a million labels
never holds the bot's connection — and writes the results back in short transactions.
"""

from __future__ import annotations

import asyncio
import json
import math
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from config.project import ProjectSpec
from storage.models import Option, Role, Sample, SampleCounts
from storage.repository import (
    _SAMPLE_COLS,
    SAMPLE_STATES,
    Repository,
    _event,
    _sample,
    sample_counts_of,
)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_WRITE_BATCH = 500  # rows per write transaction, so taps interleave with a big update
STATUS_CODES = ("open", "done", "review", "reviewed")


@dataclass(frozen=True)
class Gate:
    """May this worker get work in this project now, and of which kind."""

    status: str  # "ok" | "exam" | "suspended" | "exam_failed"
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


def control_since(exam_size: int, exam_status: str | None, exam_passed_at: float | None) -> float:
    """From when a worker's gold answers are control answers, which the gold-accuracy rule
    scores; gold answers up to then were exam answers, which only the exam scores.

    No exam in the project: every gold answer is a control (0). Exam passed: the answers after
    it. Exam not passed (yet, or failed): none (inf): every gold answer belongs to an attempt.
    """
    if exam_size == 0:
        return 0.0
    if exam_status == "passed":
        return exam_passed_at or 0.0  # (passed before migration 7 and not in the log: all)
    return math.inf


@dataclass
class ProjectLabels:
    """Everything a quality check needs, as flat arrays (one entry per live label)."""

    sample_ids: IntArray  # sorted; task index = position here
    truth: IntArray  # per sample: option index of the known answer (gold/truth), -1 if none
    reviewed: IntArray  # per sample: option index of a reviewer's decision, -1 if none
    status: IntArray  # per sample: index into STATUS_CODES
    target: IntArray
    n_open: IntArray
    gold: npt.NDArray[np.bool_]
    consensus: IntArray  # per sample: option index stored by the last check, -1 if none
    task: IntArray  # per label: index into sample_ids
    worker: IntArray  # per label: index into worker_ids
    label: IntArray  # per label: option index
    seconds: FloatArray  # per label: answered - shown
    answered: FloatArray
    worker_ids: IntArray
    suspended: npt.NDArray[np.bool_]  # per worker
    n_options: int
    option_ids: IntArray  # per option index: the option's id
    last_label_id: int
    last_review_id: int
    changes: int  # the project's change counter (migration 5) in this snapshot


class QualityStore:
    """The quality engine's reads and writes, next to the repository's own."""

    def __init__(self, repo: Repository) -> None:
        """Work through the repository's connection and lock (and a read connection)."""
        self.repo = repo

    async def spec(self, project_id: int) -> ProjectSpec:
        """The project's validated spec (the repository caches it)."""
        return await self.repo.project_spec(project_id)

    # ------------------------------------------------------------ gate, gold, exam

    async def gate(self, user_id: int, project_id: int) -> Gate:
        """Whether the worker may label now: suspended, failed exam, in exam, or ok."""
        spec = await self.spec(project_id)
        row = await self.repo._one(
            "SELECT suspended_at, suspended_reason, exam_status, exam_started_at"
            " FROM memberships WHERE worker_id = ? AND project_id = ?",
            (user_id, project_id),
        )
        if row is None:
            return Gate("ok")
        suspended_at, reason, exam_status, exam_started = row
        if suspended_at is not None:
            return Gate("suspended", reason)
        if spec.quality.exam_size > 0 and exam_status != "passed":
            if exam_status == "failed":
                return Gate("exam_failed")
            answered, _ = await self._exam_score(user_id, project_id, exam_started)
            return Gate("exam", exam_answered=answered)
        return Gate("ok")

    async def _exam_score(
        self, user_id: int, project_id: int, since: float | None
    ) -> tuple[int, int]:
        """(answered, right) of this exam attempt: gold answers from `since` on."""
        return await self._gold_score(user_id, project_id, ">=", since or 0.0)

    async def _gold_score(
        self, user_id: int, project_id: int, op: str, since: float
    ) -> tuple[int, int]:
        assert op in (">=", ">")  # (never user input: it is spliced into the SQL)
        row = await self.repo._one(
            "SELECT COUNT(*), COALESCE(SUM(o.key = s.truth), 0) FROM labels AS l"
            " JOIN samples AS s ON s.id = l.sample_id JOIN options AS o ON o.id = l.option_id"
            " WHERE l.worker_id = ? AND l.project_id = ? AND s.gold = 1"
            f" AND l.retracted_at IS NULL AND l.answered_at {op} ?",
            (user_id, project_id, since),
        )
        assert row is not None
        return int(row[0]), int(row[1])

    async def control_score(self, user_id: int, project_id: int) -> tuple[int, int]:
        """(answered, right) of the worker's control answers: gold answers given outside any
        exam attempt (`control_since`), the only ones the gold-accuracy rule counts."""
        spec = await self.spec(project_id)
        row = await self.repo._one(
            "SELECT exam_status, exam_passed_at FROM memberships"
            " WHERE worker_id = ? AND project_id = ?",
            (user_id, project_id),
        )
        status, passed_at = row if row else (None, None)
        since = control_since(spec.quality.exam_size, status, passed_at)
        if math.isinf(since):
            return 0, 0
        return await self._gold_score(user_id, project_id, ">", since)

    async def after_label(self, assignment_id: int, user_id: int) -> GoldResult | None:
        """After a recorded label: for a gold sample, was it right, and what follows."""
        row = await self.repo._one(
            "SELECT s.project_id, s.truth, o.key FROM assignments AS a"
            " JOIN samples AS s ON s.id = a.sample_id JOIN options AS o ON o.id = a.option_id"
            " WHERE a.id = ? AND a.worker_id = ? AND s.gold = 1",
            (assignment_id, user_id),
        )
        if row is None:
            return None
        project_id, truth, given = row
        options = await self.repo.options(project_id)
        right = next(o for o in options if o.key == truth)
        correct = given == truth
        spec = await self.spec(project_id)
        q = spec.quality
        member = await self.repo._one(
            "SELECT exam_status, exam_started_at, exam_attempts FROM memberships"
            " WHERE worker_id = ? AND project_id = ?",
            (user_id, project_id),
        )
        exam_status, exam_started, attempts = member if member else ("passed", None, 0)
        if q.exam_size > 0 and exam_status is None:
            answered, score = await self._exam_score(user_id, project_id, exam_started)
            if answered < q.exam_size:
                return GoldResult(correct, right, "progress", score, answered)
            passed = score >= q.exam_pass * answered
            outcome = "passed" if passed else "retry" if attempts < q.exam_retries else "failed"
            await self._set_exam(user_id, project_id, outcome, score, answered)
            return GoldResult(correct, right, outcome, score, answered)
        suspended = None
        if not correct:
            suspended = await self._gold_rule(user_id, project_id, spec)
        return GoldResult(correct, right, suspended=suspended)

    async def finish_exam(self, user_id: int, project_id: int) -> GoldResult | None:
        """End an exam that has no unseen gold sample left, on the answers it has.

        A worker never sees a sample twice, so a project with fewer gold samples than the exam
        size (or a retry after all gold was seen) cannot fill the exam: it is decided on what
        this attempt answered. No answer at all: passed on a first attempt (the project has no
        gold to test with), failed on a retry (nothing new to test with).
        """
        spec = await self.spec(project_id)
        member = await self.repo._one(
            "SELECT exam_status, exam_started_at, exam_attempts FROM memberships"
            " WHERE worker_id = ? AND project_id = ?",
            (user_id, project_id),
        )
        if member is None or member[0] is not None or spec.quality.exam_size == 0:
            return None
        _, started, attempts = member
        answered, score = await self._exam_score(user_id, project_id, started)
        if answered == 0:
            outcome = "passed" if attempts == 0 else "failed"
        else:
            outcome = "passed" if score >= spec.quality.exam_pass * answered else "failed"
        await self._set_exam(user_id, project_id, outcome, score, answered)
        options = await self.repo.options(project_id)
        return GoldResult(True, options[0], outcome, score, answered)

    async def _set_exam(
        self, user_id: int, project_id: int, outcome: str, score: int, answered: int
    ) -> None:
        now = time.time()
        async with self.repo.transaction() as db:
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
            await _event(
                db,
                f"exam.{outcome}",
                user_id,
                project_id,
                {"correct": score, "answered": answered},
                now,
            )

    async def _gold_rule(self, user_id: int, project_id: int, spec: ProjectSpec) -> str | None:
        """Suspend now if accuracy on control answers (never exam answers) fell below the
        project's threshold."""
        rules = spec.quality.rules
        answered, score = await self.control_score(user_id, project_id)
        if answered < rules.min_gold or score >= rules.min_gold_accuracy * answered:
            return None
        reason = (
            f"gold accuracy {score / answered:.0%} after {answered} gold answers"
            f" (< {rules.min_gold_accuracy:.0%})"
        )
        await self.suspend(user_id, project_id, reason, "gold_accuracy")
        return reason

    async def suspend(
        self, user_id: int, project_id: int, reason: str, rule: str, actor: int | None = None
    ) -> bool:
        """Suspend a worker in a project (False if they already were)."""
        now = time.time()
        async with self.repo.transaction() as db:
            cur = await db.execute(
                "UPDATE memberships SET suspended_at = ?, suspended_reason = ?"
                " WHERE worker_id = ? AND project_id = ? AND suspended_at IS NULL",
                (now, reason, user_id, project_id),
            )
            if cur.rowcount == 0:
                return False
            # Their open card goes back to the pool.
            await db.execute(
                "UPDATE assignments SET status = 'released', closed_at = ?"
                " WHERE worker_id = ? AND project_id = ? AND status = 'open'",
                (now, user_id, project_id),
            )
            await _event(
                db,
                "worker.suspended",
                actor,
                project_id,
                {"worker": user_id, "rule": rule, "reason": reason},
                now,
            )
        return True

    async def reinstate(self, user_id: int, project_id: int, actor: int) -> bool:
        """Lift a suspension or a failed exam (False if there was neither)."""
        now = time.time()
        async with self.repo.transaction() as db:
            cur = await db.execute(
                "UPDATE memberships SET suspended_at = NULL, suspended_reason = NULL,"
                " exam_status = CASE WHEN exam_status = 'failed' THEN NULL ELSE exam_status END,"
                " exam_started_at = CASE WHEN exam_status = 'failed' THEN ?"
                " ELSE exam_started_at END"
                " WHERE worker_id = ? AND project_id = ?"
                " AND (suspended_at IS NOT NULL OR exam_status = 'failed')",
                (now, user_id, project_id),
            )
            if cur.rowcount == 0:
                return False
            await _event(db, "worker.reinstated", actor, project_id, {"worker": user_id}, now)
        return True

    async def members(self, project_id: int, role: Role) -> list[int]:
        """User ids with a role in the project."""
        rows = await self.repo._all(
            "SELECT worker_id FROM memberships WHERE project_id = ? AND role = ?",
            (project_id, role.value),
        )
        return [int(r[0]) for r in rows]

    # ------------------------------------------------------------ review queue

    async def next_review(self, project_id: int) -> tuple[Sample, dict[int, int]] | None:
        """The oldest sample waiting for a reviewer, with its labels counted per option idx."""
        row = await self.repo._one(
            f"SELECT {_SAMPLE_COLS} FROM samples WHERE project_id = ? AND status = 'review'"
            " ORDER BY id LIMIT 1",
            (project_id,),
        )
        if row is None:
            return None
        sample = _sample(row)
        counts = await self.repo._all(
            "SELECT o.idx, COUNT(*) FROM labels AS l JOIN options AS o ON o.id = l.option_id"
            " WHERE l.sample_id = ? AND l.retracted_at IS NULL GROUP BY o.idx",
            (sample.id,),
        )
        return sample, {int(i): int(n) for i, n in counts}

    async def decide_review(
        self, sample_id: int, reviewer_id: int, option_idx: int
    ) -> tuple[str, int | None]:
        """Store a reviewer's decision: ("decided"|"not_reviewer"|"closed"|"bad_option", pid)."""
        now = time.time()
        async with self.repo.transaction() as db:
            async with db.execute(
                "SELECT s.project_id, s.status, m.role FROM samples AS s LEFT JOIN memberships"
                " AS m ON m.project_id = s.project_id AND m.worker_id = ? WHERE s.id = ?",
                (reviewer_id, sample_id),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                return "closed", None
            project_id, status, role = row
            if role not in (Role.REVIEWER.value, Role.COORDINATOR.value):
                return "not_reviewer", project_id
            if status != "review":
                return "closed", project_id
            async with db.execute(
                "SELECT id FROM options WHERE project_id = ? AND idx = ?", (project_id, option_idx)
            ) as cur:
                opt = await cur.fetchone()
            if opt is None:
                return "bad_option", project_id
            await db.execute(
                "INSERT INTO reviews (project_id, sample_id, reviewer_id, option_id, decided_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (project_id, sample_id, reviewer_id, opt[0], now),
            )
            await db.execute(
                "UPDATE samples SET status = 'reviewed', consensus = ?, confidence = 1.0"
                " WHERE id = ?",
                (opt[0], sample_id),
            )
            await _event(
                db,
                "review.decided",
                reviewer_id,
                project_id,
                {"sample": sample_id, "option": opt[0]},
                now,
            )
        return "decided", project_id

    async def label_count(self, project_id: int, upto: int) -> int:
        """Labels of the project (retracted ones too), counted up to `upto` at most: the
        count stops there, so asking "more than N?" costs N index entries, not the project."""
        row = await self.repo._one(
            "SELECT COUNT(*) FROM (SELECT 1 FROM labels WHERE project_id = ? LIMIT ?)",
            (project_id, upto),
        )
        return int(row[0]) if row else 0

    async def review_count(self, project_id: int) -> int:
        """Samples waiting for a reviewer."""
        row = await self.repo._one(
            "SELECT COUNT(*) FROM samples WHERE project_id = ? AND status = 'review'",
            (project_id,),
        )
        return int(row[0]) if row else 0

    # ------------------------------------------------------------ checks

    async def last_run(self, project_id: int) -> tuple[int, int, dict[str, Any]] | None:
        """(last label id, last review id, summary) of the project's latest check."""
        row = await self.repo._one(
            "SELECT last_label_id, last_review_id, summary FROM quality_runs"
            " WHERE project_id = ? ORDER BY id DESC LIMIT 1",
            (project_id,),
        )
        return (int(row[0]), int(row[1]), json.loads(row[2])) if row else None

    async def changed_since_last_run(self, project_id: int) -> bool:
        """Anything a check must see since the project's last check: a label given or undone,
        a reviewer's decision, a suspension or reinstatement (the triggers of migration 5).

        Never checked: True once the project has a label. Three indexed lookups, whatever the
        project's size.
        """
        row = await self.repo._one(
            "SELECT (SELECT n FROM project_changes WHERE project_id = :p),"
            " (SELECT changes FROM quality_runs WHERE project_id = :p ORDER BY id DESC LIMIT 1),"
            " EXISTS (SELECT 1 FROM labels WHERE project_id = :p)",
            {"p": project_id},
        )
        assert row is not None
        now, seen, has_labels = row
        if seen is None:
            return bool(has_labels)
        return int(now or 0) != int(seen)

    async def sample_counts(self, project_id: int) -> SampleCounts:
        """`Repository.sample_counts`, read off the bot's connection (a big project's samples
        take a second to count: taps must not wait for that)."""
        return await asyncio.to_thread(read_sample_counts, self.repo.path, project_id)

    async def load(self, project_id: int) -> ProjectLabels:
        """Read a project's samples and live labels as arrays, off the bot's connection."""
        return await asyncio.to_thread(read_labels, self.repo.path, project_id)

    async def apply(
        self,
        project_id: int,
        sample_ids: IntArray,
        status: IntArray,
        consensus_idx: IntArray,
        confidence: FloatArray,
        target: IntArray,
        previous: tuple[IntArray, IntArray, IntArray] | None,
        run: dict[str, Any],
        last_label_id: int,
        last_review_id: int,
        seconds: float,
        *,
        changes: int,
    ) -> int:
        """Write changed samples in short transactions, then the run record; rows sent.

        previous: (status, consensus, target) as loaded; only samples where one of them
        changed are written (confidence alone moving does not cost a write).
        """
        options = await self.repo.options(project_id)
        option_ids = np.array([o.id for o in sorted(options, key=lambda o: o.idx)])
        diff = await asyncio.to_thread(
            sample_changes,
            option_ids,
            sample_ids,
            status,
            consensus_idx,
            confidence,
            target,
            previous,
        )
        batches = await asyncio.to_thread(diff.batches)
        await self.write_changes(
            project_id, batches, run, last_label_id, last_review_id, seconds, changes=changes
        )
        return len(diff.sample_id)

    async def write_changes(
        self,
        project_id: int,
        batches: Sequence[str],
        run: dict[str, Any],
        last_label_id: int,
        last_review_id: int,
        seconds: float,
        *,
        changes: int,
    ) -> int:
        """Write a check's changed samples (`SampleChanges.batches`), then its run record.

        `changes`: the project's change counter in the snapshot the check read
        (`ProjectLabels.changes`); the next `changed_since_last_run` compares with it.

        Each batch is one transaction through the repository's lock, like any tap, so a tap
        waits for one batch (a few ms) at most, never for the whole write-back. A failed batch
        changes nothing (and raises). The run's counts then get the samples' states as written
        (`SampleCounts`: what /status shows too). Returns the rows written.
        """
        written = 0
        db = self.repo.db
        for batch in batches:
            # One statement in autocommit mode is its own transaction (like record_label's):
            # one trip to the connection's thread, with the GIL released while SQLite works.
            # (BEGIN/UPDATE/COMMIT would hold the lock for three turns of a busy event loop;
            # executescript runs SQLite holding the GIL, stalling the loop for each batch.)
            async with self.repo._lock:
                before = db.total_changes
                await db.execute(_UPDATE_FROM_JSON, (batch,))
                written += db.total_changes - before
            await asyncio.sleep(0)  # let waiting taps in between batches
        states = await self.sample_counts(project_id)
        run["counts"] = {**run.get("counts", {}), **states.model_dump()}
        async with self.repo.transaction() as db:
            await db.execute(
                "INSERT INTO quality_runs (project_id, at, last_label_id, last_review_id,"
                " seconds, summary, changes) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    project_id,
                    run.setdefault("at", time.time()),
                    last_label_id,
                    last_review_id,
                    seconds,
                    json.dumps(run, ensure_ascii=False),
                    changes,
                ),
            )
            await _event(db, "quality.checked", None, project_id, run.get("counts", {}), None)
        return written


# One statement per batch, its rows in one JSON text: SQLite does the whole batch in one
# step with the GIL released. executemany binds every row in Python, handing the GIL back and
# forth with the busy event loop per row, which stretched each batch (and the lock every tap
# waits for). need follows target: the pick index sees new wants at once. The WHERE re-checks
# what the check's snapshot said: a reviewer may have decided since.
_UPDATE_FROM_JSON = (
    "UPDATE samples SET status = c.value ->> 1, consensus = c.value ->> 2,"
    " confidence = c.value ->> 3, target = c.value ->> 4,"
    " need = (c.value ->> 4) - n_labels - n_open"
    " FROM json_each(?) AS c"
    " WHERE samples.id = c.value ->> 0 AND samples.status != 'reviewed' AND samples.gold = 0"
)


@dataclass(frozen=True)
class SampleChanges:
    """The samples a check changed, as parallel arrays (compact: they cross a process pipe)."""

    sample_id: IntArray
    status: npt.NDArray[np.int8]  # index into STATUS_CODES
    consensus: IntArray  # option id, -1 for none
    confidence: FloatArray
    target: IntArray

    def batches(self, size: int = _WRITE_BATCH) -> list[str]:
        """The rows as JSON arrays of [id, status, consensus, confidence, target], `size` each."""
        out = []
        for start in range(0, len(self.sample_id), size):
            rows = [
                [sid, STATUS_CODES[st], None if c < 0 else c, conf, tg]
                for sid, st, c, conf, tg in zip(
                    self.sample_id[start : start + size].tolist(),
                    self.status[start : start + size].tolist(),
                    self.consensus[start : start + size].tolist(),
                    self.confidence[start : start + size].tolist(),
                    self.target[start : start + size].tolist(),
                    strict=True,
                )
            ]
            out.append(json.dumps(rows, separators=(",", ":")))
        return out


def sample_changes(
    option_ids: IntArray,
    sample_ids: IntArray,
    status: IntArray,
    consensus_idx: IntArray,
    confidence: FloatArray,
    target: IntArray,
    previous: tuple[IntArray, IntArray, IntArray] | None,
    frozen: npt.NDArray[np.bool_] | None = None,
) -> SampleChanges:
    """The samples whose status, consensus or target changed (all of them without `previous`).

    frozen: per sample, True where the write would be refused anyway (gold, or decided by a
    reviewer when loaded); those are left out so they cost no bytes and no write.
    """
    changed = np.ones(len(sample_ids), dtype=bool)
    if previous is not None:
        old_status, old_consensus, old_target = previous
        changed = (
            (status != old_status) | (consensus_idx != old_consensus) | (target != old_target)
        )
    if frozen is not None:
        changed &= ~frozen
    at = np.flatnonzero(changed)
    cons = np.where(consensus_idx >= 0, option_ids[np.maximum(consensus_idx, 0)], -1)
    return SampleChanges(
        sample_id=sample_ids[at].astype(np.int64),
        status=status[at].astype(np.int8),
        consensus=cons[at].astype(np.int64),
        confidence=confidence[at].astype(np.float64),
        target=target[at].astype(np.int64),
    )


def read_labels(path: Path | str, project_id: int) -> ProjectLabels:
    """Read a project as arrays on a read-only connection of its own (blocking).

    One read transaction, so one snapshot; in WAL mode it never blocks the bot's writes.
    Safe to call from another process. Exam answers are left out: an exam is scored on its
    own (`QualityStore.after_label`), so the check's rules see work and control answers only.
    """
    db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        db.execute("BEGIN")
        spec = db.execute("SELECT spec FROM projects WHERE id = ?", (project_id,)).fetchone()
        exam_size = ProjectSpec.model_validate_json(spec[0]).quality.exam_size if spec else 0
        opt_rows = db.execute(
            "SELECT id, idx, key FROM options WHERE project_id = ? ORDER BY idx", (project_id,)
        ).fetchall()
        idx_of_key = {key: idx for _, idx, key in opt_rows}
        idx_of_id = {oid: idx for oid, idx, _ in opt_rows}
        samples = db.execute(
            "SELECT id, truth, status, target, n_open, gold, consensus FROM samples"
            " WHERE project_id = ? ORDER BY id",
            (project_id,),
        ).fetchall()
        sample_ids = np.array([r[0] for r in samples], dtype=np.int64)
        truth = np.array([idx_of_key.get(r[1], -1) for r in samples], dtype=np.int64)
        status = np.array([STATUS_CODES.index(r[2]) for r in samples], dtype=np.int64)
        target = np.array([r[3] for r in samples], dtype=np.int64)
        n_open = np.array([r[4] for r in samples], dtype=np.int64)
        gold = np.array([bool(r[5]) for r in samples], dtype=bool)
        consensus = np.array([idx_of_id.get(r[6], -1) for r in samples], dtype=np.int64)
        reviewed = np.full(len(samples), -1, dtype=np.int64)
        counter = db.execute(
            "SELECT n FROM project_changes WHERE project_id = ?", (project_id,)
        ).fetchone()
        last_review = 0
        for rid, sid, oid in db.execute(
            "SELECT id, sample_id, option_id FROM reviews WHERE project_id = ? ORDER BY id",
            (project_id,),
        ):
            reviewed[np.searchsorted(sample_ids, sid)] = idx_of_id[oid]
            last_review = rid
        members = db.execute(
            "SELECT worker_id, suspended_at IS NOT NULL, exam_status, exam_passed_at"
            " FROM memberships WHERE project_id = ?",
            (project_id,),
        ).fetchall()
        cur = db.execute(
            "SELECT id, sample_id, worker_id, option_id, answered_at - shown_at, answered_at"
            " FROM labels WHERE project_id = ? AND retracted_at IS NULL",
            (project_id,),
        )
        chunks: list[npt.NDArray[np.float64]] = []
        while batch := cur.fetchmany(100_000):
            chunks.append(np.array(batch, dtype=np.float64))
        db.execute("COMMIT")
    finally:
        db.close()
    data = np.concatenate(chunks) if chunks else np.zeros((0, 6))
    label_ids = data[:, 0].astype(np.int64)
    if exam_size and len(data):
        data = data[~_exam_answers(data, sample_ids, gold, members, exam_size)]
    worker_raw = data[:, 2].astype(np.int64)
    worker_ids = np.unique(
        np.concatenate([worker_raw, np.array([m[0] for m in members], dtype=np.int64)])
    )
    suspended_set = {m[0] for m in members if m[1]}
    option_idx = np.zeros(max(idx_of_id, default=0) + 1, dtype=np.int64)
    for oid, idx in idx_of_id.items():
        option_idx[oid] = idx
    return ProjectLabels(
        sample_ids=sample_ids,
        truth=truth,
        reviewed=reviewed,
        status=status,
        target=target,
        n_open=n_open,
        gold=gold,
        consensus=consensus,
        task=np.searchsorted(sample_ids, data[:, 1].astype(np.int64)),
        worker=np.searchsorted(worker_ids, worker_raw),
        label=option_idx[data[:, 3].astype(np.int64)],
        seconds=data[:, 4].copy(),
        answered=data[:, 5].copy(),
        worker_ids=worker_ids,
        suspended=np.isin(worker_ids, np.array(sorted(suspended_set), dtype=np.int64)),
        n_options=len(opt_rows),
        option_ids=np.array([oid for oid, _, _ in opt_rows], dtype=np.int64),
        last_label_id=int(label_ids.max()) if len(label_ids) else 0,
        last_review_id=last_review,
        changes=int(counter[0]) if counter else 0,
    )


def _exam_answers(
    data: FloatArray,
    sample_ids: IntArray,
    gold: npt.NDArray[np.bool_],
    members: Sequence[tuple[Any, ...]],
    exam_size: int,
) -> npt.NDArray[np.bool_]:
    """Per label row (id, sample, worker, option, seconds, answered): an exam answer?"""
    since = {int(m[0]): control_since(exam_size, m[2], m[3]) for m in members}
    exam = gold[np.searchsorted(sample_ids, data[:, 1].astype(np.int64))]
    at = np.flatnonzero(exam)  # only gold answers can be exam answers: usually a few
    # A label by someone who is no longer a member: nothing says it was an exam answer.
    bar = np.array([since.get(int(w), 0.0) for w in data[at, 2]], dtype=np.float64)
    exam[at] = data[at, 5] <= bar
    return exam


def read_sample_counts(path: Path | str, project_id: int) -> SampleCounts:
    """`SAMPLE_STATES` on a read-only connection of its own (blocking)."""
    db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        return sample_counts_of(db.execute(SAMPLE_STATES, (project_id,)).fetchone())
    finally:
        db.close()


def status_names(codes: Sequence[int]) -> list[str]:
    """Status codes back to names."""
    return [STATUS_CODES[c] for c in codes]
