"""The quality check's read path: a project's labels as flat arrays, read on a read-only
connection of its own, and the samples a check changed, rendered for the write-back.

The check's child process (`services.check_runner`) imports this module alone from storage:
plain sqlite3 and numpy, no aiosqlite, no pydantic, no project-file models. It reads one
snapshot (WAL: never in a writer's way) and writes nothing; the bot's process writes the
results (`storage.quality.QualityStore.write_changes`).
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_WRITE_BATCH = 500  # rows per write transaction, so taps interleave with a big update
STATUS_CODES = ("open", "done", "review", "reviewed")
_EXAM_SIZE_DEFAULT = 0  # config.project.QualitySpec.exam_size's default


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


def exam_size_of(spec_json: str) -> int:
    """The exam size of a stored project spec (`ProjectSpec.model_dump_json`), read without
    validating it: the spec was validated when it was stored, and pydantic and the
    project-file models would cost the check's child process a quarter of a second to import.
    A spec stored before the quality engine existed has no [quality] table: the default then.
    """
    quality = json.loads(spec_json).get("quality") or {}
    return int(quality.get("exam_size", _EXAM_SIZE_DEFAULT))


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
        exam_size = exam_size_of(spec[0]) if spec else 0
        opt_rows = db.execute(
            "SELECT id, idx, key FROM options WHERE project_id = ? ORDER BY idx", (project_id,)
        ).fetchall()
        idx_of_key = {key: idx for _, idx, key in opt_rows}
        idx_of_id = {oid: idx for oid, idx, _ in opt_rows}
        samples = db.execute(
            "SELECT id, truth, status, target, n_open, gold, consensus FROM samples"
            " WHERE project_id = ? AND held IS NOT 'excluded' ORDER BY id",
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
            at = int(np.searchsorted(sample_ids, sid))
            if at < len(sample_ids) and sample_ids[at] == sid:  # (not an excluded sample)
                reviewed[at] = idx_of_id[oid]
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
    # Labels of samples excluded from the data (a coordinator's decision on a problem report)
    # are left out with their samples: a broken sample's labels say nothing about the workers.
    data = data[np.isin(data[:, 1].astype(np.int64), sample_ids)]
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


def status_names(codes: Sequence[int]) -> list[str]:
    """Status codes back to names."""
    return [STATUS_CODES[c] for c in codes]
