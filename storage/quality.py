"""Storage for the quality engine: gold tasks, exams, suspensions, reviews and check runs.

The computation itself is in `quality/` (pure numpy). The check reads what it needs as flat
arrays through `storage.snapshot` — on a connection of its own, in a worker thread or a child
process, so a check over a million labels never holds the bot's connection — and the results
are written back here in short transactions. Gold answers and exams are scored by the
functions of `storage.gold`, which `QualityStore` runs one step at a time.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from config.project import ProjectSpec
from storage.effects import once, remember
from storage.events import append_event
from storage.gold import Gate as Gate  # re-exported: handlers import these here
from storage.gold import GoldResult as GoldResult
from storage.gold import (
    control_score_of,
    exam_member,
    exam_score,
    gold_answer,
    queue_suspension_notices,
    read_gate,
    score_gold,
    write_exam,
    write_suspension,
)
from storage.models import Role, Sample, SampleCounts
from storage.repository import Repository
from storage.roster import reinstate_in
from storage.samples import SAMPLE_COLS, SAMPLE_STATES, sample_counts_of, sample_of
from storage.snapshot import FloatArray, IntArray, ProjectLabels, read_labels, sample_changes


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
        return await read_gate(self.repo.db, await self.spec(project_id), user_id, project_id)

    async def control_score(self, user_id: int, project_id: int) -> tuple[int, int]:
        """(answered, right) of the worker's control answers (`control_score_of`)."""
        spec = await self.spec(project_id)
        return await control_score_of(self.repo.db, user_id, project_id, spec.quality.exam_size)

    async def after_label(self, assignment_id: int, user_id: int) -> GoldResult | None:
        """After a recorded label: for a gold sample, was it right, and what follows (the
        bot's taps get this from `Taps.tap`, in the label's own transaction)."""
        answer = await gold_answer(self.repo.db, assignment_id, user_id)
        if answer is None:
            return None
        project_id, truth, given = answer
        right = next(o for o in await self.repo.options(project_id) if o.key == truth)
        spec = await self.spec(project_id)
        async with self.repo.transaction() as db:
            member = await exam_member(db, user_id, project_id)
            return await score_gold(
                db, spec, right, given, user_id, project_id, member, time.time()
            )

    async def finish_exam(self, user_id: int, project_id: int) -> GoldResult | None:
        """End an exam that has no unseen gold sample left, on the answers it has.

        A worker never sees a sample twice, so a project with fewer gold samples than the exam
        size (or a retry after all gold was seen) cannot fill the exam: it is decided on what
        this attempt answered. No answer at all: passed on a first attempt (the project has no
        gold to test with), failed on a retry (nothing new to test with).
        """
        spec = await self.spec(project_id)
        member = await exam_member(self.repo.db, user_id, project_id)
        if member is None or member[0] is not None or spec.quality.exam_size == 0:
            return None
        _, started, attempts = member
        answered, score = await exam_score(self.repo.db, user_id, project_id, started)
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
            await write_exam(db, user_id, project_id, outcome, score, answered, now)

    async def suspend(
        self, user_id: int, project_id: int, reason: str, rule: str, actor: int | None = None
    ) -> bool:
        """Suspend a worker in a project (False if they already were). The worker and the
        project's coordinators are told through the outbox, queued in the suspension's
        transaction (`queue_suspension_notices`): the check aggregates again before anyone
        would be told, and a crash or a failure then loses no notice."""
        now = time.time()
        async with self.repo.transaction() as db:
            if not await write_suspension(db, user_id, project_id, reason, rule, actor, now):
                return False
            await queue_suspension_notices(db, user_id, project_id, reason, now)
            return True

    async def reinstate(
        self, user_id: int, project_id: int, actor: int, *, update_id: int | None = None
    ) -> bool:
        """Lift a suspension or a failed exam (False if there was neither; the same update
        handled again gets what the first handling did)."""
        now = time.time()
        async with self.repo.transaction() as db:
            done = await once(db, update_id, "reinstate")
            if done is not None:
                return bool(done)
            changed = await reinstate_in(db, user_id, project_id, actor, now)
            await remember(db, update_id, "reinstate", changed, now)
        return changed

    async def members(self, project_id: int, role: Role) -> list[int]:
        """User ids with a role in the project (not the surrogates of people forgotten:
        their ids are negative, and nobody is there to tell)."""
        rows = await self.repo.all(
            "SELECT worker_id FROM memberships WHERE project_id = ? AND role = ?"
            " AND worker_id > 0",
            (project_id, role.value),
        )
        return [int(r[0]) for r in rows]

    # ------------------------------------------------------------ review queue

    async def next_review(self, project_id: int) -> tuple[Sample, dict[int, int]] | None:
        """The oldest sample waiting for a reviewer, with its labels counted per option idx."""
        row = await self.repo.one(
            f"SELECT {SAMPLE_COLS} FROM samples WHERE project_id = ? AND status = 'review'"
            " AND held IS NOT 'excluded' ORDER BY id LIMIT 1",  # (excluded: out of the data)
            (project_id,),
        )
        if row is None:
            return None
        sample = sample_of(row)
        counts = await self.repo.all(
            "SELECT o.idx, COUNT(*) FROM labels AS l JOIN options AS o ON o.id = l.option_id"
            " WHERE l.sample_id = ? AND l.retracted_at IS NULL GROUP BY o.idx",
            (sample.id,),
        )
        return sample, {int(i): int(n) for i, n in counts}

    async def decide_review(
        self, sample_id: int, reviewer_id: int, option_idx: int, *, admin: bool = False
    ) -> tuple[str, int | None]:
        """Store a reviewer's decision: ("decided"|"not_reviewer"|"closed"|"bad_option"|
        "read_only", pid). "read_only": the project is closed (or archived), and a closed
        project's data no longer changes.

        admin: the reviewer is an admin, who may decide in any project without joining it."""
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
            if role not in (Role.REVIEWER.value, Role.COORDINATOR.value) and not admin:
                return "not_reviewer", project_id
            if status != "review":
                return "closed", project_id
            async with db.execute(
                "SELECT state FROM project_life WHERE project_id = ?", (project_id,)
            ) as cur:
                life = await cur.fetchone()
            if life is not None and life[0] in ("closed", "archived"):
                return "read_only", project_id
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
            await append_event(
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
        row = await self.repo.one(
            "SELECT COUNT(*) FROM (SELECT 1 FROM labels WHERE project_id = ? LIMIT ?)",
            (project_id, upto),
        )
        return int(row[0]) if row else 0

    async def review_count(self, project_id: int) -> int:
        """Samples waiting for a reviewer."""
        row = await self.repo.one(
            "SELECT COUNT(*) FROM samples WHERE project_id = ? AND status = 'review'"
            " AND held IS NOT 'excluded'",
            (project_id,),
        )
        return int(row[0]) if row else 0

    # ------------------------------------------------------------ checks

    async def last_run(self, project_id: int) -> tuple[int, int, dict[str, Any]] | None:
        """(last label id, last review id, summary) of the project's latest check."""
        row = await self.repo.one(
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
        row = await self.repo.one(
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
        for batch in batches:
            # One statement in autocommit mode is its own transaction (like record_label's):
            # one trip to the connection's thread, with the GIL released while SQLite works.
            # (BEGIN/UPDATE/COMMIT would hold the lock for three turns of a busy event loop;
            # executescript runs SQLite holding the GIL, stalling the loop for each batch.)
            async with self.repo.locked() as db:
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
            await append_event(
                db, "quality.checked", None, project_id, run.get("counts", {}), None
            )
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


def read_sample_counts(path: Path | str, project_id: int) -> SampleCounts:
    """`SAMPLE_STATES` on a read-only connection of its own (blocking)."""
    db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        return sample_counts_of(db.execute(SAMPLE_STATES, (project_id,)).fetchone())
    finally:
        db.close()
