"""A project's labeling history written with bulk SQL: big benchmark databases in seconds."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any


def insert_history(
    con: sqlite3.Connection,
    project_id: int,
    worker_ids: Sequence[int],
    name_prefix: str,
    start: float,
    assignments: Iterable[tuple[Any, ...]],
) -> None:
    """Workers (named `name_prefix` + their index, joined at `start`), their memberships,
    'done' assignments and the labels of those.

    Run inside the caller's transaction, after the project's samples are in. Triggers only
    fire for INSERT ... 'open' and for status UPDATEs, so the history goes straight in as
    'done' assignments, (id, project_id, sample_id, worker_id, shown_at, expires_at,
    closed_at, option_id), and the labels are copied from them: what the answered trigger
    would have written, in the same order. Sample counters are the caller's to set.
    """
    con.executemany(
        "INSERT INTO workers (id, first_name, language, current_project_id, created_at)"
        " VALUES (?, ?, 'en', ?, ?)",
        ((w, f"{name_prefix}{i}", project_id, start) for i, w in enumerate(worker_ids)),
    )
    con.executemany(
        "INSERT INTO memberships (worker_id, project_id, role, joined_at)"
        " VALUES (?, ?, 'worker', ?)",
        ((w, project_id, start) for w in worker_ids),
    )
    con.executemany(
        "INSERT INTO assignments (id, project_id, sample_id, worker_id, status, shown_at,"
        " expires_at, closed_at, option_id) VALUES (?, ?, ?, ?, 'done', ?, ?, ?, ?)",
        assignments,
    )
    con.execute(
        "INSERT INTO labels (assignment_id, project_id, sample_id, worker_id, option_id,"
        " shown_at, answered_at, guide_version)"
        " SELECT id, project_id, sample_id, worker_id, option_id, shown_at, closed_at, 1"
        " FROM assignments WHERE project_id = ? AND status = 'done' ORDER BY id",
        (project_id,),
    )
